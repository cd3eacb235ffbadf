/**
 * A compromised coordinator: the test drives five real party processes directly with
 * `PartyClient` (signed requests, the gateway's identity key) and misbehaves on purpose. It
 * changes the action after approval, replays old requests, asks for human-approval actions without
 * (or with a forged) human approval, reuses commitments, and shows different parties different
 * subjects. Figures: signatures produced for anything the parties' policies forbid (goal 0) and
 * executions without a valid threshold signature (goal 0, through the gateway's maintenance check).
 */
import {
  type ApprovalProposal,
  callSigner,
  HUMAN_ACTIONS,
  makeRequest,
  proposalSigningBytes,
  RPC_PATHS,
  type SignSubject,
} from '@aaps/agents';
import { createDryRunExecutor, type ExecutionOrderPayload, executeOrder } from '@aaps/gateway';
import {
  type AapsError,
  aggregate,
  bytesToHex,
  type PublicKeyPackage,
  type Round1Commitment,
  Round1CommitmentBatchCodec,
  type SignatureShare,
  SignatureShareCodec,
  type SigningPackage,
  SigningPackageCodec,
  verifyEd25519,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalFor, signApproval } from '../../packages/agents/src/policy/test-helpers/fixtures.js';
import { approvalSubject } from '../helpers/backing.js';
import { type PartyCluster, startPartyCluster, suite } from '../helpers/party-cluster.js';
import { type Figure, recordResult } from '../helpers/results.js';
import { reproduce, SEED } from '../helpers/settings.js';

let cluster: PartyCluster;
let pub: PublicKeyPackage;
let seq = 0;
const figures: Figure[] = [];
const tally = {
  forbiddenAsked: 0,
  forbiddenShares: 0,
  forbiddenSignatures: 0,
  refusals: {} as Record<string, number>,
};
const exec = { attempts: 0, invalidExecuted: 0, validExecuted: 0 };

const client = () => cluster.client();
const session = (label: string) => `${label}-${SEED}-${seq++}`;

async function commit(id: string, sid: string): Promise<Round1Commitment> {
  const out = await client().call<{ commitments: unknown }>(id, 'sign.commit', sid, { count: 1 });
  return Round1CommitmentBatchCodec.fromJSON(out.commitments, suite().id).value.commitments[0]!;
}

async function round2(
  id: string,
  sid: string,
  pkg: SigningPackage,
  subject: SignSubject,
): Promise<{ share?: SignatureShare; code?: string; rule?: string }> {
  try {
    const out = await client().call<{ share: unknown }>(id, 'sign.round2', sid, {
      signing_package: SigningPackageCodec.toJSON(suite().id, pkg),
      subject,
    });
    return { share: SignatureShareCodec.fromJSON(out.share, suite().id).value };
  } catch (e) {
    const err = e as AapsError;
    return { code: err.code, rule: (err.details as { rule?: string }).rule };
  }
}

/** Ask a forbidden thing of `ids`; count every share and any signature that could form. */
async function askForbidden(
  ids: readonly string[],
  pkg: SigningPackage,
  subjectFor: (id: string) => SignSubject,
  sid: string,
): Promise<{ shares: SignatureShare[]; rules: string[] }> {
  const shares: SignatureShare[] = [];
  const rules: string[] = [];
  for (const id of ids) {
    tally.forbiddenAsked++;
    const r = await round2(id, sid, pkg, subjectFor(id));
    if (r.share) {
      tally.forbiddenShares++;
      shares.push(r.share);
    } else {
      const key = `${r.code}${r.rule ? `:${r.rule}` : ''}`;
      tally.refusals[key] = (tally.refusals[key] ?? 0) + 1;
      rules.push(key);
    }
  }
  if (shares.length >= 3 && signatureForms(pkg, shares)) tally.forbiddenSignatures++;
  return { shares, rules };
}

function signatureForms(pkg: SigningPackage, shares: readonly SignatureShare[]): boolean {
  try {
    const sig = aggregate(suite(), pkg, shares, pub);
    return verifyEd25519(pub.groupPublicKey, pkg.message, sig);
  } catch {
    return false;
  }
}

