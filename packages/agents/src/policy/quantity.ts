/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`) as exact integers of nano-units,
 * so bounds are compared without floating-point rounding.
 */
import { ValidationError } from '@aaps/mpc-core';

const NANO = 1_000_000_000n;

const SUFFIX: Readonly<Record<string, bigint>> = Object.freeze({
  n: 1n,
  u: 1_000n,
  m: 1_000_000n,
  '': NANO,
  k: NANO * 1_000n,
  M: NANO * 1_000_000n,
  G: NANO * 1_000_000_000n,
  T: NANO * 1_000_000_000_000n,
  P: NANO * 1_000_000_000_000_000n,
  E: NANO * 1_000_000_000_000_000_000n,
  Ki: NANO * 1024n,
  Mi: NANO * 1024n ** 2n,
  Gi: NANO * 1024n ** 3n,
  Ti: NANO * 1024n ** 4n,
  Pi: NANO * 1024n ** 5n,
  Ei: NANO * 1024n ** 6n,
});

const QUANTITY = /^(\d{1,20})(?:\.(\d{1,9}))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](\d{1,2}))?$/;

/** Parse a non-negative quantity to nano-units; throws `ValidationError` naming `field`. */
export function parseQuantity(value: unknown, field = 'quantity'): bigint {
  if (typeof value !== 'string') {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a quantity string`, [field]);
  }
  const m = QUANTITY.exec(value);
  if (!m) throw new ValidationError('INVALID_ARGUMENT', `${field}: not a Kubernetes quantity`, [field]);
  const [, whole, frac = '', suffix = '', exp] = m;
  const unit = exp !== undefined ? NANO * 10n ** BigInt(exp) : SUFFIX[suffix]!;
  const scale = 10n ** BigInt(frac.length);
  const numerator = (BigInt(whole!) * scale + BigInt(frac || '0')) * unit;
  if (numerator % scale !== 0n) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: finer than one nano-unit`, [field]);
  }
  return numerator / scale;
}

/** Format nano-units in the plainest exact form: binary suffix for bytes, else units, `m` or `n`. */
export function formatQuantity(nano: bigint, binary = false): string {
  if (nano < 0n) throw new ValidationError('INVALID_ARGUMENT', 'quantity: negative', ['quantity']);
  if (binary && nano % NANO === 0n && nano > 0n) {
    for (const s of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
      const u = SUFFIX[s]!;
      if (nano % u === 0n) return `${nano / u}${s}`;
    }
  }
  if (nano % NANO === 0n) return `${nano / NANO}`;
  if (nano % 1_000_000n === 0n) return `${nano / 1_000_000n}m`;
  return `${nano}n`;
}

/** Round up to a whole unit (`binary`: to a whole Mi) so proposed limits read as people write them. */
export function roundUpQuantity(nano: bigint, binary = false): bigint {
  const step = binary ? SUFFIX['Mi']! : 1_000_000n; // 1Mi or 1m
  return ((nano + step - 1n) / step) * step;
}

/** Memory-like resources are formatted with binary suffixes. */
export function isByteResource(resource: string): boolean {
  return /memory|storage/.test(resource);
}
