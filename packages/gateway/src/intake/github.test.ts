import { createHmac } from 'node:crypto';
import { type AapsError, VerificationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { statusOf } from '../middleware/errors.js';
import { type GithubIntakeContext, intakeGithub } from './github.js';
import { signGithubPayload, verifyGithubSignature } from './github-signature.js';
import {
  fixture,
  fixtureBytes,
  invalidFields,
  mutable,
  opened,
  testContext,
} from './test-helpers/fixtures.js';

const DELIVERY = '8d3f1a20-ca1e-11ef-9b7e-5c2e4a1d6f30';

function ctx(event: string | undefined, deliveryId: string | undefined = DELIVERY): GithubIntakeContext {
  return { ...testContext(), event, deliveryId };
}

describe('intakeGithub', () => {
  it('opens an incident for a failed workflow run, keyed by the delivery id', () => {
    const r = intakeGithub(fixture('github/workflow-run-failure.json'), ctx('workflow_run'));
    const [item] = opened(r.items);
    expect(r.items).toHaveLength(1);
    expect(item?.dedup_key).toBe(`github:${DELIVERY}`);
    expect(item?.envelope.meta.idempotency_key).toBe(`github:${DELIVERY}`);
    // The run's check suite: a job's check run answers to it, so this run joins that job's incident.
    expect(item?.correlation_key).toBe('github:acme/shop-deploy:check_suite:31098712345');
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'unknown',
      affected_resources: [
        'repository://github.com/acme/shop-deploy',
        'commit://github.com/acme/shop-deploy@4e1d9a7c3b2f60d58e9a1c7b4f3e2d6a0c9b8e71',
      ],
      evidence_refs: [
        'github://acme/shop-deploy/workflow_run/12034987215',
        'https://github.com/acme/shop-deploy/actions/runs/12034987215',
      ],
      metadata: {
        source: 'github',
        github_event: 'workflow_run',
        delivery_id: DELIVERY,
        name: 'deploy-prod',
        head_branch: 'main',
        run_attempt: 2,
        conclusion: 'failure',
        // A run names no namespace; none is guessed (`context.namespace` only fills the field).
        namespace: null,
      },
    });
  });

  it('correlates a workflow run that names no check suite on the run itself', () => {
    const body = fixture('github/workflow-run-failure.json') as { workflow_run: Record<string, unknown> };
    delete body.workflow_run['check_suite_id'];
    const [item] = opened(intakeGithub(body, ctx('workflow_run')).items);
    expect(item?.correlation_key).toBe('github:acme/shop-deploy:workflow_run:12034987215:2');
    expect(item?.envelope.payload.metadata).not.toHaveProperty('check_suite_id');
  });

  it('reads a failed signature check from a check run', () => {
    const [item] = opened(intakeGithub(fixture('github/check-run-failure.json'), ctx('check_run')).items);
    // The job itself (another job of its suite is another failure), answering to its suite too.
    expect(item?.correlation_key).toMatch(/^github:acme\/shop-deploy:check_run:/);
    expect(item?.joinable_by).toEqual(['github:acme/shop-deploy:check_suite:31087654321']);
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'image_signature_failed',
      metadata: {
        github_event: 'check_run',
        app: 'github-actions',
        check_suite_id: 31087654321,
        signature_denial: { controller: 'cosign' },
      },
    });
    expect(item?.envelope.payload.affected_resources).toContain(
      'image://registry.example.net/shop/web@sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d',
    );
  });

  it('accepts and ignores other events, actions and conclusions', () => {
    const ignoredBy = (body: unknown, event: string) => {
      const r = intakeGithub(body, ctx(event));
      expect(r.items).toEqual([]);
      return r.ignored;
    };
    expect(ignoredBy(fixture('github/ping.json'), 'ping')).toEqual([
      { ref: '$', reason: 'event_not_handled' },
    ]);
    const inProgress = mutable('github/workflow-run-failure.json');
    inProgress['action'] = 'in_progress';
    expect(ignoredBy(inProgress, 'workflow_run')).toEqual([{ ref: '$', reason: 'action_not_handled' }]);
    const success = mutable('github/check-run-failure.json') as { check_run: Record<string, unknown> };
    success.check_run['conclusion'] = 'success';
    expect(ignoredBy(success, 'check_run')).toEqual([{ ref: '$', reason: 'not_a_failure' }]);
  });

  it('gives a redelivery the same key', () => {
    const a = intakeGithub(fixture('github/workflow-run-failure.json'), ctx('workflow_run'));
    const b = intakeGithub(fixture('github/workflow-run-failure.json'), {
      ...ctx('workflow_run'),
      now: () => new Date('2027-02-03T04:05:06Z'),
    });
    expect(b.items[0]?.dedup_key).toBe(a.items[0]?.dedup_key);
  });

  it('names missing headers and malformed fields', () => {
    expect(
      [
        ...invalidFields(() =>
          intakeGithub(fixture('github/workflow-run-failure.json'), {
            ...testContext(),
            event: undefined,
            deliveryId: undefined,
          }),
        ),
      ].sort(),
    ).toEqual(['headers.x-github-delivery', 'headers.x-github-event']);
    const body = mutable('github/workflow-run-failure.json') as {
      workflow_run: Record<string, unknown>;
      repository: Record<string, unknown>;
    };
    body.workflow_run['head_sha'] = 'not-a-sha';
    body.workflow_run['id'] = '12034987215';
    delete body.repository['full_name'];
    expect([...invalidFields(() => intakeGithub(body, ctx('workflow_run')))].sort()).toEqual(
      ['repository.full_name', 'workflow_run.head_sha', 'workflow_run.id'].sort(),
    );
    expect(invalidFields(() => intakeGithub('ping', ctx('ping')))).toEqual(['$']);
  });
});

