/**
 * Non-interactive zero-knowledge proof that a Pedersen commitment `C = xG + rH` holds an integer
 * `x` in `[lo, hi]`.
 *
 * With `R = hi - lo` and `k = bitlen(R)`, the prover writes `x - lo = sum_j b_j w_j` with bits `b_j`
 * and weights `w_j = 2^j` for `j < k-1` and `w_{k-1} = R - 2^{k-1} + 1`: every bit pattern then
 * lands in `[0, R]` and every value of `[0, R]` has one, so no second range is needed when `R + 1`
 * is not a power of two. Each bit gets a commitment `B_j = b_j G + r_j H` with the `r_j` chosen so
 * that `sum_j w_j B_j = C - lo*G` exactly (the verifier checks that equation), and a
 * Cramer-Damgard-Schoenmakers OR-proof that `B_j` or `B_j - G` is a multiple of `H`. One
 * Fiat-Shamir challenge covers all bits; it hashes a caller-given context (circuit, session, party,
 * input) under {@link RANGE_PROOF_DST}, so a proof cannot be replayed in another place.
 *
 * Wire form: for each bit, `B_j || c0 || c1 || z0 || z1` (one element, four scalars).
 */

import { assertBytes, utf8 } from '../bytes.js';
import type { Culprit } from '../errors.js';
import { AapsError, ProtocolError, ValidationError } from '../errors.js';
import { assertBigint, assertFunction, assertObject, assertString, assertSuite } from '../guards.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
import { commitElements } from './fixed-base.js';
import { elementBytes, transcript } from './transcript.js';

/** Domain-separation tag of the range proof's Fiat-Shamir challenge. */
export const RANGE_PROOF_DST = 'AAPS-QUORUM-v1-range-proof';
const DST = utf8(RANGE_PROOF_DST);

/** Widest range a proof may cover: `hi - lo < 2^128`. */
export const MAX_RANGE_BITS = 128;

/** The bit weights for `[lo, hi]` (see the module comment). */
export function rangeWeights(lo: bigint, hi: bigint): bigint[] {
  if (typeof lo !== 'bigint' || typeof hi !== 'bigint' || hi <= lo) {
    throw new ValidationError('INVALID_ARGUMENT', 'range: expected bigints lo < hi', ['range']);
  }
  const R = hi - lo;
  const k = R.toString(2).length;
  if (k > MAX_RANGE_BITS) {
    throw new ValidationError('INVALID_ARGUMENT', `range: hi - lo must be below 2^${MAX_RANGE_BITS}`, [
      'range',
    ]);
  }
  const w: bigint[] = [];
  for (let j = 0; j < k - 1; j++) w.push(1n << BigInt(j));
  w.push(R - (1n << BigInt(k - 1)) + 1n);
  return w;
}

/** Byte length of a proof for `[lo, hi]` in this suite. */
export function rangeProofLength<E>(suite: Ciphersuite<E>, lo: bigint, hi: bigint): number {
  assertSuite(suite);
  return rangeWeights(lo, hi).length * (suite.group.elementLength + 4 * suite.field.BYTES);
}

/**
 * The context a range proof is bound to. Every part is length-prefixed; `bind` carries anything
 * else the caller wants bound (the aggregation session digest).
 */
export function rangeProofContext(args: {
  circuitId: string;
  sessionId: string;
  party: string;
  input: string;
  bind?: Uint8Array;
}): Uint8Array {
  assertObject(args, 'args');
  for (const k of ['circuitId', 'sessionId', 'party', 'input'] as const) assertString(args[k], `args.${k}`);
  if (args.bind !== undefined) assertBytes(args.bind, 'args.bind');
  return transcript(
    'circuit',
    args.circuitId,
    'session',
    args.sessionId,
    'party',
    args.party,
    'input',
    args.input,
    'bind',
    args.bind ?? new Uint8Array(0),
  );
}

export interface RangeStatement<E> {
  readonly commitment: E;
  readonly lo: bigint;
  readonly hi: bigint;
  readonly context: Uint8Array;
}

