/**
 * A party signs a checkpoint as a C2SP witness would: the first one of an origin on trust, each
 * later one only with a consistency proof from the size it last signed for that origin. It signs
 * evidence carrying a pooled-risk record only when it confirmed that very round itself. Driven in
 * process through the party app and the real client, so the refusal the coordinator reads is the
 * party's signed one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint, MemoryMerkleTree, POOLED_RISK_CIRCUIT_SHA256 } from '@aaps/evidence';
import {
  bytesToHex,
  encodeAggregationRecordJson,
  getCiphersuite,
  PolicyRefusal,
  Round1CommitmentBatchCodec,
  SignatureShareCodec,
  SigningPackageCodec,
  validateEnvelope,
  verifyEnvelope,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../../aggregate.js';
import type { PartyClient } from '../../client.js';
import type { AggregationRef } from '../../policy/proposal.js';
import { LOW_RISK, proposalFor } from '../../policy/test-helpers/fixtures.js';
import type { PartyStore } from '../../store/level.js';
import { POOLED_RISK_CIRCUIT } from '../pooled-risk.js';
import {
  dealtPartyApps,
  evidenceRoundTwo,
  type FiveParties,
  needsHumanStatement,
  strategyDecision,
} from '../test-helpers/five-parties.js';
import { readCircuitCatalog, SHIPPED_CIRCUITS_DIR } from './aggregation.js';
import { refusalFactsOf } from './sign.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let groupPublicKey: Uint8Array;
const ORIGIN = 'aaps.test/witness';
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let client: PartyClient;
let sessions = 0;

/** A log of `size` leaves; `salt` changes every leaf (another history). */
function tree(size: number, salt = ''): MemoryMerkleTree {
  const t = new MemoryMerkleTree();
  for (let i = 0; i < size; i++) t.append(new TextEncoder().encode(`${salt}leaf-${i}`));
  return t;
}

const proofFrom = (t: MemoryMerkleTree, from: number, to: number) => ({
  from,
  hashes: t.consistencyProof(from, to).map(bytesToHex),
});

/** Three signers' commitments for a fresh session: party `p` and the two after it (their nonces stay unused). */
async function commitmentsFor(p: number, session: string) {
  const signers = [p, (p + 1) % 5, (p + 2) % 5].sort((a, b) => a - b);
  return Promise.all(
    signers.map(async (i) => {
      const id = set.roster.parties[i]!.id;
      const drawn = await client.call<{ commitments: unknown }>(id, 'sign.commit', session, { count: 1 });
      return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
    }),
  );
}

/**
 * Party `p`'s round two over checkpoint (`origin`, `size`, root of `t` at `size`) with the proofs
 * given; resolves to its share, or rejects with what the client makes of its refusal. `signers`
 * picks whose fresh commitments the package carries (default: `p` and the two after it).
 */
async function round2(
  p: number,
  t: MemoryMerkleTree,
  size: number,
  consistency?: { from: number; hashes: string[] }[],
  origin = ORIGIN,
  signers = p,
) {
  const party = set.roster.parties[p]!.id;
  const session = `w-${sessions++}`;
  const commitments = await commitmentsFor(signers, session);
  const rootHash = t.root(size);
  const message = new TextEncoder().encode(formatCheckpoint({ origin, size, rootHash, extensions: [] }));
  const out = await client.call<{ share: unknown }>(party, 'sign.round2', session, {
    signing_package: SigningPackageCodec.toJSON(suite.id, { commitments, message }),
    subject: {
      kind: 'checkpoint',
      origin,
      tree_size: size,
      root_hash: bytesToHex(rootHash),
      ...(consistency === undefined ? {} : { consistency }),
    },
  });
  return SignatureShareCodec.fromJSON(out.share, suite.id).value;
}

