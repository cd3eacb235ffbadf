/**
 * A bounded, first-in-first-out cache of Merkle subtree hashes for the transparency log, kept in
 * one preallocated byte array. A `Map` from key strings to one `Uint8Array` per hash (what the log
 * kept before) costs about 300 bytes an entry (the key string, the view, its buffer): 19 MiB at
 * the default 65,536 entries, which the gateway filled over about 50,000 incidents. Here an entry
 * costs its 32 bytes in the array, 8 for its node id and a number-keyed `Map` entry: about 5 MiB
 * at the same size. The arrays double as entries come, up to the capacity, so a small log does not
 * hold a full-size cache.
 *
 * Hashes are copied in and out: a slot is reused when its entry is evicted, so a view into the
 * array handed to a caller could change under it.
 */
import type { NodeId } from './merkle.js';

const HASH = 32;
/** The most hashes a cache may keep (512 MiB of hashes). */
export const MAX_CACHED_NODES = 1 << 24;
/** Levels fit in 6 bits: a tree of at most 2^53 leaves has at most 54 levels. */
const LEVELS = 64;

/**
 * A node's number, unique for levels below 64 and indexes below 2^47; `undefined` for an index
 * from 2^47 up, a node the cache does not keep (a log past 2^47 leaves still works, on store
 * reads). A node that is no node (a negative or fractional level or index, a level from 64 up) is a
 * `RangeError`: a fractional index could otherwise share another node's number.
 */
function nodeNumber(n: NodeId): number | undefined {
  if (
    !Number.isSafeInteger(n.level) ||
    !Number.isSafeInteger(n.index) ||
    n.level < 0 ||
    n.level >= LEVELS ||
    n.index < 0
  ) {
    throw new RangeError(`node (level ${n.level}, index ${n.index}) is not a tree node`);
  }
  const id = n.index * LEVELS + n.level;
  return Number.isSafeInteger(id) ? id : undefined;
}

export class NodeHashCache {
  readonly capacity: number;
  readonly #slotOf = new Map<number, number>();
  /** Each slot's node number (-1: empty), and its hash at `slot * 32`; grown up to `capacity`. */
  #ids = new Float64Array(0);
  #hashes = new Uint8Array(0);
  /** The slot the next new entry takes (the oldest entry's, once full). */
  #next = 0;

  /** `capacity`: most hashes kept (0 keeps none). */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > MAX_CACHED_NODES) {
      throw new RangeError(
        `cache capacity must be an integer from 0 to ${MAX_CACHED_NODES}, not ${capacity}`,
      );
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#slotOf.size;
  }

  /** A copy of the node's hash, or `undefined` if it is not kept. */
  get(node: NodeId): Uint8Array | undefined {
    const id = nodeNumber(node);
    const slot = id === undefined ? undefined : this.#slotOf.get(id);
    return slot === undefined ? undefined : this.#hashes.slice(slot * HASH, slot * HASH + HASH);
  }

  /**
   * Keep a copy of `hash` (32 bytes) for the node, evicting the oldest entry when full; a node the
   * cache cannot number (an index from 2^47 up) is not kept.
   */
  set(node: NodeId, hash: Uint8Array): void {
    if (hash.length !== HASH) throw new RangeError(`a subtree hash is ${HASH} bytes, not ${hash.length}`);
    const id = nodeNumber(node);
    if (this.capacity === 0 || id === undefined) return;
    let slot = this.#slotOf.get(id);
    if (slot === undefined) {
      slot = this.#next;
      this.#next = (slot + 1) % this.capacity;
      if (slot >= this.#ids.length) this.#grow();
      const old = this.#ids[slot]!;
      if (old >= 0) this.#slotOf.delete(old);
      this.#ids[slot] = id;
      this.#slotOf.set(id, slot);
    }
    this.#hashes.set(hash, slot * HASH);
  }

  /** Double the arrays (slots fill in order until the cache is full, so the new ones are next). */
  #grow(): void {
    const slots = Math.min(this.capacity, Math.max(64, this.#ids.length * 2));
    const ids = new Float64Array(slots).fill(-1);
    ids.set(this.#ids);
    const hashes = new Uint8Array(slots * HASH);
    hashes.set(this.#hashes);
    this.#ids = ids;
    this.#hashes = hashes;
  }
}