function challenge<E>(suite: Ciphersuite<E>, st: RangeStatement<E>, Bs: readonly E[], As: readonly E[]) {
  const g = suite.group;
  return suite.hashToScalar(
    transcript(
      suite.id,
      st.context,
      st.lo,
      st.hi,
      elementBytes(g, st.commitment),
      ...Bs.map((b) => elementBytes(g, b)),
      ...As.map((a) => elementBytes(g, a)),
    ),
    DST,
  );
}

/** `sum_j w_j B_j` with `w_j = 2^j` below the top bit: doublings instead of multiplications. */
function weightedSum<E>(suite: Ciphersuite<E>, Bs: readonly E[], w: readonly bigint[]): E {
  const g = suite.group;
  const k = Bs.length;
  let acc = g.zero;
  for (let j = k - 2; j >= 0; j--) acc = g.add(g.add(acc, acc), Bs[j]!);
  return g.add(acc, g.mul(Bs[k - 1]!, w[k - 1]!));
}

/** A statement's fields, by type (the commitment is an element of the suite's group). */
function checkStatement<E>(statement: RangeStatement<E>): void {
  assertObject(statement, 'statement');
  if (statement.commitment === undefined || statement.commitment === null) {
    throw new ValidationError('INVALID_ARGUMENT', 'statement.commitment: expected a group element', [
      'statement.commitment',
    ]);
  }
  assertBytes(statement.context, 'statement.context');
}

/**
 * Prove that `commitment = value*G + blinding*H` holds `value` in `[lo, hi]`. The caller computed the
 * commitment; a value outside the range cannot be proved and is refused.
 */
