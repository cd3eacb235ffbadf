/**
 * RFC 9162 §2.1 Merkle trees over SHA-256: hashes, inclusion and consistency proofs, their
 * verification, and an in-memory tree.
 *
 * Leaf hash SHA-256(0x00 || leaf); node hash SHA-256(0x01 || left || right). Proof generation is
 * split into a pure plan (which leaf ranges' hashes a proof holds, in RFC order) and the hashing of
 * those ranges from stored perfect subtrees, so a store-backed log can fetch every node a proof
 * needs in one read. A {@link MerkleFrontier} computes the root of a log read leaf by leaf in
 * O(log n) memory (an auditor's walk). Verification turns any hostile input into a `VerificationError`
 * (`log.inclusion`, `log.consistency`), never a crash.
 */
import { ValidationError } from '@aaps/mpc-core/verifier';
import { bytesEqual, sha256, sha256Text } from './encoding.js';
import { fail } from './errors.js';

export const HASH_SIZE = 32;
const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);
/** A proof never needs more hashes than this for trees up to 2^53 leaves. */
/** More hashes than any RFC 9162 proof has (at most 64 in a tree of 2^64 leaves), with room. */
export const MAX_PROOF_HASHES = 128;

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256();

export function hashLeaf(leaf: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, leaf);
}

/** {@link hashLeaf} of a leaf given as text (its UTF-8 bytes), without encoding it first. */
export function hashLeafText(leaf: string): Uint8Array {
  return sha256Text(`\u0000${leaf}`);
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** Leaves [start, end). */
export interface LeafRange {
  start: number;
  end: number;
}

/** A perfect subtree: the 2^level leaves starting at index * 2^level. */
export interface NodeId {
  level: number;
  index: number;
}

/** Reads the hash of a complete perfect subtree. */
export type NodeSource = (node: NodeId) => Uint8Array;

/** The largest power of two strictly below `n` (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && splitPoint(n + 1) === n;
}

function log2Exact(p: number): number {
  let level = 0;
  while (2 ** level < p) level++;
  return level;
}

function assertSize(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a non-negative safe integer`, [field]);
  }
}

/**
 * The perfect subtrees whose hashes fold (right to left) into MTH of `range`, largest first. Every
 * range a proof plan produces starts on a multiple of its first subtree's size.
 */
export function perfectSubtrees(range: LeafRange): NodeId[] {
  const out: NodeId[] = [];
  let pos = range.start;
  while (pos < range.end) {
    let p = 1;
    while (p * 2 <= range.end - pos) p *= 2;
    if (pos % p !== 0) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `range [${range.start}, ${range.end}) is not subtree-aligned`,
        ['range'],
      );
    }
    out.push({ level: log2Exact(p), index: pos / p });
    pos += p;
  }
  return out;
}

/** MTH of a leaf range, from the perfect subtrees it splits into (RFC 9162 §2.1.1). */
export function rangeHash(range: LeafRange, source: NodeSource): Uint8Array {
  if (range.end === range.start) return EMPTY_ROOT;
  const nodes = perfectSubtrees(range);
  let h = source(nodes[nodes.length - 1]!);
  for (let i = nodes.length - 2; i >= 0; i--) h = hashChildren(source(nodes[i]!), h);
  return h;
}

/** The ranges whose hashes form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf side first. */
export function inclusionPlan(index: number, size: number): LeafRange[] {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new ValidationError('INVALID_ARGUMENT', 'index must be below size', ['index']);
  const topDown: LeafRange[] = [];
  let start = 0;
  let end = size;
  let m = index;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      topDown.push({ start: start + k, end });
      end = start + k;
    } else {
      topDown.push({ start, end: start + k });
      start += k;
      m -= k;
    }
  }
  return topDown.reverse();
}

/** The ranges whose hashes form PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1), in RFC order. */
export function consistencyPlan(first: number, second: number): LeafRange[] {
  assertSize(first, 'first');
  assertSize(second, 'second');
  if (first > second)
    throw new ValidationError('INVALID_ARGUMENT', 'first must not exceed second', ['first']);
  if (first === 0 || first === second) return [];
  const topDown: LeafRange[] = [];
  let start = 0;
  let end = second;
  let m = first;
  let complete = true;
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      topDown.push({ start: start + k, end });
      end = start + k;
    } else {
      topDown.push({ start, end: start + k });
      start += k;
      m -= k;
      complete = false;
    }
  }
  // SUBPROOF(m, D[m], false) contributes MTH(D[m]) itself; with b = true it contributes nothing.
  if (!complete) topDown.push({ start, end });
  return topDown.reverse();
}

