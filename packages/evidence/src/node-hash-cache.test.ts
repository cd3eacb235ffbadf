import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CACHED_NODES, NodeHashCache } from './node-hash-cache.js';

const hash = (n: number) => new Uint8Array(32).fill(n & 255).map((b, i) => (i === 0 ? n >> 8 : b));
const node = (level: number, index: number) => ({ level, index });

describe('NodeHashCache', () => {
  it('law: it answers as a first-in-first-out map of at most `capacity` entries', () => {
    const op = fc.oneof(
      fc.record({ set: fc.constant(true), level: fc.nat(3), index: fc.nat(9), value: fc.nat(4000) }),
      fc.record({ set: fc.constant(false), level: fc.nat(3), index: fc.nat(9) }),
    );
    fc.assert(
      fc.property(fc.nat(12), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const cache = new NodeHashCache(capacity);
        // The model: insertion order is eviction order; a second set of a key keeps its place.
        const model = new Map<string, number>();
        for (const o of ops) {
          const key = `${o.level}/${o.index}`;
          if ('value' in o) {
            cache.set(node(o.level, o.index), hash(o.value));
            if (capacity === 0) continue;
            if (!model.has(key) && model.size === capacity) model.delete(model.keys().next().value!);
            model.set(key, o.value);
          } else {
            const want = model.get(key);
            expect(cache.get(node(o.level, o.index))).toEqual(want === undefined ? undefined : hash(want));
          }
          expect(cache.size).toBe(model.size);
        }
      }),
    );
  });

  it('hands out copies: changing one, or evicting its entry, leaves what it read', () => {
    const cache = new NodeHashCache(2);
    cache.set(node(0, 0), hash(1));
    const read = cache.get(node(0, 0))!;
    read.fill(0);
    expect(cache.get(node(0, 0))).toEqual(hash(1));
    const kept = cache.get(node(0, 0))!;
    cache.set(node(0, 1), hash(2));
    cache.set(node(0, 2), hash(3)); // evicts (0, 0); its slot now holds (0, 2)
    expect(cache.get(node(0, 0))).toBeUndefined();
    expect(kept).toEqual(hash(1));
    expect(cache.get(node(0, 2))).toEqual(hash(3));
  });

  it('keeps a copy of what it is given', () => {
    const cache = new NodeHashCache(1);
    const h = hash(7);
    cache.set(node(1, 1), h);
    h.fill(9);
    expect(cache.get(node(1, 1))).toEqual(hash(7));
  });

  it('tells apart nodes at different levels with the same index, and the largest indexes', () => {
    const cache = new NodeHashCache(8);
    const big = 2 ** 47 - 1;
    cache.set(node(0, 5), hash(1));
    cache.set(node(1, 5), hash(2));
    cache.set(node(63, big), hash(3));
    cache.set(node(62, big), hash(4));
    expect(cache.get(node(0, 5))).toEqual(hash(1));
    expect(cache.get(node(1, 5))).toEqual(hash(2));
    expect(cache.get(node(63, big))).toEqual(hash(3));
    expect(cache.get(node(62, big))).toEqual(hash(4));
  });

  it('grows its arrays as entries come and keeps them across growth', () => {
    const cache = new NodeHashCache(1000);
    for (let i = 0; i < 1000; i++) cache.set(node(0, i), hash(i));
    for (let i = 0; i < 1000; i++) expect(cache.get(node(0, i))).toEqual(hash(i));
    cache.set(node(0, 1000), hash(1000));
    expect(cache.get(node(0, 0))).toBeUndefined();
    expect(cache.size).toBe(1000);
  });

  it('refuses a bad capacity, a hash that is not 32 bytes and a node outside its range', () => {
    for (const c of [-1, 0.5, Number.NaN, MAX_CACHED_NODES + 1])
      expect(() => new NodeHashCache(c), String(c)).toThrow(RangeError);
    const cache = new NodeHashCache(4);
    expect(() => cache.set(node(0, 0), new Uint8Array(31))).toThrow(/32 bytes/);
    for (const n of [node(64, 0), node(-1, 0), node(0, -1), node(0, 1.5), node(0.5, 0)])
      expect(() => cache.set(n, hash(0)), JSON.stringify(n)).toThrow(RangeError);
  });

  it('keeps no node it cannot number (an index from 2^47 up), and answers for it as not kept', () => {
    const cache = new NodeHashCache(4);
    for (const index of [2 ** 47, 2 ** 53 - 1]) {
      cache.set(node(0, index), hash(1));
      expect(cache.get(node(0, index))).toBeUndefined();
    }
    expect(cache.size).toBe(0);
    // A fractional index would share (32, 1)'s number; it is refused, not mistaken for it.
    cache.set(node(32, 1), hash(2));
    expect(() => cache.get(node(0, 1.5))).toThrow(RangeError);
  });
});
