/**
 * Chi-square checks that share bytes look uniform: a histogram of byte values, its statistic
 * against the uniform distribution (255 degrees of freedom: mean 255, sd ~22.6), and the
 * two-sample statistic of two histograms.
 */
export interface ByteHistogram {
  /** Count per byte value 0..255. */
  h: number[];
  total: number;
}

export function byteHistogram(): ByteHistogram {
  return { h: new Array<number>(256).fill(0), total: 0 };
}

/** Count each byte of `bytes`. */
export function countBytes(hist: ByteHistogram, bytes: Uint8Array): void {
  for (const b of bytes) hist.h[b]!++;
  hist.total += bytes.length;
}

/** Pearson's statistic of `hist` against uniform byte values. */
export function chiSquareUniform({ h, total }: ByteHistogram): number {
  const e = total / 256;
  return h.reduce((acc, o) => acc + (o - e) ** 2 / e, 0);
}

/** The two-sample statistic: whether two histograms come from the same distribution. */
export function chiSquareTwoSample(a: ByteHistogram, b: ByteHistogram): number {
  let two = 0;
  for (let i = 0; i < 256; i++) {
    const s = a.h[i]! + b.h[i]!;
    if (s > 0) two += (a.h[i]! - b.h[i]!) ** 2 / s;
  }
  return two;
}
