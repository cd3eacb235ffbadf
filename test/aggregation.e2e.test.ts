/**
 * Secret-shared aggregation across five real party processes on loopback: each party deals its own
 * sealed input with a range proof, checks every dealing, evaluates on shares; the coordinator opens
 * with every result share checked and builds a record `verifyAggregation` checks offline. Sealed
 * (caller-supplied) inputs run on `weighted-e2e`, a copy of `weighted-risk` under another id: the
 * pooled-risk circuit itself takes derived inputs only (test/pooled-risk-binding.e2e.test.ts). Lying
 * parties are simulated by a transport that rewrites one party's answer and signs it again with
 * that party's own identity key: to the coordinator it is exactly that party lying.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  aggregationBodyAllowance,
  type CircuitCatalog,
  type ClusterLayout,
  DEFAULT_PARTIES,
  frostIdentifier,
  loadOrCreateIdentityKey,
  PartyClient,
  type PartyProcess,
  readCircuitCatalog,
  runAggregationOverHttp,
  SHIPPED_CIRCUITS_DIR,
  startCluster,
} from '@aaps/agents';
import {
  AapsError,
  base64Decode,
  base64Encode,
  createAggregationSession,
  dealInput,
  decodeAggregationRecordJson,
  encodeAggregationRecordCbor,
  encodeAggregationRecordJson,
  getCiphersuite,
  type IdentityKey,
  loadCircuit,
  loadFastBackends,
  type SignedEnvelope,
  signEnvelope,
  VerificationError,
  verifyAggregation,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import weightedRiskJson from '../circuits/weighted-risk.json' with { type: 'json' };
import {
  aggregationParties,
  ChannelKeys,
  encodeDealerPayload,
  SEALED_INPUT_SUBJECT,
  sealShares,
  signDealerPayload,
} from '../packages/agents/src/party/routes/aggregation.js';
import { rosterDigest } from '../packages/agents/src/roster.js';

const suite = () => getCiphersuite('FROST-ED25519-SHA512-v1');
const rng = (n: number) => new Uint8Array(globalThis.crypto.getRandomValues(new Uint8Array(n)));
let dir: string;
let layout: ClusterLayout;
let procs: PartyProcess[];
let client: PartyClient;
/** The shipped circuits and the vector circuit below, installed at every party. */
let catalog: CircuitCatalog;

/** The weighted-risk weights and ranges, for inputs the caller seals (weighted-risk refuses them). */
const weightedJson = { ...weightedRiskJson, id: 'weighted-e2e', description: 'weighted-risk, sealed inputs' };
const WEIGHTED_ID = weightedJson.id;

const VECTOR_LENGTH = 16;
const ROLE_OF: Record<string, string> = Object.fromEntries(DEFAULT_PARTIES.map((p) => [p.id, p.role]));
/** Per role a 16-element vector of counts (0..500) and a 0..100 score; weighted sums of both. */
const vectorCircuitJson = {
  format: 'aaps-circuit/v1',
  id: 'vector-e2e',
  version: 1,
  inputs: Object.values(ROLE_OF).flatMap((role) => [
    { name: `counts.${role}`, role, range: { min: 0, max: 500 }, rangeProof: false, length: VECTOR_LENGTH },
    { name: `score.${role}`, role, range: { min: 0, max: 100 } },
  ]),
  outputs: [
    {
      name: 'counts',
      terms: Object.values(ROLE_OF).map((role, i) => ({ input: `counts.${role}`, weight: i + 1 })),
      constant: 3,
    },
    { name: 'score', terms: Object.values(ROLE_OF).map((role) => ({ input: `score.${role}` })) },
  ],
};
const countsOf = (party: number) =>
  Array.from({ length: VECTOR_LENGTH }, (_, k) => (k * 31 + party * 7) % 501);

/** One vector per role longer than a 1 MiB body holds for five dealers (about 43 bytes an element each). */
const LONG_LENGTH = 5_000;
const longCircuitJson = {
  format: 'aaps-circuit/v1',
  id: 'vector-long-e2e',
  version: 1,
  inputs: Object.values(ROLE_OF).map((role) => ({
    name: `x.${role}`,
    role,
    range: { min: 0, max: 1000 },
    rangeProof: false,
    length: LONG_LENGTH,
  })),
  outputs: [{ name: 'sum', terms: Object.values(ROLE_OF).map((role) => ({ input: `x.${role}` })) }],
};

