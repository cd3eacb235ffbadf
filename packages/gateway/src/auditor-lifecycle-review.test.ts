/**
 * Review (offline auditor): evidence bundles from every way an incident can end, produced by the
 * real gateway (in-process parties), checked the way an auditor who never saw this code would:
 * aaps-verify CLI with the served trusted root, @sigstore/verify on the Sigstore export, the
 * docs/evidence.md OpenSSL recipe run literally, the predicate against the gateway's own record,
 * and cross-incident tampering.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildBundleInput, buildBundle } from '@aaps/evidence';
import {
  AapsError,
  aggregate,
  base64Decode,
  commit,
  getCiphersuite,
  hexToBytes,
  KeyPackageCodec,
  PublicKeyPackageCodec,
  type SignedEnvelope,
  signEnvelope,
  signShare,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDryRunExecutor } from './executor/dry-run.js';
import { createGitopsExecutor } from './executor/gitops.js';
import type { Executor } from './executor/types.js';
import {
  approvalEnvelope,
  delegating,
  fixture,
  incident,
  json,
  makeGateway,
  rejectionEnvelope,
  request,
  SIGNALS,
  signalEnvelope,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const VERIFY = join(ROOT, 'packages', 'evidence', 'dist', 'cli', 'aaps-verify.js');
const DOC = join(ROOT, 'docs', 'evidence.md');

function _recipe(): string {
  const m = /<!-- openssl-recipe:start -->\n```bash\n([\s\S]*?)```\n<!-- openssl-recipe:end -->/.exec(
    readFileSync(DOC, 'utf8'),
  );
  return m![1]!;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON read back from the API, checked field by field
type Json = Record<string, any>;
interface Case {
  name: string;
  gw: TestGateway;
  id: string;
  inc: Json;
  bundle: Json;
  sigstore: Json;
  root: Json;
  statement: Json;
  dir: string;
}

const work = mkdtempSync(join(tmpdir(), 'aaps-auditor-'));
const gateways: TestGateway[] = [];
const cases = new Map<string, Case>();
let repo = '';

async function finish(name: string, gw: TestGateway, id: string): Promise<Case> {
  await gw.runner.idle();
  const inc = await incident(gw, id);
  const evidenceId = inc['evidence_id'];
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  let bundle: Json = {};
  let sigstore: Json = {};
  let statement: Json = {};
  if (typeof evidenceId === 'string') {
    bundle = await json(await request(gw, 'GET', `/v1/evidence/${evidenceId}`, { token: TOKENS.read }));
    sigstore = await json(
      await request(gw, 'GET', `/v1/evidence/${evidenceId}/sigstore`, { token: TOKENS.read }),
    );
    statement = JSON.parse(Buffer.from(bundle['dsseEnvelope'].payload, 'base64').toString('utf8'));
  }
  const root = await json(await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read }));
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle, null, 2));
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(root));
  writeFileSync(join(dir, 'incident.json'), JSON.stringify(inc, null, 2));
  writeFileSync(join(dir, 'statement.json'), JSON.stringify(statement, null, 2));
  const c = { name, gw, id, inc, bundle, sigstore, root, statement, dir };
  cases.set(name, c);
  return c;
}

async function submit(gw: TestGateway, body: unknown): Promise<string> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return String((await json(res))['incident_id']);
}

async function gateway(opts: Parameters<typeof makeGateway>[0] = {}): Promise<TestGateway> {
  const gw = await makeGateway(opts);
  gateways.push(gw);
  return gw;
}

/** Executor whose apply fails; rollback done or not. */
function failingApply(rollbackDone: boolean): Executor {
  const dry = createDryRunExecutor({ now: () => new Date() });
  return {
    ...dry,
    name: dry.name,
    apply: async () => {
      throw new AapsError('UNAVAILABLE', 'the API server refused the change');
    },
    rollback: async (...a: Parameters<typeof dry.rollback>) =>
      rollbackDone ? dry.rollback(...a) : { done: false, detail: 'revert did not apply' },
  };
}

/** Executor whose change applies but whose post-checks fail (quality assurance should veto). */
function failingPostChecks(rollbackDone: boolean): Executor {
  const dry = createDryRunExecutor({ now: () => new Date() });
  return {
    ...dry,
    name: dry.name,
    apply: async (order) => {
      const applied = await dry.apply(order);
      return { ...applied, post_checks: [{ name: 'pods-ready', passed: false, detail: '0/3 pods ready' }] };
    },
    rollback: async (...a: Parameters<typeof dry.rollback>) =>
      rollbackDone ? dry.rollback(...a) : { done: false, detail: 'revert did not apply' },
  };
}

