/**
 * Ed25519 point arithmetic for the batch checks on plain bigints in extended coordinates
 * (`x = X/Z`, `y = Y/Z`, `T = XY/Z`), with lazy reduction modulo `2^255 - 19`: coordinates stay
 * congruent, not reduced, until a result is compared. No objects per operation and no `%`, which is
 * what made the bulk checks on `@noble/curves` points slow and hard on the garbage collector.
 * Public data only (commitments, public coefficients): nothing here needs to be constant-time.
 * Internal to `aggregation/`; tested against noble's points.
 */
import { ED_D, type Projective } from './curve.js';

const P = (1n << 255n) - 19n;
const LOW255 = (1n << 255n) - 1n;
const D2 = (2n * ED_D) % P;

/**
 * A value congruent to `x` modulo `2^255 - 19`, in `(-2^15, 2^256)` for any `|x| < 2^520`: two folds
 * of the top bits (`2^255 = 19`), cheaper than `%` on bigints.
 */
export function red25519(x: bigint): bigint {
  const y = (x & LOW255) + 19n * (x >> 255n);
  return (y & LOW255) + 19n * (y >> 255n);
}

/** An extended point, coordinates lazily reduced. */
export interface Ext {
  readonly X: bigint;
  readonly Y: bigint;
  readonly Z: bigint;
  readonly T: bigint;
}

export const EXT_ZERO: Ext = { X: 0n, Y: 1n, Z: 1n, T: 0n };

/** From noble's point (or any `{X, Y, Z, T}` with those meanings). */
export function toExt(p: { X: bigint; Y: bigint; Z: bigint; T: bigint }): Ext {
  return { X: p.X, Y: p.Y, Z: p.Z, T: p.T };
}

/** `p + q` (add-2008-hwcd-3 for `a = -1`; complete, so doublings and the identity are fine). */
export function extAdd(p: Ext, q: Ext): Ext {
  const A = red25519((p.Y - p.X) * (q.Y - q.X));
  const B = red25519((p.Y + p.X) * (q.Y + q.X));
  const C = red25519(red25519(p.T * D2) * q.T);
  const D = red25519(2n * p.Z * q.Z);
  const E = B - A;
  const F = D - C;
  const G = D + C;
  const H = B + A;
  return { X: red25519(E * F), Y: red25519(G * H), Z: red25519(F * G), T: red25519(E * H) };
}

/** `2p` (dbl-2008-hwcd for `a = -1`). */
export function extDouble(p: Ext): Ext {
  const A = red25519(p.X * p.X);
  const B = red25519(p.Y * p.Y);
  const C = red25519(2n * p.Z * p.Z);
  const s = p.X + p.Y;
  const E = red25519(s * s) - A - B;
  const G = B - A;
  const F = G - C;
  const H = -A - B;
  return { X: red25519(E * F), Y: red25519(G * H), Z: red25519(F * G), T: red25519(E * H) };
}

export function extNeg(p: Ext): Ext {
  return { X: -p.X, Y: p.Y, Z: p.Z, T: -p.T };
}

/** Whether `8p` is the identity (the check on prime-order parts the batch equations use). */
export function extIsSmallOrder(p: Ext): boolean {
  const q = extDouble(extDouble(extDouble(p)));
  return mod(q.X) === 0n && mod(q.Y - q.Z) === 0n;
}

function mod(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** `x * p` for a small public `x` (identifiers 1..n): double-and-add. */
export function extMulSmall(p: Ext, x: bigint): Ext {
  if (x === 1n) return p;
  const bits = x.toString(2);
  let acc = p;
  for (let i = 1; i < bits.length; i++) {
    acc = extDouble(acc);
    if (bits[i] === '1') acc = extAdd(acc, p);
  }
  return acc;
}

/** Bucket (Pippenger) MSM over non-negative scalars; its cost follows their largest bit length. */
export function extMsm(points: readonly Ext[], scalars: readonly bigint[]): Ext {
  const n = points.length;
  if (n === 0) return EXT_ZERO;
  let top = 0n;
  for (const k of scalars) if (k > top) top = k;
  const bitLength = top.toString(2).length;
  const c = Math.max(2, Math.min(16, Math.floor(Math.log2(n)) - 3));
  const windows = Math.ceil(bitLength / c);
  const mask = (1 << c) - 1;
  const digits = new Int32Array(n * windows);
  const bc = BigInt(c);
  const bmask = BigInt(mask);
  for (let i = 0; i < n; i++) {
    let s = scalars[i]!;
    for (let w = 0; w < windows && s !== 0n; w++) {
      digits[i * windows + w] = Number(s & bmask);
      s >>= bc;
    }
  }
  let acc: Ext | undefined;
  const buckets: (Ext | undefined)[] = new Array(mask + 1);
  for (let w = windows - 1; w >= 0; w--) {
    if (acc) for (let d = 0; d < c; d++) acc = extDouble(acc);
    buckets.fill(undefined);
    for (let i = 0; i < n; i++) {
      const dg = digits[i * windows + w]!;
      if (dg === 0) continue;
      const b = buckets[dg];
      buckets[dg] = b ? extAdd(b, points[i]!) : points[i]!;
    }
    let running: Ext | undefined;
    let sum: Ext | undefined;
    for (let b = mask; b >= 1; b--) {
      const bk = buckets[b];
      if (bk) running = running ? extAdd(running, bk) : bk;
      if (running) sum = sum ? extAdd(sum, running) : running;
    }
    if (sum) acc = acc ? extAdd(acc, sum) : sum;
  }
  return acc ?? EXT_ZERO;
}

/** As a {@link Projective} (for `fixed-base.ts`'s batch normalization). */
export function extProjective(p: Ext): Projective {
  return { X: p.X, Y: p.Y, Z: p.Z };
}