const SCORES: Record<string, number> = {
  'monitoring-agent': 80,
  'problem-solver-agent': 40,
  'strategy-agent': 10,
  'quality-assurance-agent': 100,
  'audit-agent': 0,
};
/** 3*80 + 2*40 + 2*10 + 2*100 + 1*0 */
const WEIGHTED = 540n;

function partyKey(id: string): IdentityKey {
  return loadOrCreateIdentityKey(join(layout.dir, 'parties', id, 'identity.key'), false);
}

function identifierOf(id: string): string {
  return frostIdentifier(layout.roster, layout.roster.parties.find((p) => p.id === id)!);
}

type Rewrite = (body: Record<string, unknown>, sessionId: string) => Record<string, unknown>;

/** A transport on which `party` answers `path` with `rewrite(body)`, signed with its own key. */
function lyingClient(party: string, path: string, rewrite: Rewrite): PartyClient {
  const url = new URL(layout.roster.parties.find((p) => p.id === party)!.url);
  const key = partyKey(party);
  const lying: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const target = new URL(String(input));
    if (target.host !== url.host || target.pathname !== path || !res.ok) return res;
    const env = (await res.json()) as SignedEnvelope<{ body: Record<string, unknown>; session_id: string }>;
    const forged = signEnvelope(
      {
        ...env,
        meta: { ...env.meta, signature: undefined },
        payload: { ...env.payload, body: rewrite(env.payload.body, env.payload.session_id) },
      } as SignedEnvelope<{ body: Record<string, unknown>; session_id: string }>,
      key.secretKey,
    );
    return new Response(JSON.stringify(forged), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  return new PartyClient({
    roster: layout.roster,
    caller: { id: 'gateway', key: layout.gatewayKey },
    fetch: lying,
  });
}

/** A rewrite of `agg.evaluate` answers adding 1 to one element of the result shares (of `output`, or all). */
function bumpShare(output?: string, element = 0): Rewrite {
  const F = suite().field;
  const SL = F.BYTES;
  return (body) => {
    const shares = body.result_shares as { output: string; share: string; blinding: string }[];
    return {
      ...body,
      result_shares: shares.map((s) => {
        if (output !== undefined && s.output !== output) return s;
        const bytes = base64Decode(s.share);
        const at = element * SL;
        bytes.set(F.toBytes(F.add(F.fromBytes(bytes.subarray(at, at + SL)), 1n)), at);
        return { ...s, share: base64Encode(bytes) };
      }),
    };
  };
}

async function refusal(p: Promise<unknown>): Promise<AapsError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AapsError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('secret-shared aggregation across 5 party processes', () => {
  beforeAll(async () => {
    await loadFastBackends();
    dir = mkdtempSync(join(tmpdir(), 'aaps-agg-e2e-'));
    ({ layout, procs } = await startCluster(
      { dir, threshold: 3 },
      {
        prepare: (laid) => {
          for (const p of laid.roster.parties) {
            const circuitsDir = join(dir, 'parties', p.id, 'circuits');
            mkdirSync(circuitsDir, { recursive: true });
            writeFileSync(join(circuitsDir, 'vector-e2e.json'), JSON.stringify(vectorCircuitJson));
            writeFileSync(join(circuitsDir, 'vector-long-e2e.json'), JSON.stringify(longCircuitJson));
            writeFileSync(join(circuitsDir, 'weighted-e2e.json'), JSON.stringify(weightedJson));
          }
        },
      },
    ));
    catalog = new Map([
      ...readCircuitCatalog([SHIPPED_CIRCUITS_DIR]),
      ['vector-e2e', loadCircuit(vectorCircuitJson)],
      ['vector-long-e2e', loadCircuit(longCircuitJson)],
      [WEIGHTED_ID, loadCircuit(weightedJson)],
    ]);
    client = new PartyClient({ roster: layout.roster, caller: { id: 'gateway', key: layout.gatewayKey } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all((procs ?? []).map((p) => p.stop('SIGKILL')));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('weighted sealed inputs open to the plaintext weighted sum, and the record verifies offline', async () => {
    const out = await runAggregationOverHttp(client, {
      circuitId: WEIGHTED_ID,
      sessionId: 'agg-e2e-1',
      inputs: SCORES,
      circuits: catalog,
    });
    expect(out.result.weighted_risk).toBe(WEIGHTED);
    expect(out.outputs).toEqual([{ name: 'weighted_risk', value: WEIGHTED, scale: 1 }]);
    expect(out.culprits).toEqual([]);
    expect(out.openers).toHaveLength(3);
    const circuit = loadCircuit(weightedJson);
    const verified = verifyAggregation(encodeAggregationRecordCbor(out.record), { circuit });
    expect(verified.outputs[0]!.value).toBe(WEIGHTED);
    expect(Buffer.from(verified.digest).toString('hex')).toBe(out.digest);
    // The record names every provider by its FROST identifier and carries one range proof each.
    expect(out.record.inputs.map((i) => i.provider)).toEqual(Object.keys(SCORES).map(identifierOf));
    expect(out.record.inputs.every((i) => i.rangeProof instanceof Uint8Array)).toBe(true);
  });

  it('an out-of-range input is refused by its provider, which is listed, not blamed', async () => {
    // The caller's value is the fault; the party's error answer is unsigned and proves nothing.
    const e = await refusal(
      runAggregationOverHttp(client, {
        circuitId: WEIGHTED_ID,
        sessionId: 'agg-e2e-range',
        inputs: { ...SCORES, 'audit-agent': 101 },
        circuits: catalog,
      }),
    );
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect((e as { culprits?: string[] }).culprits).toEqual([]);
    expect((e.details as { refused: string[] }).refused).toEqual(['audit-agent']);
  });

  it('a dealer that shares an out-of-range value cannot prove its range: it is named', async () => {
    const dealer = 'strategy-agent';
    const circuit = loadCircuit(weightedJson);
    // The liar shares 150 under a circuit whose ranges it widened; its proof cannot fit the real one.
    const widened = loadCircuit({
      ...weightedJson,
      inputs: weightedJson.inputs.map((i) => ({ ...i, range: { min: 0, max: 200 } })),
    });
    const forge: Rewrite = (_body, sessionId) => {
      const session = createAggregationSession(suite(), {
        circuit: widened,
        sessionId,
        threshold: 3,
        parties: aggregationParties(layout.roster),
      });
      const d = dealInput(session, { input: 'risk.strategy', dealer: identifierOf(dealer), value: 150 }, rng);
      const digest = rosterDigest(layout.roster);
      const payload = encodeDealerPayload({
        session: sessionId,
        circuitDigestHex: circuit.digestHex,
        rosterDigest: digest,
        dealer,
        subject: SEALED_INPUT_SUBJECT,
        dealings: [d],
      });
      const key = partyKey(dealer);
      const channels = new ChannelKeys(key, dealer);
      return {
        dealing: signDealerPayload(key, payload),
        sealed: layout.roster.parties.map((receiver) =>
          sealShares({
            identity: key,
            channels,
            session: sessionId,
            dealer,
            receiver,
            rosterDigest: digest,
            payload,
            shares: [d.shares[frostIdentifier(layout.roster, receiver)]!],
          }),
        ),
      };
    };
    const e = await refusal(
      runAggregationOverHttp(lyingClient(dealer, '/v1/agg/deal', forge), {
        circuitId: WEIGHTED_ID,
        sessionId: 'agg-e2e-forged-range',
        inputs: SCORES,
        circuits: catalog,
      }),
    );
    expect(e.code).toBe('INVALID_RANGE_PROOF');
    expect((e as { culprits?: string[] }).culprits).toEqual([identifierOf(dealer)]);
    expect((e.details as { parties: string[] }).parties).toEqual([dealer]);
  });

  it('a party that lies in its result share is named and the opening still completes', async () => {
    const liar = 'problem-solver-agent';
    const out = await runAggregationOverHttp(lyingClient(liar, '/v1/agg/evaluate', bumpShare()), {
      circuitId: WEIGHTED_ID,
      sessionId: 'agg-e2e-liar',
      inputs: SCORES,
      circuits: catalog,
    });
    expect(out.result.weighted_risk).toBe(WEIGHTED);
    expect(out.culprits).toEqual([liar]);
    expect(out.openers).not.toContain(liar);
    expect(verifyAggregation(out.record).outputs[0]!.value).toBe(WEIGHTED);
  });

  it('two inputs per role (approval-tally) open both totals', async () => {
    const votes: Record<string, [number, number]> = {
      'monitoring-agent': [1, 0],
      'problem-solver-agent': [1, 0],
      'strategy-agent': [0, 1],
      'quality-assurance-agent': [1, 0],
      'audit-agent': [1, 1],
    };
    const out = await runAggregationOverHttp(client, {
      circuitId: 'approval-tally',
      sessionId: 'agg-e2e-tally',
      inputs: votes,
    });
    expect(out.result).toEqual({ approvals: 4n, vetoes: 2n });
    expect(verifyAggregation(out.record).outputs.map((o) => o.value)).toEqual([4n, 2n]);
  });

  it('vector inputs open element-wise, a lying element is named, an element out of range is refused', async () => {
    const ids = Object.keys(ROLE_OF);
    // Inputs by name (vector and scalar), or as the values in circuit order.
    const inputs = Object.fromEntries(
      ids.map((id, i) =>
        i % 2 === 0
          ? [id, { [`counts.${ROLE_OF[id]}`]: countsOf(i), [`score.${ROLE_OF[id]}`]: 10 * i }]
          : [id, [countsOf(i), 10 * i]],
      ),
    );
    const expected = Array.from({ length: VECTOR_LENGTH }, (_, k) =>
      ids.reduce((acc, _id, i) => acc + BigInt((i + 1) * countsOf(i)[k]!), 3n),
    );
    const out = await runAggregationOverHttp(client, {
      circuitId: 'vector-e2e',
      sessionId: 'agg-e2e-vector',
      inputs,
      circuits: catalog,
    });
    expect(out.result).toEqual({ counts: expected, score: 100n });
    const verified = verifyAggregation(encodeAggregationRecordJson(out.record), {
      circuit: catalog.get('vector-e2e')!,
    });
    expect(verified.outputs.map((o) => o.value)).toEqual([expected, 100n]);
    // One commitment per input, vector or not: the record stays small.
    expect(out.record.inputs.map((i) => i.commitment.length)).toEqual(ids.flatMap(() => [32, 32]));

    // A party whose result vector is off in one element is named; the others open it.
    const liar = 'strategy-agent';
    const lied = await runAggregationOverHttp(lyingClient(liar, '/v1/agg/evaluate', bumpShare('counts', 5)), {
      circuitId: 'vector-e2e',
      sessionId: 'agg-e2e-vector-liar',
      inputs,
      circuits: catalog,
    });
    expect(lied.result.counts).toEqual(expected);
    expect(lied.culprits).toEqual([liar]);

    // An element out of range, or a vector of the wrong length, is refused by its provider.
    const tooBig = countsOf(1).map((v, k) => (k === 9 ? 501 : v));
    const e = await refusal(
      runAggregationOverHttp(client, {
        circuitId: 'vector-e2e',
        sessionId: 'agg-e2e-vector-range',
        inputs: { ...inputs, 'problem-solver-agent': [tooBig, 10] },
        circuits: catalog,
      }),
    );
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect((e.details as { refused: string[] }).refused).toEqual(['problem-solver-agent']);
    const short = await refusal(
      runAggregationOverHttp(client, {
        circuitId: 'vector-e2e',
        sessionId: 'agg-e2e-vector-short',
        inputs: { ...inputs, 'problem-solver-agent': [countsOf(1).slice(1), 10] },
        circuits: catalog,
      }),
    );
    expect(short.code).toBe('INVALID_ARGUMENT');
    expect(short.message).toMatch(/16 integers/);
  });

  it("a vector too long for the plain 1 MiB body limit runs with the defaults: aggregation requests get the catalog's allowance", async () => {
    // The parties run with the default max_body_bytes (1 MiB); record what agg.evaluate carries.
    let largest = 0;
    const measuring: typeof fetch = (input, init) => {
      if (new URL(String(input)).pathname === '/v1/agg/evaluate')
        largest = Math.max(largest, Buffer.byteLength(init?.body as string | Uint8Array));
      return fetch(input, init);
    };
    const measured = new PartyClient({
      roster: layout.roster,
      caller: { id: 'gateway', key: layout.gatewayKey },
      fetch: measuring,
    });
    const ids = Object.keys(ROLE_OF);
    const vectorOf = (i: number) => Array.from({ length: LONG_LENGTH }, (_, k) => (k * 13 + i * 101) % 1001);
    const out = await runAggregationOverHttp(measured, {
      circuitId: 'vector-long-e2e',
      sessionId: 'agg-e2e-long',
      inputs: Object.fromEntries(ids.map((id, i) => [id, vectorOf(i)])),
      circuits: catalog,
      // What is tested is the body limit, not speed: five 5,000-element dealings get the default
      // timeout (35 s a call), which a machine running other tests beside this one can exceed.
      timeoutMs: 150_000,
    });
    expect(largest).toBeGreaterThan(1024 * 1024);
    expect(largest).toBeLessThan(1024 * 1024 + aggregationBodyAllowance(catalog, suite()));
    const expected = Array.from({ length: LONG_LENGTH }, (_, k) =>
      ids.reduce((acc, _id, i) => acc + BigInt(vectorOf(i)[k]!), 0n),
    );
    expect(out.result.sum).toEqual(expected);
    expect(out.culprits).toEqual([]);
  }, 300_000);

  it('a party refuses a circuit it does not run, another version of one, or an input its role does not provide', async () => {
    const party = layout.roster.parties[0]!.id;
    const unknown = await refusal(
      client.call(party, 'agg.deal', 'agg-e2e-unknown', { circuit: 'no-such-circuit', circuit_digest: '00' }),
    );
    expect(unknown.code).toBe('CIRCUIT_INVALID');
    const otherVersion = await refusal(
      client.call(party, 'agg.deal', 'agg-e2e-version', {
        circuit: 'weighted-risk',
        circuit_digest: 'ab'.repeat(32),
      }),
    );
    expect(otherVersion.code).toBe('CIRCUIT_INVALID');
    const notMine = await refusal(
      runAggregationOverHttp(client, {
        circuitId: WEIGHTED_ID,
        sessionId: 'agg-e2e-not-mine',
        inputs: { ...SCORES, 'monitoring-agent': { 'risk.audit': 5 } },
        circuits: catalog,
      }),
    );
    expect(notMine.code).toBe('FORBIDDEN');
    expect((notMine as { culprits?: string[] }).culprits).toEqual([]);
    expect((notMine.details as { refused: string[] }).refused).toEqual(['monitoring-agent']);
  });
  it('verifyAggregation rejects a changed byte anywhere in the record (CBOR and JSON)', async () => {
    const out = await runAggregationOverHttp(client, {
      circuitId: WEIGHTED_ID,
      sessionId: 'agg-e2e-bytes',
      inputs: SCORES,
      circuits: catalog,
    });
    const cbor = encodeAggregationRecordCbor(out.record);
    const json = encodeAggregationRecordJson(out.record);
    expect(decodeAggregationRecordJson(json)).toBeTruthy();
    const positions = (len: number) => {
      const step = Math.max(1, Math.floor(len / 60));
      const list: number[] = [];
      for (let i = 0; i < len; i += step) list.push(i);
      list.push(len - 1);
      return list;
    };
    for (const i of positions(cbor.length)) {
      const bad = cbor.slice();
      bad[i]! ^= 0x01;
      expect(() => verifyAggregation(bad), `CBOR byte ${i}`).toThrow(VerificationError);
    }
    const text = new TextEncoder().encode(json);
    for (const i of positions(text.length)) {
      const bad = text.slice();
      bad[i]! ^= 0x01;
      expect(() => verifyAggregation(new TextDecoder().decode(bad)), `JSON byte ${i}`).toThrow(
        VerificationError,
      );
    }
  });
});