beforeAll(async () => {
  // 1. resolved, dry run
  {
    const gw = await gateway();
    await finish('resolved-dry-run', gw, await submit(gw, SIGNALS.quota()));
    // a second incident on the same gateway (for cross-incident tampering and old/new checkpoints)
    await finish('resolved-dry-run-2', gw, await submit(gw, SIGNALS.imageSignature()));
  }
  // 2. resolved, gitops on a real repository
  {
    repo = mkdtempSync(join(tmpdir(), 'aaps-auditor-repo-'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
    git('init', '--quiet', '--initial-branch=main');
    mkdirSync(join(repo, 'shop/resourcequota'), { recursive: true });
    writeFileSync(
      join(repo, 'shop/resourcequota/compute-resources.json'),
      `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute-resources', namespace: 'shop' }, spec: { hard: { 'limits.memory': '8Gi' } } }, null, 2)}\n`,
    );
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '--quiet', '-m', 'initial');
    const gw = await gateway({ executor: createGitopsExecutor({ repoDir: repo, now: () => new Date() }) });
    const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
      token: TOKENS.submit,
      body: fixture('kubernetes/events-v1-quota-exceeded.json'),
    });
    const id = ((await json(res))['incidents'] as { incident_id: string }[])[0]!.incident_id;
    await finish('resolved-gitops', gw, id);
  }
  // 3. execution fails, rolled back
  {
    const gw = await gateway({ executor: failingApply(true) });
    await finish('rolled-back-exec-failed', gw, await submit(gw, SIGNALS.quota()));
  }
  // 4. execution fails, rollback fails -> failed
  {
    const gw = await gateway({ executor: failingApply(false) });
    await finish('failed-exec-and-rollback', gw, await submit(gw, SIGNALS.quota()));
  }
  // 5. QA vetoes (post-checks fail), rolled back
  {
    const gw = await gateway({ executor: failingPostChecks(true) });
    await finish('rolled-back-qa-veto', gw, await submit(gw, SIGNALS.quota()));
  }
  // 6. QA vetoes, rollback fails -> failed
  {
    const gw = await gateway({ executor: failingPostChecks(false) });
    await finish('failed-qa-veto', gw, await submit(gw, SIGNALS.quota()));
  }
  // 7. QA unreachable (refuses input): rolled back by the gateway
  {
    const gw = await gateway({
      wrap: (c) =>
        delegating(c, {
          agentStep: (role, input) =>
            role === 'quality-assurance'
              ? Promise.reject(new AapsError('INVALID_ARGUMENT', 'input: malformed for this step'))
              : c.agentStep(role, input),
        }),
    });
    await finish('rolled-back-qa-refused', gw, await submit(gw, SIGNALS.quota()));
  }
  // 8/9. human rejects; human approves a high-risk (rbac) action; unknown class to a human
  {
    const gw = await gateway();
    const rej = await submit(gw, SIGNALS.rbac());
    await gw.runner.idle();
    const reason = 'not during the freeze';
    const r = await request(gw, 'POST', `/v1/approvals/${rej}`, {
      token: TOKENS.approve,
      body: rejectionEnvelope(rej, gw.approverKey, reason),
    });
    expect(r.status).toBe(202);
    await finish('rejected-by-human', gw, rej);

    const other = SIGNALS.rbac();
    other.payload['affected_resources'] = ['serviceaccount://shop/other-deployer'];
    const app = await submit(gw, other);
    await gw.runner.idle();
    const waiting = await incident(gw, app);
    expect(waiting['state']).toBe('awaiting_human');
    const a = await request(gw, 'POST', `/v1/approvals/${app}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(waiting['proposal'] as Parameters<typeof approvalEnvelope>[0], gw.approverKey),
    });
    expect(a.status).toBe(202);
    await finish('approved-by-human', gw, app);

    const unk = await submit(
      gw,
      signalEnvelope({
        affected_resources: ['node://cluster/node-7'],
        metadata: { reason: 'NodeNotReady', messages: ['kubelet stopped posting node status'] },
      }),
    );
    await gw.runner.idle();
    expect((await incident(gw, unk))['state']).toBe('awaiting_human');
    await request(gw, 'POST', `/v1/approvals/${unk}`, {
      token: TOKENS.approve,
      body: rejectionEnvelope(unk, gw.approverKey, 'node team owns it'),
    });
    await finish('unknown-rejected-by-human', gw, unk);
  }
  // 11. ended by its source while waiting for a person (Alertmanager resolves the alert)
  {
    const gw = await gateway();
    const firing = fixture('alertmanager/image-pull-backoff.json') as { alerts: Json[] };
    for (const a of [firing.alerts[0]!]) {
      a['labels'] = { ...a['labels'], alertname: 'NodeNotReady', reason: 'NodeNotReady' };
    }
    const first = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
      token: TOKENS.submit,
      body: firing,
    });
    const id = ((await json(first))['incidents'] as { incident_id: string }[])[0]!.incident_id;
    await gw.runner.idle();
    const next = structuredClone(firing);
    next.alerts[0]!['status'] = 'resolved';
    next.alerts[0]!['endsAt'] = '2026-11-25T10:02:00Z';
    await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body: next });
    await finish('resolved-by-source', gw, id);
  }
  // 12. failed before any change: the problem solver refuses its input
  {
    const gw = await gateway({
      config: { stepRetrySeconds: 0.2 },
      wrap: (c) =>
        delegating(c, {
          agentStep: (role, input) =>
            role === 'problem-solver'
              ? Promise.reject(new AapsError('INVALID_ARGUMENT', 'input: malformed for this step'))
              : c.agentStep(role, input),
        }),
    });
    await finish('failed-before-change', gw, await submit(gw, SIGNALS.quota()));
  }
  // 13. rejected by the parties: strategy refuses a pooled reference no party took part in
  {
    const gw = await gateway({
      config: { poolRisk: true },
      wrap: (c) =>
        delegating(c, {
          poolRisk: async () => ({
            ref: {
              circuit: 'weighted-risk',
              session_id: 'risk-made-up',
              output_digest: 'ab'.repeat(32),
              value: 30,
            },
            record: {},
          }),
        }),
    });
    await finish('rejected-by-parties', gw, await submit(gw, SIGNALS.quota()));
  }
  // 10. sealed fields
  {
    const gw = await gateway({ config: { sealing: {} } });
    await finish(
      'sealed',
      gw,
      await submit(
        gw,
        SIGNALS.quota({
          secret: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'db' },
            data: { password: 'canary-secret-7f3a' },
          },
        }),
      ),
    );
  }
}, 240_000);

afterAll(async () => {
  for (const gw of gateways) await gw.cleanup();
  rmSync(repo, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const _CHECKS = [
  'bundle.format',
  'dsse.keyid',
  'dsse.signature',
  'statement.format',
  'statement.subject',
  'transcript.signature',
  'approval.signature',
  'transcript.authority',
  'transcript.outcome',
  'signers.threshold',
  'aggregation',
  'log.checkpoint',
  'log.inclusion',
  'log.consistency',
];

function cli(bundle: Json | string, rootFile: string, ...extra: string[]) {
  let file: string;
  if (typeof bundle === 'string') file = bundle;
  else {
    file = join(work, `t-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(bundle));
  }
  const r = spawnSync(process.execPath, [VERIFY, file, '--trusted-root', rootFile, ...extra], {
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout + r.stderr, stdout: r.stdout };
}

/**
 * The group's signature over any message, made from the test gateway's dealt key shares without
 * asking the parties (what k shares, held together, could sign: any k make the same signature).
 */
function groupSigner(gw: TestGateway): (message: Uint8Array) => Promise<Uint8Array> {
  const m = gw.coordinator.exportMaterial();
  const suite = getCiphersuite(m.ciphersuite);
  const pub = PublicKeyPackageCodec.decode(base64Decode(m.public_package), m.ciphersuite).value;
  const quorum = m.key_packages
    .slice(0, pub.threshold.min)
    .map((k) => KeyPackageCodec.decode(base64Decode(k), m.ciphersuite).value);
  return async (message) => {
    const nonces = quorum.map((kp) => commit(suite, kp));
    const pkg = { commitments: nonces.map((n) => n.commitment), message };
    const shares = quorum.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, pub));
    return aggregate(suite, pkg, shares, pub);
  };
}

