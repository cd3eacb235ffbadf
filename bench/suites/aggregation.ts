/**
 * Secret-shared aggregation (mpc-core `aggregation/`), all parties in one process, libsodium
 * Ed25519 backend.
 *
 * - `agg.weighted-risk.5parties`: one verified round of `circuits/weighted-risk.json`, 3-of-5:
 *   five range-proved dealings, each of the five parties checks every dealing (range proofs and
 *   its shares), evaluates, the opening checks every result share, then the record is encoded and
 *   verified offline. Per-party work in a 5-process deployment is about a fifth of this.
 * - `agg.rangeproof.prove` / `.verify`: one 0..100 input (7 bit commitments + OR-proofs).
 * - `agg.sum.5parties.1000inputs`: element-wise sum of 1,000 inputs per party, as one vector
 *   input per party (no range proofs; `bench/fixtures/bulk-circuit.ts`): each dealer commits to its
 *   vector with t Pedersen vector commitments, every party checks every share vector it receives
 *   against them (one batched random-linear-combination check per party), evaluates, and the
 *   1,000-element output is opened with every result share checked.
 *   `agg.sum.1000inputs.verify1` is one party's check of its five dealings (commitment decoding
 *   included). `agg.sum.5parties.1000inputs.scalar` is the same computation with 1,000 scalar
 *   inputs per party (5,000 dealings, 3 commitments each): the form before vector inputs.
 *
 * The JIFF peer (5 processes on loopback, unverified) is measured by `aggregation-http.ts` from
 * `bench/peers/jiff/` when that harness is installed; see docs/aggregation.md.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type AnyCiphersuite,
  buildAggregationRecord,
  createAggregationSession,
  dealInput,
  dealInputs,
  encodeAggregationRecordCbor,
  evaluateShares,
  getCiphersuite,
  type InputDealing,
  identifierFromNumber,
  loadCircuit,
  loadFastBackends,
  openResult,
  pedersenCommit,
  proveRange,
  rangeProofContext,
  verifyAggregation,
  verifyDealings,
  verifyRangeProof,
} from '@aaps/mpc-core';
import { type BulkForm, bulkCircuitJson, ROLES } from '../fixtures/bulk-circuit.js';
import type { AddRow, SuiteContext } from '../harness.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

function circuitFile(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../../circuits/${name}.json`, import.meta.url), 'utf8'));
}

function partiesOf(suite: AnyCiphersuite) {
  return ROLES.map((role, i) => ({ id: identifierFromNumber(suite, i + 1), role }));
}

function weightedRiskRound(suite: AnyCiphersuite) {
  const circuit = loadCircuit(circuitFile('weighted-risk'));
  const parties = partiesOf(suite);
  let n = 0;
  return () => {
    const session = createAggregationSession(suite, {
      circuit,
      sessionId: `bench-${n++}`,
      threshold: 3,
      parties,
    });
    const dealings = circuit.inputs.map((inp, i) =>
      dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: 17 * (i + 1) }, rng),
    );
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
    );
    // The record check below verifies every range proof once more; the opener skips them.
    const opened = openResult(session, dealings, shares, rng, { verifyProofs: false });
    const record = buildAggregationRecord(session, dealings, opened);
    const v = verifyAggregation(encodeAggregationRecordCbor(record), { circuit });
    if (v.outputs[0]!.value !== 17n * (3n + 4n + 6n + 8n + 5n)) throw new Error('wrong weighted-risk result');
  };
}

function rangeProofRows(suite: AnyCiphersuite) {
  const blinding = suite.field.random(rng);
  const commitment = pedersenCommit(suite, 42n, blinding);
  const context = rangeProofContext({
    circuitId: 'weighted-risk',
    sessionId: 'b',
    party: 'p',
    input: 'risk.audit',
  });
  const statement = { commitment, lo: 0n, hi: 100n, context };
  const proof = proveRange(suite, statement, { value: 42n, blinding }, rng);
  return {
    prove: () => proveRange(suite, statement, { value: 42n, blinding }, rng),
    verify: () => verifyRangeProof(suite, statement, proof, 'p'),
  };
}

/**
 * One bulk round in one process: each role deals its `m` values (role r's element k is
 * `(k * 5 + r) % 1000`), every party checks all it received and evaluates, the opening checks
 * every result share. `verifyOne` is one party's check of all dealings, from fresh encodings.
 */
