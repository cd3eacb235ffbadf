import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity, roundUpQuantity } from './quantity.js';

const N = 1_000_000_000n;

describe('Kubernetes quantities', () => {
  it.each([
    ['2', 2n * N],
    ['500m', 500_000_000n],
    ['1.5', 1_500_000_000n],
    ['1Gi', 1024n ** 3n * N],
    ['512Mi', 512n * 1024n ** 2n * N],
    ['1k', 1000n * N],
    ['1e3', 1000n * N],
    ['100n', 100n],
  ])('parses %s', (q, nano) => {
    expect(parseQuantity(q)).toBe(nano);
  });

  it.each(['', '-1', '1.5.5', '1Xi', '0.0000000001', 'abc', '1 Gi'])('rejects %j', (q) => {
    expect(() => parseQuantity(q, 'q')).toThrow(ValidationError);
  });

  it('formats in the plainest exact form', () => {
    expect(formatQuantity(5n * N)).toBe('5');
    expect(formatQuantity(1_500_000_000n)).toBe('1500m');
    expect(formatQuantity(3n * 1024n ** 3n * N, true)).toBe('3Gi');
    expect(formatQuantity(1536n * 1024n ** 2n * N, true)).toBe('1536Mi');
    expect(formatQuantity(parseQuantity('1.5Gi'), true)).toBe('1536Mi');
  });

  it('rounds up to whole milli-units or whole Mi', () => {
    expect(roundUpQuantity(1n)).toBe(1_000_000n);
    expect(roundUpQuantity(parseQuantity('1Mi') + 1n, true)).toBe(parseQuantity('2Mi'));
  });
});