async function refusal(p: Promise<unknown>): Promise<PolicyRefusal> {
  const e = await p.then(
    () => expect.unreachable('the party signed'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PolicyRefusal);
  return e as PolicyRefusal;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-party-sign-'));
  ({ set, client, groupPublicKey } = await dealtPartyApps({
    dir,
    stores,
    // The last party is told its log's origin (as `aaps up` tells every party).
    configure: (i, deps) => {
      if (i === 4) deps.config = { ...deps.config, logOrigin: ORIGIN };
    },
  }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('refusal facts', () => {
  it('a signed size is read only as a non-negative safe integer', () => {
    expect(refusalFactsOf({ signed_size: 0 })).toEqual({ signed_size: 0 });
    expect(refusalFactsOf({ signed_size: 4096, rule: 'checkpoint.behind' })).toEqual({ signed_size: 4096 });
    for (const bad of [-1, 1.5, '12', 2 ** 53, Number.NaN, null, undefined])
      expect(refusalFactsOf({ signed_size: bad })).toEqual({});
    for (const source of [null, undefined, 7, 'x', []]) expect(refusalFactsOf(source)).toEqual({});
  });
});

describe('a party signs a checkpoint only when it extends the last one it signed', () => {
  const log = tree(40);

  it('signs the first checkpoint of an origin, then a consistent extension with its proof', async () => {
    await round2(0, log, 10);
    await round2(0, log, 17, [proofFrom(log, 10, 17)]);
    // The same checkpoint again needs no proof (same size, same root).
    await round2(0, log, 17);
    expect(await stores[0]!.lastCheckpoint(ORIGIN)).toEqual({ size: 17, rootHex: bytesToHex(log.root(17)) });
  });

  it('refuses a rewritten log (checkpoint.inconsistent), whatever proof the coordinator makes up', async () => {
    await round2(1, log, 10);
    const rewritten = tree(20, 'evil-');
    // The rewritten log's own proof, and the honest log's proof offered for the rewritten root.
    for (const proof of [proofFrom(rewritten, 10, 20), proofFrom(log, 10, 20), { from: 10, hashes: [] }]) {
      const e = await refusal(round2(1, rewritten, 20, [proof]));
      expect(e.rule).toBe('checkpoint.inconsistent');
      expect(e.details['signed_size']).toBe(10);
    }
    // Nothing was recorded: the honest extension still signs.
    await round2(1, log, 20, [proofFrom(log, 10, 20)]);
  });

  it('refuses a larger checkpoint without a proof from its last signed size as checkpoint.behind, in its signed refusal', async () => {
    await round2(2, log, 10);
    // No proof, and a proof from another size (the coordinator's idea of the previous checkpoint).
    for (const consistency of [undefined, [proofFrom(log, 12, 30)]]) {
      const e = await refusal(round2(2, log, 30, consistency));
      expect(e.rule).toBe('checkpoint.behind');
      expect(e.details['signed_size']).toBe(10);
      // The size comes from the party's own signed refusal.
      const signed = validateEnvelope(e.details['refusal']);
      verifyEnvelope(signed, set.keys[2]!.publicKey);
      expect((signed.payload as { body: { refused: unknown } }).body.refused).toEqual({
        rule: 'checkpoint.behind',
        message: e.message.slice(`${set.roster.parties[2]!.id}: `.length),
        signed_size: 10,
      });
    }
    // With the proof from there among others, it catches up.
    await round2(2, log, 30, [proofFrom(log, 12, 30), proofFrom(log, 10, 30)]);
  });

  it('keeps fork and rollback refusals; a party with no log_origin pins the first origin it signs and refuses others', async () => {
    await round2(3, log, 10);
    const other = tree(10, 'other-');
    expect((await refusal(round2(3, other, 10))).rule).toBe('checkpoint.fork');
    expect((await refusal(round2(3, log, 9))).rule).toBe('checkpoint.rollback');
    // A side log under a fresh origin is not trusted on first use: the party witnesses one log.
    const side = await refusal(round2(3, other, 5, undefined, 'aaps.test/other'));
    expect(side.rule).toBe('checkpoint.origin');
    expect(side.message).toContain(ORIGIN);
    expect(await stores[3]!.lastCheckpoint('aaps.test/other')).toBeUndefined();
    expect(stores[3]!.pinnedLogOrigin()).toBe(ORIGIN);
    await round2(3, log, 12, [proofFrom(log, 10, 12)]);
  });

  it('refuses malformed proofs before any claim', async () => {
    const e = await round2(4, log, 10, [{ from: 3, hashes: ['zz'] }]).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DECODE_FAILED' });
    expect(await stores[4]!.lastCheckpoint(ORIGIN)).toBeUndefined();
  });

  it('records no checkpoint for a signing package it could never sign', async () => {
    // Party 0 last signed size 17; a root at 30 of another history could never be claimed either,
    // but these packages fail before the claim.
    const forked = tree(30, 'unsignable-');
    // Party 0's round two over a package of parties 1, 2 and 3: no commitment of its own.
    const e = await round2(0, forked, 30, undefined, ORIGIN, 1).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'MISSING_OWN_COMMITMENT' });
    const signed17 = { size: 17, rootHex: bytesToHex(log.root(17)) };
    expect(await stores[0]!.lastCheckpoint(ORIGIN)).toEqual(signed17);
    // Nor for one whose other commitments do not decode (found only in signing).
    const session = `w-${sessions++}`;
    const [own, second, third] = await commitmentsFor(0, session);
    const unsignable = {
      commitments: [own!, { ...second!, hiding: new Uint8Array(32) }, third!],
      message: new TextEncoder().encode(
        formatCheckpoint({ origin: ORIGIN, size: 30, rootHash: forked.root(30), extensions: [] }),
      ),
    };
    const bad = await client
      .call(set.roster.parties[0]!.id, 'sign.round2', session, {
        signing_package: SigningPackageCodec.toJSON(suite.id, unsignable),
        subject: {
          kind: 'checkpoint',
          origin: ORIGIN,
          tree_size: 30,
          root_hash: bytesToHex(forked.root(30)),
          consistency: [proofFrom(forked, 17, 30)],
        },
      })
      .catch((x: unknown) => x);
    expect(bad).toMatchObject({ code: 'INVALID_POINT' });
    expect(await stores[0]!.lastCheckpoint(ORIGIN)).toEqual(signed17);
    // So the true log's size 30 is no fork: nothing was signed at 30.
    await round2(0, log, 30, [proofFrom(log, 17, 30)]);
  });

  it('a party told its log origin signs no other: a fresh origin is not trusted on first use', async () => {
    const rewritten = tree(40, 'rewritten-');
    expect((await refusal(round2(4, rewritten, 20, undefined, 'aaps.test/fresh'))).rule).toBe(
      'checkpoint.origin',
    );
    expect(await stores[4]!.lastCheckpoint('aaps.test/fresh')).toBeUndefined();
    await round2(4, log, 10);
  });
});

describe('a party signs evidence only with an aggregation record it confirmed itself', () => {
  const subjectOf = (incident: string) => ({
    incident_id: incident,
    action: 'image_rollback',
    namespace: 'shop',
    factors: LOW_RISK,
  });
  let pooled: { ref: AggregationRef; record: Record<string, unknown> }[];

  beforeAll(async () => {
    // Two real pooled-risk rounds over the in-process parties, each confirmed by all five.
    pooled = [];
    for (const incident of ['inc-ev-1', 'inc-ev-2']) {
      const sessionId = `risk-${incident}`;
      const out = await runAggregationOverHttp(client, {
        circuitId: POOLED_RISK_CIRCUIT,
        sessionId,
        inputs: {},
        derive: subjectOf(incident),
        confirm: true,
      });
      expect(out.confirmed).toHaveLength(5);
      pooled.push({
        ref: {
          circuit: POOLED_RISK_CIRCUIT,
          session_id: sessionId,
          output_digest: out.digest,
          value: out.pooledRisk!,
        },
        record: JSON.parse(encodeAggregationRecordJson(out.record)) as Record<string, unknown>,
      });
    }
  });

  /**
   * Party `p`'s round two over the evidence of `incident`, whose strategy decision cites `ref` and
   * whose bundle carries `record`; resolves to its share, or rejects with its refusal.
   */
  async function signEvidence(
    p: number,
    incident: string,
    ref: AggregationRef,
    record: Record<string, unknown>,
  ) {
    const base = proposalFor('image_rollback', { incident_id: incident }, LOW_RISK);
    const proposal = proposalFor(
      'image_rollback',
      {
        incident_id: incident,
        risk: { ...base.risk, score: Math.max(base.risk.score, ref.value), aggregation_ref: ref },
      },
      LOW_RISK,
    );
    const decision = strategyDecision(set, incident, proposal, 'pooled');
    const transcript = [JSON.parse(JSON.stringify(decision))];
    const signers = [p, (p + 1) % 5, (p + 2) % 5].sort((a, b) => a - b).map((i) => set.roster.parties[i]!.id);
    const payload = needsHumanStatement(set, {
      incident,
      proposal,
      transcript,
      signers,
      groupPublicKey,
      aggregation: record,
    });
    const session = `ev-${sessions++}`;
    const commitments = await commitmentsFor(p, session);
    return evidenceRoundTwo(client, set.roster.parties[p]!.id, session, commitments, payload, transcript);
  }

  it('signs the record the proposal cites, which it confirmed for that incident', async () => {
    const [one] = pooled;
    for (const p of [0, 2, 4]) {
      const share = await signEvidence(p, 'inc-ev-1', one!.ref, one!.record);
      expect(share.share.length).toBeGreaterThan(0);
    }
  });

  it("refuses another confirmed round's record in the bundle (evidence.aggregation)", async () => {
    const [one, two] = pooled;
    expect((await refusal(signEvidence(0, 'inc-ev-1', one!.ref, two!.record))).rule).toBe(
      'evidence.aggregation',
    );
  });

  it('refuses a reference it confirmed for another incident, record and all (its ledger)', async () => {
    // The Statement is consistent with the reference; only the party's ledger knows the round
    // pooled another incident's scores.
    const [, two] = pooled;
    expect((await refusal(signEvidence(1, 'inc-ev-1', two!.ref, two!.record))).rule).toBe(
      'evidence.aggregation',
    );
  });

  it('pins the circuit the parties load: evidence ships its digest', () => {
    const shipped = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).get(POOLED_RISK_CIRCUIT);
    expect(shipped?.digestHex).toBe(POOLED_RISK_CIRCUIT_SHA256);
  });
});