/**
 * A case's bundle sealed again, its predicate (a copy) changed by `edit.predicate`, and its audit
 * summary (the audit party's signed `EvidenceBundleRef`) by `edit.summary`, then re-signed with the
 * audit party's key: signed k-of-n under the group key and appended to the gateway's log, so it
 * holds in every check but those that read what was changed.
 */
async function reseal(
  c: Case,
  edit: { predicate?: (p: Json) => void; summary?: (s: Json) => void },
): Promise<Json> {
  const p = structuredClone(c.statement['predicate']) as Json;
  edit.predicate?.(p);
  const transcript = structuredClone(c.bundle['transcript']) as Json[];
  const at = transcript.findLastIndex(
    (e) => e.meta.message_type === 'EvidenceBundleRef' && e.payload.incident !== undefined,
  );
  if (edit.summary !== undefined && at >= 0) {
    const { signature: _s, ...meta } = transcript[at]!.meta;
    const payload = structuredClone(transcript[at]!.payload);
    edit.summary(payload);
    const m = c.gw.coordinator.exportMaterial();
    const audit = c.gw.coordinator.trustedKeys().parties.findIndex((q) => q.role === 'audit');
    expect(meta.source_agent).toBe(c.gw.coordinator.trustedKeys().parties[audit]!.id);
    transcript[at] = signEnvelope(
      { ...transcript[at]!, meta, payload } as SignedEnvelope,
      hexToBytes(m.identity_seeds[audit]!),
    ) as unknown as Json;
  }
  const input = {
    incident: p.incident,
    decision: p.decision,
    action: p.action,
    humanApprovals: p.humanApprovals,
    verification: p.verification,
    times: p.times,
    transcript,
    ciphersuite: p.ciphersuite,
    groupPublicKey: hexToBytes(p.groupPublicKey),
    threshold: p.threshold,
    signers: p.signers,
    roster: p.roster,
    ...(c.bundle['aggregation'] === undefined ? {} : { aggregation: c.bundle['aggregation'] }),
  } as BuildBundleInput;
  const signer = groupSigner(c.gw);
  const built = await buildBundle(input, (message) => signer(message));
  return (await c.gw.evidence.publish(built)) as unknown as Json;
}

