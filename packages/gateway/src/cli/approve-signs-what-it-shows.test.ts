/**
 * `aaps approve` signs only what it shows. The human approval names `proposal_digest` and
 * `incident_id`: the CLI recomputes the digest from the proposal it prints and checks the proposal
 * is for the incident typed, so a gateway (or anything between) cannot show one change and collect
 * a signature over another; it prints the proposal before signing, and signs only once a person
 * said yes on a terminal, or a script's `--digest PREFIX` matches (or `--yes`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApprovalProposal, loadOrCreateIdentityKey, type ProposalCore } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { type ApproveOptions, runApprove, takeApproveFlags } from './approve.js';
import { UsageError } from './usage-error.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-approve-bind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, 'oncall.key');
loadOrCreateIdentityKey(keyFile, true, 'approver');

function config(): GatewayConfig {
  const parsed = parseGatewayConfig(
    ['--url', 'http://gw.test', '--data-dir', dir, '--approver', 'oncall', '--approver-key', keyFile],
    {},
  );
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

function core(incident: string, target: string): ProposalCore {
  return {
    incident_id: incident,
    action: 'rbac_changes',
    target,
    parameters: { verb: 'get' },
    evidence_refs: [],
    risk: {
      score: 40,
      method: 'aaps.risk.v1',
      factors: { blast_radius: 1, urgency: 'P2', environment: 'production' },
    },
  };
}

/**
 * A gateway that answers the GET with `shown`, records POSTs, and ends the event stream at once;
 * `said` is everything printed, posted or asked, in order.
 */
function gateway(shown: unknown, answer?: string) {
  const posted: { url: string; body: { payload: { proposal_digest: string; incident_id: string } } }[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const said: string[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const u = String(url);
    if (init?.method === 'POST') {
      posted.push({ url: u, body: JSON.parse(String(init.body)) });
      said.push('POST');
      return Response.json({ ok: true }, { status: 202 });
    }
    if (u.endsWith('/events'))
      return new Response('event: end\ndata: {"state":"resolved","evidence_id":"e"}\n\n', {
        headers: { 'content-type': 'text/event-stream' },
      });
    return Response.json({ state: 'awaiting_human', timeline: [], proposal: shown });
  }) as typeof globalThis.fetch;
  const io = {
    print: (l: string) => {
      out.push(l);
      said.push(l);
    },
    error: (l: string) => void err.push(l),
    fetch,
    ...(answer === undefined
      ? {}
      : {
          ask: async (q: string) => {
            said.push(`ASK ${q}`);
            return answer;
          },
        }),
  };
  return { posted, out, err, said, io };
}

const good = buildApprovalProposal(core('inc-1', 'rolebinding://team-a/read-only'));
const approve = (g: ReturnType<typeof gateway>, options?: ApproveOptions) =>
  runApprove('inc-1', config(), 't', g.io, options);

