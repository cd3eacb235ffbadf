/** A deterministic byte stream for tests: SHA-256 in counter mode over a seed. Never for keys. */
import { sha256 } from '@noble/hashes/sha2.js';
import type { Rng } from '../suite/types.js';

export function seededRng(seed: number | Uint8Array): Rng {
  const s = typeof seed === 'number' ? new TextEncoder().encode(`seed:${seed}`) : seed;
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    while (pool.length < n) {
      const block = new Uint8Array(s.length + 4);
      block.set(s);
      new DataView(block.buffer).setUint32(s.length, counter++);
      const next = new Uint8Array(pool.length + 32);
      next.set(pool);
      next.set(sha256(block), pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}