const statementOf = (bundle: Json): Json =>
  JSON.parse(Buffer.from(bundle['dsseEnvelope'].payload, 'base64').toString('utf8'));

const ENDINGS = [
  'resolved-dry-run',
  'resolved-gitops',
  'rolled-back-exec-failed',
  'failed-exec-and-rollback',
  'rolled-back-qa-veto',
  'failed-qa-veto',
  'rolled-back-qa-refused',
  'rejected-by-human',
  'approved-by-human',
  'unknown-rejected-by-human',
  'resolved-by-source',
  'failed-before-change',
  'sealed',
  'rejected-by-parties',
];

describe('what the evidence says about why an incident ended', () => {
  it('an incident that failed before any change states why, as its record does (predicate.incident.reason)', () => {
    const { inc, statement } = cases.get('failed-before-change')!;
    expect(inc['state']).toBe('failed');
    expect(statement['predicate'].action).toBeNull();
    expect(inc['reason']).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(statement['predicate'].incident.reason).toEqual(inc['reason']);
  });

  it('an incident its source resolved states what the source said (predicate.incident.source_resolution)', () => {
    const { inc, statement } = cases.get('resolved-by-source')!;
    expect(inc['state']).toBe('resolved');
    const entry = (inc['timeline'] as Json[]).find((e) => e.event === 'resolved_by_source')!;
    expect(statement['predicate'].incident.source_resolution).toEqual({
      actor: entry.actor,
      received_at: entry.at,
      source_ended_at: '2026-11-25T10:02:00Z',
      // The name of the API token the resolve came with (never the token).
      token_name: entry.detail.token_name,
    });
    expect(entry.detail.token_name).toEqual(expect.any(String));
    expect(statement['predicate'].times.resolved_by_source).toBe(entry.at);
    // An incident no source resolved says nothing of one.
    expect(cases.get('resolved-dry-run')!.statement['predicate'].incident.source_resolution).toBeUndefined();
  });

  it('a change quality assurance vetoed and whose undo failed is not summarised as "succeeded"', () => {
    const { inc, statement, bundle } = cases.get('failed-qa-veto')!;
    expect(inc['state']).toBe('failed');
    expect(inc['execution'].rollback).toEqual({ done: false, detail: 'revert did not apply' });
    const results = (bundle['transcript'] as Json[])
      .filter((e) => e.meta.message_type === 'ExecutionResult')
      .map((e) => e.payload.status);
    expect(results).toEqual(['succeeded', 'failed']);
    // The signed summary says the action "succeeded" and nothing of the failed rollback.
    const action = statement['predicate'].action;
    expect({
      result: action.result,
      mentionsRollback: /rollback|rolled_back|revert/.test(JSON.stringify(action)),
    }).toEqual({
      result: 'failed',
      mentionsRollback: true,
    });
  });
});

