/**
 * Dealing pads: the input-independent half of a vector dealing, computed ahead of time.
 *
 * A dealer shares a vector `v` of length `L` with polynomials `f_i(X) = v_i + a_i1 X + ... +
 * a_i(t-1) X^(t-1)` and publishes `C_j = sum_i a_ij G_i + b_j H` (`vector.ts`). For `j >= 1` the
 * coefficients are fresh random scalars that do not depend on `v`, and their commitments are the
 * expensive part: `t - 1` multi-scalar multiplications over `L` generators with full-size scalars,
 * against one with the input's small values for `C_0`. A pad holds `a_.j`, `b_j` and `C_j` for
 * `j = 1 .. t-1`, so the dealing itself (`dealVector` with a pad) computes only `C_0` and the
 * shares. This is an offline/online split, as FROST's round-1 nonces are: a party prepares pads
 * while it is idle ({@link vectorPadSteps} pauses every few milliseconds so it can keep serving).
 *
 * A pad is secret (with the input, it fixes every share of its dealing) and single-use: it never
 * prints, is kept in memory only (a crash loses it, which is safe: nothing random is ever used
 * twice), and {@link VectorDealingPad.take} hands its parts out once.
 */
import { inspect } from 'node:util';
import { ValidationError } from '../errors.js';
import { assertObject, assertSuite } from '../guards.js';
import type { Ciphersuite, CiphersuiteId, Rng } from '../suite/types.js';
import { MAX_VECTOR_LENGTH } from './circuit.js';
import { type CurvePoint, mulH, runSteps, STEP_OPS } from './curve.js';
import { msmGeneratorsSteps, randomScalars } from './vector.js';

/** What a pad holds: per coefficient `j = 1 .. t-1`, the scalars `a_.j`, the blinding `b_j` and `C_j`. */
export interface VectorPadParts {
  readonly coefficients: readonly (readonly bigint[])[];
  readonly blindings: readonly bigint[];
  readonly points: readonly CurvePoint[];
}

/** Only this module mints pads (so no caller can make two over the same randomness). */
const MINT = Symbol('VectorDealingPad');

export class VectorDealingPad {
  readonly suiteId: CiphersuiteId;
  readonly length: number;
  readonly threshold: number;
  #parts: VectorPadParts | undefined;

  /** Made by {@link vectorPadSteps} / {@link prepareVectorPad} only. */
  constructor(
    mint: symbol,
    suiteId: CiphersuiteId,
    length: number,
    threshold: number,
    parts: VectorPadParts,
  ) {
    if (mint !== MINT) {
      throw new ValidationError('INVALID_ARGUMENT', 'a VectorDealingPad comes from prepareVectorPad only', [
        'pad',
      ]);
    }
    this.suiteId = suiteId;
    this.length = length;
    this.threshold = threshold;
    this.#parts = parts;
  }

  /** Whether the pad has been used (its parts handed out). */
  get used(): boolean {
    return this.#parts === undefined;
  }

  /** The parts, once; a second call is refused. */
  take(): VectorPadParts {
    const parts = this.#parts;
    if (parts === undefined) throw new ValidationError('INVALID_ARGUMENT', 'pad: already used', ['pad']);
    this.#parts = undefined;
    return parts;
  }

  toJSON(): string {
    return '<redacted>';
  }

  toString(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return `VectorDealingPad <redacted> (length ${this.length}, threshold ${this.threshold})`;
  }
}

function checkShape(length: unknown, threshold: unknown): void {
  if (!Number.isSafeInteger(length) || (length as number) < 2 || (length as number) > MAX_VECTOR_LENGTH) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `length: expected an integer in [2, ${MAX_VECTOR_LENGTH}]`,
      ['length'],
    );
  }
  if (!Number.isSafeInteger(threshold) || (threshold as number) < 2 || (threshold as number) > 1000) {
    throw new ValidationError('INVALID_THRESHOLD', 'threshold: expected an integer in [2, 1000]', [
      'threshold',
    ]);
  }
}

/**
 * Prepare a pad for a dealing of a `length`-element vector input at `threshold`, in steps: the
 * generator pauses (yields) after about `opsPerStep` point operations, so a caller can serve other
 * work between steps, and returns the pad. The first pad of a process also builds the generators'
 * tables, in the same steps.
 */
export function* vectorPadSteps<E>(
  suite: Ciphersuite<E>,
  shape: { length: number; threshold: number },
  rng: Rng,
  opsPerStep = STEP_OPS,
): Generator<void, VectorDealingPad, void> {
  assertSuite(suite);
  assertObject(shape, 'shape');
  checkShape(shape.length, shape.threshold);
  if (typeof opsPerStep !== 'number' || !(opsPerStep > 0)) {
    throw new ValidationError('INVALID_ARGUMENT', 'opsPerStep: expected a positive number', ['opsPerStep']);
  }
  if (typeof rng !== 'function')
    throw new ValidationError('INVALID_ARGUMENT', 'rng: expected a function', ['rng']);
  const F = suite.field;
  const coefficients: bigint[][] = [];
  const blindings: bigint[] = [];
  const points: CurvePoint[] = [];
  for (let j = 1; j < shape.threshold; j++) {
    const a = randomScalars(suite, rng, shape.length);
    const b = F.random(rng);
    const sum = yield* msmGeneratorsSteps(suite, a, opsPerStep);
    coefficients.push(a);
    blindings.push(b);
    points.push(sum.add(mulH(suite, b)));
    yield;
  }
  return new VectorDealingPad(MINT, suite.id, shape.length, shape.threshold, {
    coefficients,
    blindings,
    points,
  });
}

/** {@link vectorPadSteps} without pauses. */
export function prepareVectorPad<E>(
  suite: Ciphersuite<E>,
  shape: { length: number; threshold: number },
  rng: Rng,
): VectorDealingPad {
  return runSteps(vectorPadSteps(suite, shape, rng, Number.POSITIVE_INFINITY));
}