export function proveRange<E>(
  suite: Ciphersuite<E>,
  statement: RangeStatement<E>,
  witness: { value: bigint; blinding: bigint },
  rng: Rng,
): Uint8Array {
  assertSuite(suite);
  checkStatement(statement);
  assertObject(witness, 'witness');
  assertBigint(witness.value, 'witness.value');
  assertBigint(witness.blinding, 'witness.blinding');
  assertFunction(rng, 'rng');
  const { lo, hi } = statement;
  const w = rangeWeights(lo, hi);
  const k = w.length;
  const v = witness.value - lo;
  if (v < 0n || v > hi - lo) {
    throw new ValidationError('INVALID_ARGUMENT', 'value: outside the declared range', ['value']);
  }
  const F = suite.field;
  const g = suite.group;
  // Bits: low bits for v below 2^(k-1), else the top weight plus low bits for the rest.
  const top = 1n << BigInt(k - 1);
  const useTop = k > 1 ? v >= top : v === 1n;
  const rest = useTop ? v - w[k - 1]! : v;
  const bits: number[] = [];
  for (let j = 0; j < k - 1; j++) bits.push(Number((rest >> BigInt(j)) & 1n));
  bits.push(useTop ? 1 : 0);
  // Blindings: random, but the top one closes sum_j w_j r_j = blinding.
  const r: bigint[] = [];
  let acc = 0n;
  for (let j = 0; j < k - 1; j++) {
    r.push(F.random(rng));
    acc = F.add(acc, F.mul(w[j]!, r[j]!));
  }
  r.push(F.mul(F.sub(F.create(witness.blinding), acc), F.inv(w[k - 1]!)));
  // Every point the prover needs is a commitment to scalars it knows: B_j = b_j G + r_j H, the real
  // branch's k_j H, and the simulated branch's z H - c (B_j - beta G) = -c (b_j - beta) G + (z - c r_j) H.
  // So one fixed-base batch (one inversion) computes them all, with no variable-base multiplication.
  const nonces: bigint[] = [];
  const simC: bigint[] = [];
  const simZ: bigint[] = [];
  const pairs: [bigint | undefined, bigint, number?][] = [];
  for (let j = 0; j < k; j++) {
    const b = bits[j]!;
    const kj = F.random(rng);
    const c = F.random(rng);
    const z = F.random(rng);
    nonces.push(kj);
    simC.push(c);
    simZ.push(z);
    // b_j - beta = 2 b_j - 1 (beta = 1 - b_j is the false branch).
    const gs = b === 1 ? F.neg(c) : c;
    pairs.push([BigInt(b), r[j]!, 1], [undefined, kj], [gs, F.sub(z, F.mul(c, r[j]!))]);
  }
  const pts = commitElements(suite, pairs);
  const Bs: E[] = [];
  const As: E[] = [];
  for (let j = 0; j < k; j++) {
    Bs.push(pts[3 * j]!);
    const real = pts[3 * j + 1]!;
    const sim = pts[3 * j + 2]!;
    if (bits[j] === 0) As.push(real, sim);
    else As.push(sim, real);
  }
  const c = challenge(suite, statement, Bs, As);
  const parts: Uint8Array[] = [];
  for (let j = 0; j < k; j++) {
    const b = bits[j]!;
    const cReal = F.sub(c, simC[j]!);
    const zReal = F.add(nonces[j]!, F.mul(cReal, r[j]!));
    const [c0, c1, z0, z1] =
      b === 0 ? [cReal, simC[j]!, zReal, simZ[j]!] : [simC[j]!, cReal, simZ[j]!, zReal];
    parts.push(g.serialize(Bs[j]!), F.toBytes(c0), F.toBytes(c1), F.toBytes(z0), F.toBytes(z1));
  }
  const out = new Uint8Array(k * (g.elementLength + 4 * F.BYTES));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Check a range proof. Anything wrong (length, encodings, equations) is
 * `ProtocolError('INVALID_RANGE_PROOF')` naming `provider`.
 */
export function verifyRangeProof<E>(
  suite: Ciphersuite<E>,
  statement: RangeStatement<E>,
  proof: Uint8Array,
  provider: Culprit,
): void {
  assertSuite(suite);
  checkStatement(statement);
  assertString(provider, 'provider');
  const fail = (why: string, cause?: unknown): never => {
    throw new ProtocolError('INVALID_RANGE_PROOF', `range proof from ${provider}: ${why}`, [provider], {
      cause,
      details: { provider },
    });
  };
  const w = rangeWeights(statement.lo, statement.hi);
  const k = w.length;
  const g = suite.group;
  const F = suite.field;
  const EL = g.elementLength;
  const SB = F.BYTES;
  const per = EL + 4 * SB;
  if (!(proof instanceof Uint8Array) || proof.length !== k * per) {
    fail(`expected ${k * per} bytes`);
  }
  const Bs: E[] = [];
  const cBs: E[] = [];
  const cs: bigint[] = [];
  const pairs: [bigint | undefined, bigint][] = [];
  try {
    for (let j = 0; j < k; j++) {
      const o = j * per;
      const bytes = proof.subarray(o, o + EL);
      const field = `rangeProof.bits[${j}].commitment`;
      const sc = (i: number, name: string) =>
        F.fromBytes(proof.subarray(o + EL + i * SB, o + EL + (i + 1) * SB), `rangeProof.bits[${j}].${name}`);
      const c0 = sc(0, 'c0');
      const c1 = sc(1, 'c1');
      const z0 = sc(2, 'z0');
      const z1 = sc(3, 'z1');
      // A0 = z0 H - c0 B and A1 = z1 H - c1 (B - G) = (c1 G + z1 H) - c1 B. The multiplications by B
      // decode it strictly (libsodium: validation fused into each multiplication).
      const B = suite.backend === 'noble' ? g.deserialize(bytes, field) : undefined;
      cBs.push(
        B === undefined ? g.deserializeMul(bytes, c0, field) : g.mul(B, c0),
        B === undefined ? g.deserializeMul(bytes, c1, field) : g.mul(B, c1),
      );
      Bs.push(B ?? (Uint8Array.from(bytes) as unknown as E));
      pairs.push([undefined, z0], [c1, z1]);
      cs.push(F.add(c0, c1));
    }
  } catch (cause) {
    if (cause instanceof AapsError) fail('malformed', cause);
    throw cause;
  }
  const fixed = commitElements(suite, pairs);
  const As: E[] = fixed.map((f, i) => g.sub(f, cBs[i]!));
  const shifted = g.sub(statement.commitment, g.mulBase(F.create(statement.lo)));
  if (!g.equals(weightedSum(suite, Bs, w), shifted)) fail('bit commitments do not sum to the input');
  const c = challenge(suite, statement, Bs, As);
  for (let j = 0; j < k; j++) if (cs[j] !== c) fail(`bit ${j} OR-proof does not verify`);
}