describe('what the Statement says was done and who approved it', () => {
  it.each(['rejected-by-human', 'rejected-by-parties'])(
    '%s: nothing executed, so predicate.action is null (docs/evidence.md: "the action executed, or null")',
    (name) => {
      const { inc, statement, bundle } = cases.get(name)!;
      expect(inc['state']).toBe('rejected');
      expect(inc['execution'] ?? null).toBeNull();
      expect((bundle['transcript'] as Json[]).some((e) => e.meta.message_type === 'ExecutionOrder')).toBe(
        false,
      );
      expect(statement['predicate'].action).toBeNull();
    },
  );

  it.each(['resolved-dry-run', 'resolved-gitops', 'approved-by-human', 'failed-qa-veto'])(
    '%s: the predicate names the quorum that approved the executed action (action.approved_by), as the ExecutionOrder does',
    (name) => {
      const { statement, bundle } = cases.get(name)!;
      const order = (bundle['transcript'] as Json[]).findLast(
        (e) => e.meta.message_type === 'ExecutionOrder',
      )!;
      const quorum = [...(order.payload.approval.signers as string[])].sort();
      expect(quorum.length).toBeGreaterThanOrEqual(statement['predicate'].threshold.min);
      expect(statement['predicate'].action.approved_by).toEqual(quorum);
    },
  );

  it('a predicate naming another quorum than the one that approved the executed action: the parties will not co-sign it, and aaps-verify exits 1 naming transcript.outcome', async () => {
    const c = cases.get('resolved-gitops')!;
    const predicate = c.statement['predicate'];
    const quorum = predicate.action.approved_by as string[];
    const outside = (predicate.roster.parties as Json[])
      .map((q) => String(q.id))
      .filter((id) => !quorum.includes(id));
    // k parties, but not the k that approved it: one swapped for a party that did not sign.
    const claim = [...quorum.slice(1), outside[0]!].sort();
    expect(claim).toHaveLength(quorum.length);

    // The parties, asked to co-sign a Statement whose action names it (the audit party's signed
    // summary in the transcript still names the real quorum).
    const record = (await c.gw.store.getIncident(c.id))!;
    const summary = record.transcript.at(-1)!.payload as unknown as Json;
    const refusal = await c.gw.evidence
      .sign(record, {
        ...summary,
        action: { ...summary.action, approved_by: claim },
      } as unknown as Parameters<typeof c.gw.evidence.sign>[1])
      .then(
        () => undefined,
        (e: AapsError) => e,
      );
    const refusals = (refusal?.details['refusals'] ?? []) as { rule: string; message: string }[];
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) {
      expect({ rule: r.rule, named: r.message.includes('predicate.action.approved_by') }).toEqual({
        rule: 'evidence.outcome',
        named: true,
      });
    }

    // aaps-verify, given it signed k-of-n anyway and in the log: first the same Statement
    // unchanged (valid), then naming the other quorum, then also with a summary that agrees (the
    // ExecutionOrder is what it is held to).
    const root = join(c.dir, 'trusted_root.json');
    const same = cli(await reseal(c, {}), root);
    expect({ status: same.status, out: same.out.split(':')[0] }).toEqual({ status: 0, out: 'valid' });
    for (const summaryToo of [false, true]) {
      const forged = await reseal(c, {
        predicate: (p) => {
          p.action.approved_by = claim;
        },
        ...(summaryToo
          ? {
              summary: (s: Json) => {
                s.action.approved_by = claim;
              },
            }
          : {}),
      });
      expect(statementOf(forged)['predicate'].action.approved_by).toEqual(claim);
      const r = cli(forged, root);
      expect({
        summaryToo,
        status: r.status,
        check: r.out.split(':').slice(0, 2).join(':').trim(),
        named: r.out.includes('predicate.action.approved_by'),
      }).toEqual({ summaryToo, status: 1, check: 'invalid: transcript.outcome', named: true });
    }
  });
});

