import { canonicalize } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check } from '../schema/check.js';
import { toOpenApiComponents } from '../schema/emit.js';
import { type AlertmanagerWebhook, intakeAlertmanager } from './alertmanager.js';
import { intakeArgoCD } from './argocd.js';
import { envelopeDedupKey, IncidentSignalEnvelopeSchema, intakeEnvelope } from './envelope.js';
import { type GithubIntakeContext, intakeGithub } from './github.js';
import { intakeKubernetes } from './kubernetes.js';
import { INTAKE_BODY_SCHEMAS } from './registry.js';
import { fixture, opened } from './test-helpers/fixtures.js';
import type { IntakeContext, IntakeResult } from './types.js';

type Run = (ctx: IntakeContext) => IntakeResult;

const RUNS: Record<string, Run> = {
  'alertmanager/firing-group': (c) => intakeAlertmanager(fixture('alertmanager/firing-group.json'), c),
  'alertmanager/resolved-group': (c) => intakeAlertmanager(fixture('alertmanager/resolved-group.json'), c),
  'alertmanager/image-pull-backoff': (c) =>
    intakeAlertmanager(fixture('alertmanager/image-pull-backoff.json'), c),
  'argocd/template': (c) => intakeArgoCD(fixture('argocd/template-sync-failed-configmap.json'), c),
  'argocd/application': (c) => intakeArgoCD(fixture('argocd/application-sync-failed-signature.json'), c),
  'github/workflow_run': (c) =>
    intakeGithub(fixture('github/workflow-run-failure.json'), {
      ...c,
      event: 'workflow_run',
      deliveryId: 'a-1',
    }),
  'github/check_run': (c) =>
    intakeGithub(fixture('github/check-run-failure.json'), {
      ...c,
      event: 'check_run',
      deliveryId: 'b-2',
    } satisfies GithubIntakeContext),
  'kubernetes/core': (c) => intakeKubernetes(fixture('kubernetes/core-v1-missing-configmap-key.json'), c),
  'kubernetes/pull': (c) => intakeKubernetes(fixture('kubernetes/core-v1-image-pull-failed.json'), c),
  'kubernetes/events-v1': (c) => intakeKubernetes(fixture('kubernetes/events-v1-quota-exceeded.json'), c),
  'kubernetes/list': (c) => intakeKubernetes(fixture('kubernetes/event-list-mixed.json'), c),
  envelope: () => intakeEnvelope(fixture('envelope/incident-signal.json')),
};

/** Any clock from 2000 to 2100 and any id generator. */
const ctxArb = fc
  .record({
    ms: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }),
    ids: fc.infiniteStream(fc.uuid()),
    cluster: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
  })
  .map(({ ms, ids, cluster }): IntakeContext => {
    const it = ids[Symbol.iterator]();
    return {
      now: () => new Date(ms),
      newId: () => it.next().value ?? 'x',
      ...(cluster === undefined ? {} : { cluster }),
    };
  });

const keys = (r: IntakeResult) => r.items.map((i) => `${i.action} ${i.dedup_key} ${i.correlation_key}`);

describe('intake laws', () => {
  it('gives every delivery of a payload the same keys, whatever the clock and ids', () => {
    for (const [name, run] of Object.entries(RUNS)) {
      const reference = keys(run({ now: () => new Date(0), newId: () => 'fixed' }));
      fc.assert(
        fc.property(ctxArb, (ctx) => {
          expect(keys(run(ctx)), name).toEqual(reference);
        }),
        { numRuns: 25 },
      );
    }
  });

  it('keys Alertmanager alerts the same in any order and with any repeats', () => {
    const base = fixture('alertmanager/firing-group.json') as AlertmanagerWebhook;
    const ctx = (): IntakeContext => ({ now: () => new Date(0), newId: () => 'i' });
    const expected = new Set(intakeAlertmanager(base, ctx()).items.map((i) => i.dedup_key));
    fc.assert(
      fc.property(fc.array(fc.nat(base.alerts.length - 1), { minLength: 1, maxLength: 12 }), (picks) => {
        const body = { ...base, alerts: picks.map((p) => base.alerts[p]) };
        const r = intakeAlertmanager(body, ctx());
        const got = new Set(r.items.map((i) => i.dedup_key));
        for (const k of got) expect(expected.has(k)).toBe(true);
        expect(r.items.length + r.ignored.length).toBe(picks.length);
        expect(got.size).toBe(r.items.length);
      }),
    );
  });

  it('produces envelopes the native intake accepts and that have a canonical form', () => {
    for (const [name, run] of Object.entries(RUNS)) {
      for (const item of opened(
        run({ now: () => new Date('2026-11-25T00:00:00Z'), newId: () => 'id' }).items,
      )) {
        const r = check(IncidentSignalEnvelopeSchema, item.envelope);
        expect(r.ok ? [] : r.issues, name).toEqual([]);
        // An adapter's envelope carries its dedup key; a native envelope's key is the sender's,
        // kept apart from the other sources' keys under `envelope:`.
        const idempotency = item.envelope.meta.idempotency_key;
        expect(name === 'envelope' ? envelopeDedupKey(idempotency) : idempotency).toBe(item.dedup_key);
        expect(() => canonicalize(item.envelope), name).not.toThrow();
      }
    }
  });

  it('emits OpenAPI components whose every $ref resolves', () => {
    const components = toOpenApiComponents(Object.values(INTAKE_BODY_SCHEMAS));
    for (const name of [
      'AlertmanagerWebhook',
      'ArgoCDWebhook',
      'GithubWebhook',
      'KubernetesWebhook',
      'IncidentSignalEnvelope',
    ]) {
      expect(components).toHaveProperty(name);
    }
    const text = JSON.stringify(components);
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(components).toHaveProperty(ref);
  });
});