function bulkSum(suite: AnyCiphersuite, m: number, form: BulkForm) {
  const circuit = loadCircuit(bulkCircuitJson(m, form));
  const parties = partiesOf(suite);
  let n = 0;
  const session = () =>
    createAggregationSession(suite, { circuit, sessionId: `bulk-${n++}`, threshold: 3, parties });
  const element = (r: number, k: number) => (k * 5 + r) % 1000;
  /** Role r's values: one vector input, or one scalar input per element. */
  const valuesOf = (role: string, r: number) =>
    form === 'vector'
      ? [{ input: `x.${role}`, value: Array.from({ length: m }, (_, k) => element(r, k)) }]
      : Array.from({ length: m }, (_, k) => ({ input: `x${k}.${role}`, value: element(r, k) }));
  const deal = (s: ReturnType<typeof session>) =>
    ROLES.flatMap((role, r) => dealInputs(s, { dealer: parties[r]!.id, values: valuesOf(role, r) }, rng));
  const last = ROLES.reduce((acc, _role, r) => acc + BigInt(element(r, m - 1)), 0n);
  const full = () => {
    const s = session();
    const dealings = deal(s);
    const shares = parties.flatMap((p) => evaluateShares(s, p.id, verifyDealings(s, dealings, p.id, rng)));
    const opened = openResult(s, dealings, shares, rng);
    const value =
      form === 'vector'
        ? (opened.outputs[0]!.value as readonly bigint[])[m - 1]
        : opened.outputs[m - 1]!.value;
    if (value !== last) throw new Error('wrong bulk sum');
  };
  let prepared: { s: ReturnType<typeof session>; dealings: InputDealing[] } | undefined;
  const verifyOne = () => {
    const { s, dealings } = prepared!;
    const fresh = dealings.map((d) => ({ ...d, commitments: d.commitments.map((c) => c.slice()) }));
    verifyDealings(s, fresh, parties[0]!.id, rng);
  };
  const setup = () => {
    const s = session();
    prepared = { s, dealings: deal(s) };
  };
  return { full, verifyOne, setup };
}

export async function register(ctx: SuiteContext & AddRow): Promise<void> {
  await loadFastBackends();
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  ctx('agg.weighted-risk.5parties', 'mpc-core', weightedRiskRound(suite), { iterations: 10, time: 500 });
  const rp = rangeProofRows(suite);
  ctx('agg.rangeproof.prove', 'mpc-core', rp.prove, { iterations: 30, time: 500 });
  ctx('agg.rangeproof.verify', 'mpc-core', rp.verify, { iterations: 30, time: 500 });
  const bulk = bulkSum(suite, 1000, 'vector');
  // The warm-up iterations derive the generators and build their tables (once per process, as
  // a party node does) before anything is timed.
  ctx('agg.sum.5parties.1000inputs', 'mpc-core', bulk.full, { iterations: 3, time: 1 });
  ctx('agg.sum.1000inputs.verify1', 'mpc-core', bulk.verifyOne, {
    iterations: 5,
    time: 1,
    setup: bulk.setup,
  });
  const scalar = bulkSum(suite, 1000, 'scalar');
  ctx('agg.sum.5parties.1000inputs.scalar', 'mpc-core', scalar.full, { iterations: 1, time: 1 });
  ctx.ratio({
    label: 'agg.sum.5parties.1000inputs: one vector input per party vs 1,000 scalar inputs per party',
    numerator: { name: 'agg.sum.5parties.1000inputs', impl: 'mpc-core' },
    denominator: { name: 'agg.sum.5parties.1000inputs.scalar', impl: 'mpc-core' },
  });
}