describe('what the k-of-n signature vouches for in the predicate', () => {
  it('the parties will not co-sign, and aaps-verify will not accept, a predicate that contradicts the transcript on the ending and the human decision', async () => {
    // The rejected RBAC incident: its transcript holds alice's signed rejection and the audit
    // party's signed summary (state rejected). A gateway writes the predicate; here it claims the
    // incident resolved automatically, with alice's approval (from her genuine approval of another
    // incident on this gateway) and no rejection.
    const rej = cases.get('rejected-by-human')!;
    const app = cases.get('approved-by-human')!;
    const record = (await rej.gw.store.getIncident(rej.id))!;
    const approved = (await app.gw.store.getIncident(app.id))!;
    const summary = record.transcript.at(-1)!.payload as unknown as Json;
    expect(summary.incident.state).toBe('rejected');
    const { rejected: _r, human_required: _h, ...times } = summary.times;
    let signed: Awaited<ReturnType<typeof rej.gw.evidence.sign>> | undefined;
    let refusal = '';
    try {
      signed = await rej.gw.evidence.sign(
        { ...record, state: 'resolved', human_approvals: approved.human_approvals },
        {
          ...summary,
          incident: { ...summary.incident, state: 'resolved' },
          decision: { ...summary.decision, outcome: 'auto', rule: undefined },
          times: { ...times, approved: times.proposed },
        } as unknown as Parameters<typeof rej.gw.evidence.sign>[1],
      );
    } catch (e) {
      refusal = String(e);
    }
    if (signed !== undefined) {
      const bundle = await rej.gw.evidence.publish(signed.bundle);
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
      const r = cli(bundle as unknown as Json, join(rej.dir, 'trusted_root.json'));
      // What an auditor is shown, and whether aaps-verify objects.
      expect({
        state: statement.predicate.incident.state,
        human_rejection: statement.predicate.incident.human_rejection ?? null,
        humanApprovals: statement.predicate.humanApprovals.map((a: Json) => `${a.approver_id}:${a.decision}`),
        approvalIsThisIncidents: statement.predicate.humanApprovals.map(
          (a: Json) => a.incident_id === rej.id,
        ),
        transcriptSays: (bundle.transcript as Json[])
          .filter((e) => e.meta.message_type === 'ApprovalDecision' && e.meta.source_agent === 'alice')
          .map((e) => `alice:${e.payload.decision}`),
        verifier: r.out.trim().split(':')[0],
      }).toEqual({
        state: 'resolved',
        human_rejection: null,
        humanApprovals: ['alice:approve'],
        approvalIsThisIncidents: [false],
        transcriptSays: ['alice:reject'],
        verifier: 'invalid',
      });
    }
    expect(refusal).toMatch(/evidence\./);
  });
});

describe('bundles sealed before the predicate stated the reason, the source resolution and the approval quorum', () => {
  it.each(ENDINGS)(
    "%s: sealed without incident.reason, incident.source_resolution and action.approved_by (nor the summary's approved_by), it still verifies",
    async (name) => {
      const c = cases.get(name)!;
      const removed: string[] = [];
      const older = await reseal(c, {
        predicate: (p) => {
          for (const key of ['reason', 'source_resolution'])
            if (key in p.incident) {
              delete p.incident[key];
              removed.push(`incident.${key}`);
            }
          if (p.action !== null && 'approved_by' in p.action) {
            delete p.action.approved_by;
            removed.push('action.approved_by');
          }
        },
        summary: (s) => {
          if (s.action !== undefined) delete s.action.approved_by;
        },
      });
      // Every ending states at least one of them now; the older bundle states none.
      expect(removed.length).toBeGreaterThan(0);
      const p = statementOf(older)['predicate'];
      expect([p.incident.reason, p.incident.source_resolution, p.action?.approved_by]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      const r = cli(older, join(c.dir, 'trusted_root.json'));
      expect({ status: r.status, out: r.out.split(':')[0] }).toEqual({ status: 0, out: 'valid' });
    },
  );
});

describe('the docs an auditor reads', () => {
  it('docs/threat-model.md: "a trusted root carries no roles", yet GET /v1/trusted-root carries aaps.partyRoles that aaps-verify applies', () => {
    const root = cases.get('resolved-dry-run')!.root;
    expect(Object.keys(root['aaps'].partyRoles ?? {}).sort()).toEqual([
      'audit',
      'monitoring',
      'problem-solver',
      'quality-assurance',
      'strategy',
    ]);
    const tm = readFileSync(join(ROOT, 'docs', 'threat-model.md'), 'utf8').replace(/\s+/g, ' ');
    expect(
      tm.includes("a Statement's roster and a trusted root carry none"),
      'threat-model.md still says so',
    ).toBe(false);
  });
});
