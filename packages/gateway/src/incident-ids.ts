/**
 * Incident ids that sort in the order they were made: UUID version 7 (RFC 9562, section 5.7) with
 * a 12-bit counter in `rand_a` for ids made in the same millisecond (the RFC's "fixed bit-length
 * dedicated counter", method 1), and 62 random bits. The incident list is ordered by creation time,
 * then id, so incidents made in one millisecond (the alerts of one group, the items of one
 * EventList) are listed in arrival order, where random (version 4) ids listed them at random.
 *
 * Strictly increasing within a process, also when the clock steps back (the last time is kept) or
 * more than 4,096 ids are made in one millisecond (the time moves on by one).
 */
import { randomBytes } from 'node:crypto';

const COUNTER_MAX = 0xfff;

export function monotonicIds(
  now: () => number = Date.now,
  random: (n: number) => Uint8Array = (n) => randomBytes(n),
): () => string {
  let lastMs = -1;
  let counter = 0;
  return () => {
    const t = now();
    if (t > lastMs) {
      lastMs = t;
      counter = 0;
    } else if (counter < COUNTER_MAX) {
      counter++;
    } else {
      lastMs++;
      counter = 0;
    }
    const b = new Uint8Array(16);
    b.set(random(8), 8);
    let ms = lastMs;
    for (let i = 5; i >= 0; i--) {
      b[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    b[6] = 0x70 | (counter >> 8); // version 7, counter bits 11..8
    b[7] = counter & 0xff;
    b[8] = 0x80 | (b[8]! & 0x3f); // variant 10
    const hex = Buffer.from(b).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}
