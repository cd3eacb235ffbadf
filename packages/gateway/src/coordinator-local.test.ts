/** The in-process coordinator: real FROST, each party's own policy, refusals, and the parties' log witnessing. */
import { buildApprovalProposal, computeRiskScore, proposalSigningBytes } from '@aaps/agents';
import { formatCheckpoint, MemoryMerkleTree } from '@aaps/evidence';
import {
  bytesToHex,
  generateIdentityKey,
  getCiphersuite,
  hexToBytes,
  ProtocolError,
  verify,
} from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { LocalCoordinator } from './coordinator-local.js';
import { localBacking } from './test-helpers/gateway.js';

const gateway = { id: 'gateway', identity_key: bytesToHex(generateIdentityKey().publicKey) };
const suite = getCiphersuite('FROST-ED25519-SHA512-v1');

function proposal(namespace = 'shop') {
  // `unknown`, as the gateway declares by default: the parties' default policies map no namespace,
  // so a lighter environment would be refused (risk.environment_understated).
  const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'unknown' as const };
  return buildApprovalProposal({
    incident_id: 'inc-local-1',
    action: 'pod_restart',
    target: `deployment://${namespace}/web`,
    parameters: { strategy: 'rollout_restart' },
    evidence_refs: ['event://shop/evt-1'],
    risk: { score: computeRiskScore('pod_restart', factors), method: 'aaps.risk.v1', factors },
  });
}

async function quorumError(p: Promise<unknown>) {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ProtocolError);
  expect((e as ProtocolError).code).toBe('QUORUM_UNREACHABLE');
  return (e as ProtocolError).details['refusals'] as { party: string; rule: string }[];
}

describe('LocalCoordinator', () => {
  const c = new LocalCoordinator({ gateway });

  it('signs an approvable proposal 3-of-5 under the group key', async () => {
    const keys = await c.keys();
    expect(keys.parties.map((p) => p.id)).toEqual([
      'monitoring',
      'problem-solver',
      'strategy',
      'quality-assurance',
      'audit',
    ]);
    const p = proposal();
    const r = await c.signApproval(p, localBacking(c, p));
    expect(r.signers).toHaveLength(3);
    expect(verify(suite, hexToBytes(keys.group_public_key), proposalSigningBytes(p), r.signature)).toBe(true);
  });

  it('every party refuses what its policy forbids: QUORUM_UNREACHABLE naming each rule', async () => {
    const forbidden = proposal('kube-system');
    const refusals = await quorumError(c.signApproval(forbidden, localBacking(c, forbidden)));
    expect(refusals.map((r) => r.rule)).toEqual(Array(5).fill('target.namespace'));
  });

  it('refuses a second root for one checkpoint size', async () => {
    const root = new Uint8Array(32).fill(1);
    const r = await c.signCheckpoint({ origin: 'aaps.test/log', treeSize: 7, rootHash: root });
    const body = formatCheckpoint({ origin: 'aaps.test/log', size: 7, rootHash: root, extensions: [] });
    const keys = await c.keys();
    expect(
      verify(suite, hexToBytes(keys.group_public_key), new TextEncoder().encode(body), r.signature),
    ).toBe(true);
    await c.signCheckpoint({ origin: 'aaps.test/log', treeSize: 7, rootHash: root });
    const refusals = await quorumError(
      c.signCheckpoint({ origin: 'aaps.test/log', treeSize: 7, rootHash: new Uint8Array(32).fill(2) }),
    );
    expect(new Set(refusals.map((x) => x.rule))).toEqual(new Set(['checkpoint.fork']));
  });

  it('signs a larger checkpoint only with a consistency proof from the size each party signed', async () => {
    const origin = 'aaps.test/witnessed';
    const log = new MemoryMerkleTree();
    const other = new MemoryMerkleTree();
    for (let i = 0; i < 12; i++) {
      log.append(new TextEncoder().encode(`leaf ${i}`));
      other.append(new TextEncoder().encode(`other ${i}`));
    }
    const at = (t: MemoryMerkleTree, treeSize: number, from?: number) => ({
      origin,
      treeSize,
      rootHash: t.root(treeSize),
      ...(from === undefined ? {} : { consistency: [{ from, hashes: t.consistencyProof(from, treeSize) }] }),
    });
    const first = await c.signCheckpoint(at(log, 4));
    expect(first.signers).toEqual(['monitoring', 'problem-solver', 'strategy']);
    // The signers of size 4 need a proof from 4: without one, two parties that never signed remain.
    const behind = await quorumError(c.signCheckpoint(at(log, 8)));
    expect(behind).toEqual(
      first.signers.map((party) =>
        expect.objectContaining({ party, rule: 'checkpoint.behind', signed_size: 4 }),
      ),
    );
    const inconsistent = await quorumError(c.signCheckpoint(at(other, 8, 4)));
    expect(new Set(inconsistent.map((r) => r.rule))).toEqual(new Set(['checkpoint.inconsistent']));
    expect((await c.signCheckpoint(at(log, 8, 4))).signers).toEqual(first.signers);
    expect(new Set((await quorumError(c.signCheckpoint(at(log, 6)))).map((r) => r.rule))).toEqual(
      new Set(['checkpoint.rollback']),
    );
  });

  it('refuses evidence whose subject is not the transcript', async () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'incident/x', digest: { sha256: '00'.repeat(32) } }],
      predicateType: 'https://aaps.dev/evidence/incident/v1',
      predicate: {},
    };
    await quorumError(c.signEvidence({ statement, transcript: [] }));
  });

  it('with the veto holder down, an approval has no quorum: QUORUM_UNREACHABLE naming it unavailable', async () => {
    let down = new Set(['quality-assurance']);
    const flaky = new LocalCoordinator({ gateway, material: c.exportMaterial(), down: (id) => down.has(id) });
    const p = proposal();
    const e = await flaky.signApproval(p, localBacking(flaky, p)).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('QUORUM_UNREACHABLE');
    expect((e as ProtocolError).details).toMatchObject({
      refusals: [],
      vetoes: [],
      unavailable_parties: ['quality-assurance'],
    });
    // Another party down leaves enough for a quorum, and quality assurance is in it.
    down = new Set(['monitoring']);
    const r = await flaky.signApproval(p, localBacking(flaky, p));
    expect(r.signers).toContain('quality-assurance');
    expect(r.signers).not.toContain('monitoring');
    expect(r.unavailable).toEqual([{ party: 'monitoring', code: 'UNAVAILABLE' }]);
  });

  it('reopens from exported material with the same keys', async () => {
    const again = new LocalCoordinator({ gateway, material: c.exportMaterial() });
    expect(await again.keys()).toEqual(await c.keys());
    const keys = await again.keys();
    const p = proposal();
    const r = await again.signApproval(p, localBacking(again, p));
    expect(verify(suite, hexToBytes(keys.group_public_key), proposalSigningBytes(p), r.signature)).toBe(true);
  });
});