describe('verifyGithubSignature', () => {
  const secret = 'It’s a Secret to Everybody';
  const body = fixtureBytes('github/workflow-run-failure.json');
  const good = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

  function failure(
    header: string | undefined,
    raw: Uint8Array = body,
    key = secret,
  ): { code: string; check: string } {
    try {
      verifyGithubSignature(raw, header, key);
    } catch (e) {
      expect(e).toBeInstanceOf(VerificationError);
      if (e instanceof VerificationError) return { code: e.code, check: e.check };
    }
    return { code: 'none', check: 'none' };
  }

  it('accepts the HMAC-SHA256 of the raw body, in either hex case', () => {
    expect(() => verifyGithubSignature(body, good, secret)).not.toThrow();
    expect(() =>
      verifyGithubSignature(body, good.toUpperCase().replace('SHA256=', 'sha256='), secret),
    ).not.toThrow();
    expect(signGithubPayload(body, secret)).toBe(good);
  });

  it('matches the example in GitHub’s documentation', () => {
    // docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody", body "Hello, World!".
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(() =>
      verifyGithubSignature(new TextEncoder().encode('Hello, World!'), header, "It's a Secret to Everybody"),
    ).not.toThrow();
  });

  it('refuses a changed body, a wrong secret and a flipped digit', () => {
    const changed = body.slice();
    changed[10] = (changed[10] ?? 0) ^ 1;
    expect(failure(good, changed)).toEqual({ code: 'INVALID_SIGNATURE', check: 'github.signature' });
    expect(failure(good, body, 'another secret')).toEqual({
      code: 'INVALID_SIGNATURE',
      check: 'github.signature',
    });
    const flipped = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    expect(failure(flipped).code).toBe('INVALID_SIGNATURE');
  });

  it('refuses a missing header as UNAUTHENTICATED, a malformed one as INVALID_SIGNATURE (both 401)', () => {
    expect(failure(undefined)).toEqual({ code: 'UNAUTHENTICATED', check: 'github.signature' });
    expect(failure('')).toEqual({ code: 'UNAUTHENTICATED', check: 'github.signature' });
    expect(failure(good.slice(0, -2)).code).toBe('INVALID_SIGNATURE');
    expect(failure(`${good}00`).code).toBe('INVALID_SIGNATURE');
    expect(failure(good.replace('sha256=', 'sha1=')).code).toBe('INVALID_SIGNATURE');
    expect(failure(`sha256=${'zz'.repeat(32)}`).code).toBe('INVALID_SIGNATURE');
    const messages = [undefined, 'sha1=abc', good.slice(0, -1) + (good.endsWith('0') ? '1' : '0')].map(
      (h) => {
        try {
          verifyGithubSignature(body, h, secret);
        } catch (e) {
          expect(statusOf(e as AapsError)).toBe(401);
          return (e as Error).message;
        }
        return '';
      },
    );
    expect(messages).toEqual([
      expect.stringMatching(/X-Hub-Signature-256 is missing: .*secret/),
      expect.stringMatching(
        /malformed: expected sha256= and 64 hex digits \(a SHA-1 signature is not accepted\)/,
      ),
      expect.stringMatching(/does not match the body/),
    ]);
  });

  it('refuses to run with an empty secret', () => {
    expect(() => verifyGithubSignature(body, good, '')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