async function freshPackage(
  ids: readonly string[],
  message: Uint8Array,
  sid: string,
): Promise<SigningPackage> {
  const commitments = await Promise.all(ids.map((id) => commit(id, sid)));
  return { commitments, message };
}

const approval = (p: ApprovalProposal): SignSubject => approvalSubject(cluster.layout, p);
/** Three parties with quality assurance (the veto holder) among them, as every approval needs. */
const approvalQuorum = () => {
  const qa = cluster.layout.roster.parties.find((p) => p.role === 'quality-assurance')!.id;
  return [...cluster.ids.filter((id) => id !== qa).slice(0, 2), qa];
};
const bytesOf = (p: ApprovalProposal) => proposalSigningBytes(p);

async function honestSignature(p: ApprovalProposal, ids: readonly string[]): Promise<Uint8Array> {
  const sid = session('honest');
  const pkg = await freshPackage(ids, bytesOf(p), sid);
  const shares = await Promise.all(ids.map((id) => round2(id, sid, pkg, approval(p))));
  for (const s of shares) expect(s.share).toBeDefined();
  return aggregate(
    suite(),
    pkg,
    shares.map((s) => s.share!),
    pub,
  );
}

describe('a compromised coordinator', () => {
  beforeAll(async () => {
    cluster = await startPartyCluster({ prefix: 'aaps-fault-coord-' });
    pub = (await cluster.dkg('dkg-coord')).publicPackage;
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
    cluster?.remove();
    if (figures.length || tally.forbiddenAsked) {
      recordResult({
        suite: 'coordinator',
        order: 4,
        title: 'Compromised coordinator',
        command: reproduce('test/fault/coordinator.fault.test.ts'),
        figures: [
          { name: 'forbidden round-2 requests sent to parties', value: tally.forbiddenAsked },
          { name: 'shares given for forbidden requests', value: tally.forbiddenShares, goal: 0 },
          {
            name: 'signatures produced for anything the policies forbid',
            value: tally.forbiddenSignatures,
            goal: 0,
          },
          { name: 'refusals by code:rule', value: JSON.stringify(tally.refusals) },
          ...figures,
          { name: 'execution orders tried (one honest control)', value: exec.attempts },
          { name: 'honest order executed (control)', value: exec.validExecuted, goal: 1 },
          { name: 'executions without a valid threshold signature', value: exec.invalidExecuted, goal: 0 },
        ],
        notes: [
          'The malicious coordinator is the test itself, holding the gateway identity key: every request is properly signed, so only the parties own checks stand in the way.',
          'Executions go through `executeOrder` of `@aaps/gateway` (the maintenance check before any executor runs) with the dry-run executor; an order runs only if its group signature verifies over the bytes derived from its proposal under the trusted group key.',
        ],
      });
    }
  });

  it('changing the action after approval: every party refuses (message.mismatch), and the changed order does not execute', async () => {
    const ids = approvalQuorum();
    const approved = proposalFor('image_rollback', { incident_id: `inc-coord-${SEED}-a` });
    const changed = proposalFor('pod_restart', { incident_id: approved.incident_id });
    const sid = session('swap');
    // The parties see the approved proposal, the package carries the bytes of the changed one.
    const pkg = await freshPackage(ids, bytesOf(changed), sid);
    const r = await askForbidden(ids, pkg, () => approval(approved), sid);
    expect(r.shares).toHaveLength(0);
    expect(r.rules.every((x) => x === 'POLICY_REFUSED:message.mismatch')).toBe(true);
    // Same proposal, its target edited after the digest was computed.
    const edited = { ...approved, target: 'deployment://shop/payments' } as ApprovalProposal;
    const sid2 = session('edit');
    const pkg2 = await freshPackage(ids, bytesOf(edited), sid2);
    const r2 = await askForbidden(ids, pkg2, () => approval(edited), sid2);
    expect(r2.shares).toHaveLength(0);
    expect(r2.rules.every((x) => x.startsWith('POLICY_REFUSED'))).toBe(true);

    // Executions: the honest order runs once; orders carrying that signature for anything else never do.
    const sig = await honestSignature(approved, ids);
    const trusted = { ciphersuite: suite().id, groupPublicKey: pub.groupPublicKey };
    const executor = createDryRunExecutor({ now: () => new Date() });
    const order = (
      proposal: ApprovalProposal,
      signature: Uint8Array,
      group = pub.groupPublicKey,
    ): ExecutionOrderPayload => ({
      incident_id: proposal.incident_id,
      proposal,
      approval: {
        ciphersuite: suite().id,
        group_public_key: bytesToHex(group),
        signature: bytesToHex(signature),
        signers: ids,
      },
      executor: 'dry-run',
    });
    const forged = Uint8Array.from(sig);
    forged[10] = forged[10]! ^ 0x40;
    const otherKey = Uint8Array.from(pub.groupPublicKey);
    otherKey[0] = otherKey[0]! ^ 1;
    const bad: ExecutionOrderPayload[] = [
      order(changed, sig),
      order(edited, sig),
      order(approved, forged),
      order(approved, new Uint8Array(64)),
      order(approved, sig, otherKey),
      order(proposalFor('rbac_changes', { incident_id: approved.incident_id }), sig),
    ];
    const codes: string[] = [];
    for (const o of bad) {
      exec.attempts++;
      try {
        await executeOrder(o, executor, trusted);
        exec.invalidExecuted++;
      } catch (e) {
        codes.push(`${(e as AapsError).code}:${(e as { check?: string }).check}`);
      }
    }
    exec.attempts++;
    const ok = await executeOrder(order(approved, sig), executor, trusted);
    if (ok.record.status === 'succeeded') exec.validExecuted++;
    figures.push({
      name: 'refused execution orders by code:check',
      value: JSON.stringify(Object.fromEntries(codes.map((c) => [c, codes.filter((x) => x === c).length]))),
    });
    expect(exec.invalidExecuted).toBe(0);
    expect(exec.validExecuted).toBe(1);
    expect(codes.every((c) => c === 'INVALID_SIGNATURE:execution.order')).toBe(true);
  });

  it('replaying an old request: 409 REPLAYED_REQUEST, and another party refuses it too', async () => {
    const [a, b] = cluster.ids;
    const partyA = cluster.layout.roster.parties.find((p) => p.id === a)!;
    const partyB = cluster.layout.roster.parties.find((p) => p.id === b)!;
    const sid = session('replay');
    const p = proposalFor('image_rollback', { incident_id: `inc-coord-${SEED}-r` });
    const ids = approvalQuorum();
    const pkg = await freshPackage(ids, bytesOf(p), sid);
    const req = makeRequest(
      { id: 'gateway', key: cluster.layout.gatewayKey },
      a!,
      'sign.round2',
      sid,
      {
        signing_package: SigningPackageCodec.toJSON(suite().id, pkg),
        subject: approval(p),
      },
      { trace_id: sid },
    );
    // The captured request as the coordinator sent it to party A (its call header included).
    const text = JSON.stringify(req);
    const headers = callSigner(
      { id: cluster.layout.roster.gateway.id, key: cluster.layout.gatewayKey },
      cluster.layout.roster.parties,
    ).headers(a!, RPC_PATHS['sign.round2'], text);
    const post = (url: string) =>
      fetch(new URL(RPC_PATHS['sign.round2'], url), { method: 'POST', headers, body: text });
    const first = await post(partyA.url);
    expect(first.status).toBe(200);
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await post(partyA.url);
      const body = (await again.json()) as { error: { code: string } };
      statuses.push(`${again.status} ${body.error.code}`);
    }
    const elsewhere = await post(partyB.url);
    const elsewhereBody = (await elsewhere.json()) as { error: { code: string } };
    tally.forbiddenAsked += 4;
    figures.push(
      {
        name: 'replays of an answered approval request that got a share',
        value: statuses.filter((s) => s.startsWith('2')).length,
        goal: 0,
      },
      { name: 'replay answers', value: [...new Set(statuses)].join(', ') },
      {
        name: 'the same request sent to another party',
        value: `${elsewhere.status} ${elsewhereBody.error.code}`,
      },
    );
    expect(statuses.every((s) => s === '409 REPLAYED_REQUEST')).toBe(true);
    expect(elsewhere.status).toBeGreaterThanOrEqual(400);
    expect(elsewhere.status).toBeLessThan(500);
  });

  it('human-approval actions without a (valid) human approval: refused by every party', async () => {
    const ids = cluster.ids;
    for (const action of HUMAN_ACTIONS) {
      const p = proposalFor(action, { incident_id: `inc-coord-${SEED}-${action}` });
      const sid = session(`human-${action}`);
      const pkg = await freshPackage(ids, bytesOf(p), sid);
      const r = await askForbidden(ids, pkg, () => approval(p), sid);
      expect(r.shares).toHaveLength(0);
      expect(r.rules.every((x) => x.startsWith('POLICY_REFUSED'))).toBe(true);
    }
    // A human approval signed by a key that is not in the roster.
    const base = proposalFor('rbac_changes', { incident_id: `inc-coord-${SEED}-forged` });
    const window = {
      approved_at: new Date(Date.now() - 60_000).toISOString(),
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const forged = { ...base, human_approval: signApproval(base, window) } as ApprovalProposal;
    const sid = session('forged-human');
    const pkg = await freshPackage(ids, bytesOf(forged), sid);
    const r = await askForbidden(ids, pkg, () => approval(forged), sid);
    expect(r.shares).toHaveLength(0);
    expect(r.rules.every((x) => x.startsWith('POLICY_REFUSED:human_approval'))).toBe(true);
    figures.push({
      name: 'forged human approval (key not in the roster): refusals',
      value: [...new Set(r.rules)].join(', '),
    });
  });

  it('reusing a commitment: NONCE_REUSE, for the same and for another message', async () => {
    const ids = cluster.ids.slice(1, 4);
    const p = proposalFor('image_rollback', { incident_id: `inc-coord-${SEED}-n` });
    const sid = session('reuse');
    const pkg = await freshPackage(ids, bytesOf(p), sid);
    for (const id of ids) expect((await round2(id, sid, pkg, approval(p))).share).toBeDefined();
    const q = proposalFor('image_rollback', { incident_id: `inc-coord-${SEED}-n2` });
    const again = await askForbidden(ids, pkg, () => approval(p), session('reuse-same'));
    const other = await askForbidden(
      ids,
      { ...pkg, message: bytesOf(q) },
      () => approval(q),
      session('reuse-other'),
    );
    figures.push({
      name: 'second shares for a used commitment',
      value: again.shares.length + other.shares.length,
      goal: 0,
    });
    expect([...again.rules, ...other.rules].every((x) => x === 'NONCE_REUSE')).toBe(true);
  });

  it('different subjects to different parties: no signature forms for either', async () => {
    const ids = cluster.ids.slice(2, 5);
    const a = proposalFor('image_rollback', { incident_id: `inc-coord-${SEED}-split-a` });
    const b = proposalFor('pod_restart', { incident_id: `inc-coord-${SEED}-split-b` });
    const sid = session('split');
    const commitments = await Promise.all(ids.map((id) => commit(id, sid)));
    const pkgA: SigningPackage = { commitments, message: bytesOf(a) };
    const pkgB: SigningPackage = { commitments, message: bytesOf(b) };
    // Two parties see A, the third sees B: each consistent on its own, so each signs what it sees.
    const shares = await Promise.all(
      ids.map((id, i) => round2(id, sid, i < 2 ? pkgA : pkgB, approval(i < 2 ? a : b))),
    );
    const got = shares.map((s) => s.share).filter((s): s is SignatureShare => s !== undefined);
    const formed = Number(signatureForms(pkgA, got)) + Number(signatureForms(pkgB, got));
    figures.push(
      { name: 'split view: shares given (each party signed what it saw)', value: got.length },
      { name: 'split view: signatures that form for either message', value: formed, goal: 0 },
    );
    expect(formed).toBe(0);
  });
});