describe('aaps approve refuses a proposal that is not the one it would sign', () => {
  it('refuses a proposal whose proposal_digest is not the digest of the proposal it prints', async () => {
    const real = buildApprovalProposal(
      core('inc-1', 'clusterrolebinding://kube-system/give-me-cluster-admin'),
    );
    const shown = {
      ...buildApprovalProposal(core('inc-1', 'rolebinding://team-a/read-only')),
      proposal_digest: real.proposal_digest,
    };
    const g = gateway(shown);
    const code = await approve(g, { yes: true });
    expect(g.posted).toEqual([]);
    expect(code).toBe(1);
    expect(g.err).toHaveLength(1);
    expect(g.err[0]).toMatch(/^aaps: not signed: .* names digest [0-9a-f]{64}, but its content's digest is /);
  });

  it('refuses a proposal for another incident than the one asked for', async () => {
    const other = buildApprovalProposal(core('inc-OTHER', 'rolebinding://team-a/read-only'));
    const g = gateway(other);
    const code = await approve(g, { yes: true });
    expect(g.posted).toEqual([]);
    expect(code).toBe(1);
    expect(g.err).toEqual(["aaps: not signed: the gateway's proposal is for incident inc-OTHER, not inc-1"]);
  });

  it('refuses a proposal that does not parse', async () => {
    const g = gateway({ ...good, surprise: true });
    expect(await approve(g, { yes: true })).toBe(1);
    expect(g.posted).toEqual([]);
    expect(g.err[0]).toMatch(/^aaps: not signed: the gateway's proposal for inc-1 is malformed/);
  });
});

describe('aaps approve shows the proposal, then signs only once confirmed', () => {
  it('--digest PREFIX of the digest shown: prints the proposal, then signs and posts it', async () => {
    const g = gateway(good);
    expect(await approve(g, { digest: good.proposal_digest.slice(0, 16) })).toBe(0);
    expect(g.posted.map((p) => p.body.payload.proposal_digest)).toEqual([good.proposal_digest]);
    const post = g.said.indexOf('POST');
    const shown = g.said.slice(0, post).join('\n');
    for (const part of [
      'rbac_changes',
      'rolebinding://team-a/read-only',
      '{"verb":"get"}',
      '40',
      good.proposal_digest,
    ])
      expect(shown).toContain(part);
    expect(g.out).toContain(
      'inc-1  approved rbac_changes on rolebinding://team-a/read-only as oncall (valid 3600 s)',
    );
  });

  it('a --digest that the digest does not start with: one line, nothing signed', async () => {
    const g = gateway(good);
    expect(await approve(g, { digest: '0123456789abcdef' })).toBe(1);
    expect(g.posted).toEqual([]);
    expect(g.err).toEqual([
      `aaps: not signed: the proposal's digest ${good.proposal_digest} does not start with --digest 0123456789abcdef`,
    ]);
  });

  it('no terminal and neither --digest nor --yes: a usage error after the proposal is shown, nothing signed', async () => {
    const g = gateway(good);
    await expect(approve(g)).rejects.toThrow(UsageError);
    expect(g.out.join('\n')).toContain(good.proposal_digest);
    expect(g.posted).toEqual([]);
  });

  it.each([
    ['y', 1],
    ['yes', 1],
    ['n', 0],
    ['', 0],
  ])('on a terminal, answering %j signs %i approval(s), after the question', async (answer, signed) => {
    const g = gateway(good, answer);
    expect(await approve(g)).toBe(signed === 1 ? 0 : 1);
    expect(g.posted).toHaveLength(signed);
    const asked = g.said.findIndex((l) =>
      l.startsWith('ASK approve rbac_changes on rolebinding://team-a/read-only'),
    );
    expect(asked).toBeGreaterThan(g.said.findIndex((l) => l.includes(good.proposal_digest)));
    if (signed === 1) expect(g.said.indexOf('POST')).toBeGreaterThan(asked);
    else expect(g.err).toEqual(['aaps: not approved; nothing signed']);
  });

  it('a target and parameters with terminal control sequences are printed escaped', async () => {
    const hostile = buildApprovalProposal({
      ...core('inc-1', 'rolebinding://team-a/\u001b[2K\rread-only\u202e'),
      parameters: { note: '\u001b]0;x\u0007\u009b' },
    });
    const g = gateway(hostile);
    expect(await approve(g, { yes: true })).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what is looked for
    for (const line of g.out) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(g.out.join('\n')).toContain('rolebinding://team-a/\\u001b[2K\\u000dread-only\\u202e');
  });
});

describe('aaps approve flags', () => {
  it('--digest takes 16 to 64 lower-case hex characters; --yes and --digest do not go with --reject', () => {
    expect(takeApproveFlags(['inc-1', '--digest', 'abcdef0123456789']).digest).toBe('abcdef0123456789');
    expect(takeApproveFlags(['inc-1', '--yes'])).toEqual({ rest: ['inc-1'], yes: true });
    expect(() => takeApproveFlags(['inc-1', '--digest', 'abcdef'])).toThrow(
      /--digest: expected the first 16/,
    );
    expect(() => takeApproveFlags(['inc-1', '--digest=ABCDEF0123456789'])).toThrow(/--digest/);
    expect(() => takeApproveFlags(['inc-1', '--reject', '--reason', 'no', '--yes'])).toThrow(
      '--yes and --digest go with an approval, not --reject',
    );
  });
});