/** Every perfect subtree a plan's ranges need, without repeats. */
export function planNodes(plan: readonly LeafRange[]): NodeId[] {
  const seen = new Set<string>();
  const out: NodeId[] = [];
  for (const range of plan) {
    for (const node of perfectSubtrees(range)) {
      const key = `${node.level}/${node.index}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(node);
      }
    }
  }
  return out;
}

/**
 * The root of a tree read one leaf at a time, in memory that grows with log2 of its size: only the
 * roots of the perfect subtrees the leaves so far split into (RFC 9162 §2.1.1, from the largest
 * on the left), never the leaves. For a walk over a whole log (`aaps log audit`); a tree that must
 * answer proofs is a {@link MemoryMerkleTree}.
 */
export class MerkleFrontier {
  /** Roots of the perfect subtrees, largest first: one per 1 bit of the size, as its binary digits. */
  readonly #roots: Uint8Array[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Append a leaf; returns its index. */
  append(leaf: Uint8Array): number {
    return this.appendLeafHash(hashLeaf(leaf));
  }

  appendLeafHash(leafHash: Uint8Array): number {
    if (!isHash(leafHash))
      throw new ValidationError('INVALID_ARGUMENT', 'leafHash: expected 32 bytes', ['leafHash']);
    let h = leafHash;
    // Two perfect subtrees of one size merge into the next, as the size's trailing 1 bits carry.
    for (let n = this.#size; n % 2 === 1; n = (n - 1) / 2) h = hashChildren(this.#roots.pop()!, h);
    this.#roots.push(h);
    return this.#size++;
  }

  /** MTH of the leaves appended so far. */
  root(): Uint8Array {
    const last = this.#roots.length - 1;
    if (last < 0) return EMPTY_ROOT;
    let h = this.#roots[last]!;
    for (let i = last - 1; i >= 0; i--) h = hashChildren(this.#roots[i]!, h);
    return h;
  }
}

/** An append-only Merkle tree held in memory (tests, caches, small logs). */
export class MemoryMerkleTree {
  readonly #levels: Uint8Array[][] = [[]];

  get size(): number {
    return this.#levels[0]!.length;
  }

  /** Append a leaf; returns its index. */
  append(leaf: Uint8Array): number {
    return this.appendLeafHash(hashLeaf(leaf));
  }

  appendLeafHash(leafHash: Uint8Array): number {
    const index = this.size;
    let h = leafHash;
    let level = 0;
    let i = index;
    this.#levels[0]!.push(h);
    while (i % 2 === 1) {
      h = hashChildren(this.#levels[level]![i - 1]!, h);
      level++;
      i = (i - 1) / 2;
      if (this.#levels[level] === undefined) this.#levels[level] = [];
      this.#levels[level]![i] = h;
    }
    return index;
  }

  /** The hash of a complete perfect subtree. */
  node(node: NodeId): Uint8Array {
    const h = this.#levels[node.level]?.[node.index];
    if (h === undefined) {
      throw new ValidationError('INVALID_ARGUMENT', `no complete subtree ${node.level}/${node.index}`, [
        'node',
      ]);
    }
    return h;
  }

  root(size = this.size): Uint8Array {
    this.#checkSize(size, 'size');
    return rangeHash({ start: 0, end: size }, (n) => this.node(n));
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.#checkSize(size, 'size');
    return inclusionPlan(index, size).map((r) => rangeHash(r, (n) => this.node(n)));
  }

  consistencyProof(first: number, second = this.size): Uint8Array[] {
    this.#checkSize(second, 'second');
    return consistencyPlan(first, second).map((r) => rangeHash(r, (n) => this.node(n)));
  }

  #checkSize(size: number, field: string): void {
    assertSize(size, field);
    if (size > this.size)
      throw new ValidationError('INVALID_ARGUMENT', `${field} exceeds the tree size`, [field]);
  }
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/** `proof` as a dense list of 32-byte hashes (a hole is no hash: `every` would skip it). */
function checkProof(proof: unknown, check: 'log.inclusion' | 'log.consistency'): Uint8Array[] {
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES)
    fail(check, 'proof must be a list of 32-byte hashes');
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) fail(check, 'proof must be a list of 32-byte hashes');
  }
  return proof;
}

const odd = (x: number) => x % 2 === 1;
const half = (x: number) => Math.floor(x / 2);

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2). Throws `log.inclusion` if the proof
 * cannot belong to a leaf `index` of a tree of `size` leaves.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: unknown,
  memo?: NodeHashMemo,
): Uint8Array {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    fail('log.inclusion', 'leaf index must be below the tree size', { index, size });
  }
  if (!isHash(leafHash)) fail('log.inclusion', 'leaf hash must be 32 bytes');
  const path = checkProof(proof, 'log.inclusion');
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) fail('log.inclusion', 'inclusion proof is too long', { index, size });
    if (odd(fn) || fn === sn) {
      r = memo ? memo.children(size, fn, sn, p, r) : hashChildren(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = memo ? memo.children(size, fn, sn, r, p) : hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) fail('log.inclusion', 'inclusion proof is too short', { index, size });
  // A remembered parent is shared with the memo: the caller gets its own copy.
  return memo ? new Uint8Array(r) : r;
}

/**
 * Node hashes of inclusion proofs, remembered by where they were computed. Proofs of leaves under
 * one checkpoint share their upper path, so a verifier walking many of them meets the same
 * (position, left, right) again and again. A remembered parent is reused only when both children
 * are byte-for-byte the ones it was hashed from, so this is a cache of the hash function and
 * cannot change any result: a tampered proof hash or leaf misses and is hashed afresh. Bounded:
 * it forgets everything when full, and when proofs of another tree size arrive (bundles under one
 * checkpoint come together).
 */
export class NodeHashMemo {
  /** Remembered steps of proofs in a tree of `size` leaves; another size starts afresh. */
  private size = -1;
  private readonly nodes = new Map<
    number | string,
    { left: Uint8Array; right: Uint8Array; parent: Uint8Array }
  >();
  constructor(private readonly limit = 16_384) {}

  /** `hashChildren(left, right)` at step (`fn`, `sn`) of a proof in a tree of `size` leaves. */
  children(size: number, fn: number, sn: number, left: Uint8Array, right: Uint8Array): Uint8Array {
    if (size !== this.size || this.nodes.size >= this.limit) {
      this.nodes.clear();
      this.size = size;
    }
    // fn <= sn < size: a unique number while size^2 stays a safe integer.
    const key = size <= 2 ** 26 ? sn * size + fn : `${fn}:${sn}`;
    const hit = this.nodes.get(key);
    if (hit !== undefined && bytesEqual(hit.left, left) && bytesEqual(hit.right, right)) return hit.parent;
    const parent = hashChildren(left, right);
    // Copies (also of a Buffer, whose slice() is a view): the caller's arrays may change later.
    this.nodes.set(key, { left: new Uint8Array(left), right: new Uint8Array(right), parent });
    return parent;
  }
}

/**
 * Check that `leafHash` is leaf `index` of the tree of `size` leaves whose root is `root`
 * (`memo` only saves hashing; see {@link NodeHashMemo}).
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: unknown,
  root: Uint8Array,
  memo?: NodeHashMemo,
): void {
  const computed = rootFromInclusionProof(leafHash, index, size, proof, memo);
  if (!isHash(root) || !bytesEqual(computed, root)) {
    fail('log.inclusion', 'inclusion proof does not lead to the root', { index, size });
  }
}

/**
 * Check that the tree of `first` leaves with root `firstRoot` is a prefix of the tree of `second`
 * leaves with root `secondRoot` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and no proof;
 * the empty tree is a prefix of every tree.
 */
export function verifyConsistency(
  first: number,
  second: number,
  proof: unknown,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): void {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) {
    fail('log.consistency', 'sizes must satisfy 0 <= first <= second', { first, second });
  }
  if (!isHash(firstRoot) || !isHash(secondRoot)) fail('log.consistency', 'roots must be 32 bytes');
  const path = checkProof(proof, 'log.consistency');
  if (first === second) {
    if (path.length !== 0) fail('log.consistency', 'equal sizes need an empty proof', { first, second });
    if (!bytesEqual(firstRoot, secondRoot)) {
      fail('log.consistency', 'two different roots for one tree size', { first, second });
    }
    return;
  }
  if (first === 0) {
    if (path.length !== 0) fail('log.consistency', 'the empty tree needs an empty proof', { first, second });
    if (!bytesEqual(firstRoot, EMPTY_ROOT)) fail('log.consistency', 'wrong root for the empty tree');
    return;
  }
  if (path.length === 0) fail('log.consistency', 'consistency proof is empty', { first, second });
  const hashes = isPowerOfTwo(first) ? [firstRoot, ...path] : path;
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = hashes[0]!;
  let sr = hashes[0]!;
  for (let i = 1; i < hashes.length; i++) {
    const c = hashes[i]!;
    if (sn === 0) fail('log.consistency', 'consistency proof is too long', { first, second });
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0 || !bytesEqual(fr, firstRoot) || !bytesEqual(sr, secondRoot)) {
    fail('log.consistency', 'consistency proof does not join the two roots', { first, second });
  }
}
