/**
 * An append-only RFC 9162 transparency log over an injected key-value store.
 *
 * Appends are group-committed: every leaf appended while a write is in flight goes into the next
 * single atomic `batch`, which holds the leaves, each leaf's index under its leaf hash (for
 * `appendOnce`), every perfect subtree hash they complete, and the new size. Because a batch lands whole or not at all, the stored size always matches the stored
 * nodes, so opening the log after a crash recovers the tree exactly as of the last batch that
 * landed; `open` re-derives the root and checks it against the latest stored checkpoint.
 *
 * Checkpoints are signed by an injected signer (the parties' k-of-n FROST signature), stored by
 * tree size, and the log refuses to store two checkpoints of one size with different roots.
 */
import { bytesToHex, ValidationError } from '@aaps/mpc-core/verifier';
import type { LogPosition } from './bundle/build.js';
import {
  type Checkpoint,
  type NoteKey,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from './checkpoint.js';
import type { MessageSigner } from './dsse.js';
import { bytesEqual, utf8Decode, utf8Encode } from './encoding.js';
import { fail } from './errors.js';
import {
  consistencyPlan,
  hashChildren,
  hashLeaf,
  inclusionPlan,
  type LeafRange,
  type NodeId,
  perfectSubtrees,
  planNodes,
  rangeHash,
} from './merkle.js';
import { MAX_CACHED_NODES, NodeHashCache } from './node-hash-cache.js';

export type LogStoreOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/**
 * What the log needs from storage. `batch` MUST be atomic (LevelDB's is). The gateway adapts a
 * LevelDB sublevel with `valueEncoding: 'view'` to this.
 */
export interface LogStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Optional bulk read; the log falls back to parallel `get`s. */
  getMany?(keys: string[]): Promise<Array<Uint8Array | undefined>>;
  batch(ops: LogStoreOp[]): Promise<void>;
}

export interface LogOptions {
  /** The checkpoint origin line, e.g. `aaps.example/log`. */
  origin: string;
  /** Most leaves per batch (default 1024). */
  maxBatch?: number;
  /** Most subtree hashes kept in memory (default 65536, about 2.5 MiB when full; 0 keeps none). */
  cacheSize?: number;
}

export interface StoredCheckpoint extends Checkpoint {
  note: string;
}

const SIZE_KEY = 'size';
const LATEST_CHECKPOINT_KEY = 'checkpoint-latest';
const pad = (n: number) => n.toString(16).padStart(16, '0');
const nodeKey = (n: NodeId) => `node/${n.level.toString(16).padStart(2, '0')}/${pad(n.index)}`;
const leafKey = (index: number) => `leaf/${pad(index)}`;
const checkpointKey = (size: number) => `checkpoint/${pad(size)}`;
/** The index of the leaf whose RFC 9162 leaf hash this is (written with the leaf, in its batch). */
const leafIndexKey = (leafHash: Uint8Array) => `leafindex/${bytesToHex(leafHash)}`;

interface FrontierEntry {
  node: NodeId;
  hash: Uint8Array;
}

interface Pending {
  leaf: Uint8Array;
  /** Its RFC 9162 leaf hash, when the caller has it already (`appendOnce`). */
  hash?: Uint8Array;
  resolve: (index: number) => void;
  reject: (error: unknown) => void;
}

function decodeCount(bytes: Uint8Array | undefined, what: string): number {
  if (bytes === undefined) return 0;
  const text = utf8Decode(bytes);
  const n = Number(text);
  if (text === undefined || !/^(?:0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(n)) {
    fail('log.consistency', `stored ${what} is corrupt`);
  }
  return n;
}

export class TransparencyLog {
  readonly origin: string;
  readonly #store: LogStore;
  readonly #maxBatch: number;
  readonly #cache: NodeHashCache;
  /** Committed size and the perfect subtrees covering [0, size), largest first. */
  #size: number;
  #frontier: FrontierEntry[];
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** `appendOnce` calls in flight, by leaf hash: a second call for one leaf waits for the first. */
  readonly #appendingOnce = new Map<string, Promise<number>>();
  readonly #signing = new Map<number, Promise<StoredCheckpoint>>();
  /** Serializes the check-then-store of checkpoints, so `checkpoint-latest` never moves back. */
  #checkpointWrites: Promise<unknown> = Promise.resolve();
  /**
   * The largest stored checkpoint, read once at open and then kept as this log stores new ones
   * (it is the store's only writer, as `#size` already assumes): every bundle waits for a
   * checkpoint covering it and asks for the latest, so this saves two store reads a bundle.
   * Never handed out: callers get copies.
   */
  #latest: StoredCheckpoint | undefined;

  private constructor(store: LogStore, options: LogOptions, size: number, frontier: FrontierEntry[]) {
    this.#store = store;
    this.origin = options.origin;
    this.#maxBatch = options.maxBatch ?? 1024;
    this.#cache = new NodeHashCache(options.cacheSize ?? 65536);
    this.#size = size;
    this.#frontier = frontier;
  }

  /** Open (or create) the log in `store`, recovering its state as of the last landed batch. */
  static async open(store: LogStore, options: LogOptions): Promise<TransparencyLog> {
    if (typeof options.origin !== 'string' || options.origin.length === 0 || options.origin.includes('\n')) {
      throw new ValidationError('INVALID_ARGUMENT', 'origin must be one non-empty line', ['origin']);
    }
    const { cacheSize } = options;
    if (
      cacheSize !== undefined &&
      (!Number.isSafeInteger(cacheSize) || cacheSize < 0 || cacheSize > MAX_CACHED_NODES)
    ) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `cacheSize must be an integer from 0 to ${MAX_CACHED_NODES}`,
        ['cacheSize'],
      );
    }
    const size = decodeCount(await store.get(SIZE_KEY), 'size');
    const nodes = perfectSubtrees({ start: 0, end: size });
    const hashes = await readMany(store, nodes.map(nodeKey));
    const frontier = nodes.map((node, i) => {
      const hash = hashes[i];
      if (hash?.length !== 32) fail('log.consistency', `stored subtree ${nodeKey(node)} is missing`);
      return { node, hash };
    });
    const log = new TransparencyLog(store, options, size, frontier);
    const latestSize = await store.get(LATEST_CHECKPOINT_KEY);
    const latest =
      latestSize === undefined
        ? undefined
        : await log.checkpointAt(decodeCount(latestSize, 'latest checkpoint size'));
    if (latest !== undefined) {
      // One log, one origin: parties that witnessed it hold its checkpoints under that origin.
      if (latest.origin !== options.origin) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `this log's checkpoints are signed under the origin "${latest.origin}", not "${options.origin}": open it with that origin (a log keeps one)`,
          ['origin'],
        );
      }
      if (latest.size > size) fail('log.consistency', 'the latest checkpoint is larger than the stored tree');
      if (!bytesEqual(await log.root(latest.size), latest.rootHash)) {
        fail('log.consistency', 'the stored tree does not match the latest checkpoint');
      }
    }
    log.#latest = latest;
    return log;
  }

  /** The committed tree size. */
  get size(): number {
    return this.#size;
  }

  /** Append one leaf; resolves to its index once the batch holding it is durable. */
  append(leaf: Uint8Array): Promise<number> {
    if (!(leaf instanceof Uint8Array)) {
      return Promise.reject(new ValidationError('INVALID_ARGUMENT', 'leaf must be a Uint8Array', ['leaf']));
    }
    return this.#enqueue(leaf);
  }

  #enqueue(leaf: Uint8Array, hash?: Uint8Array): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ leaf: leaf.slice(), ...(hash ? { hash } : {}), resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /**
   * Append `leaf` unless the log already holds a leaf with these bytes; resolves to its index
   * either way. This makes an append safe to repeat: a writer that stores what it is about to
   * append, appends, and dies before it records the index appends again on restart and gets the
   * same entry, instead of leaving the log a leaf nobody refers to. (Leaves appended by a log
   * from before the leaf index was kept are not found, and are appended again.)
   */
  appendOnce(given: Uint8Array): Promise<number> {
    if (!(given instanceof Uint8Array)) {
      return Promise.reject(new ValidationError('INVALID_ARGUMENT', 'leaf must be a Uint8Array', ['leaf']));
    }
    // Its own copy, now: the bytes hashed are the bytes compared and appended after the reads.
    const leaf = given.slice();
    const hash = hashLeaf(leaf);
    const key = leafIndexKey(hash);
    const inFlight = this.#appendingOnce.get(key);
    if (inFlight !== undefined) return inFlight;
    const task = (async () => {
      const stored = await this.#store.get(key);
      if (stored !== undefined) {
        const index = decodeCount(stored, 'leaf index');
        // The index and the leaf land in one batch: an index past the tree is a damaged store.
        if (index >= this.#size) fail('log.consistency', `stored ${key} is past the tree`);
        // Only if that index still holds these bytes (defence in depth: a batch that landed
        // after it was reported failed, if the log ever wrote over it, would leave the index stale).
        const at = await this.#store.get(leafKey(index));
        if (at !== undefined && bytesEqual(at, leaf)) return index;
      }
      return this.#enqueue(leaf, hash);
    })().finally(() => this.#appendingOnce.delete(key));
    this.#appendingOnce.set(key, task);
    return task;
  }

  /** Wait until every append issued so far has landed or failed. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  async #flush(): Promise<void> {
    // Let appends issued in the same tick join the first batch.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0) {
        const items = this.#queue.splice(0, this.#maxBatch);
        const frontier = [...this.#frontier];
        const written = new Map<string, Uint8Array>();
        /** The subtrees this batch completes, to cache once it lands. */
        const completed: { node: NodeId; hash: Uint8Array }[] = [];
        const ops: LogStoreOp[] = [];
        let size = this.#size;
        for (const item of items) {
          let hash = item.hash ?? hashLeaf(item.leaf);
          let node: NodeId = { level: 0, index: size };
          ops.push({ type: 'put', key: leafKey(size), value: item.leaf });
          // A leaf appended twice (plain `append`) is found by `appendOnce` at its latest index.
          ops.push({ type: 'put', key: leafIndexKey(hash), value: utf8Encode(String(size)) });
          written.set(nodeKey(node), hash);
          completed.push({ node, hash });
          while (node.index % 2 === 1) {
            const left = frontier.pop()!;
            hash = hashChildren(left.hash, hash);
            node = { level: node.level + 1, index: (node.index - 1) / 2 };
            written.set(nodeKey(node), hash);
            completed.push({ node, hash });
          }
          frontier.push({ node, hash });
          size++;
        }
        for (const [key, value] of written) ops.push({ type: 'put', key, value });
        ops.push({ type: 'put', key: SIZE_KEY, value: utf8Encode(String(size)) });
        const first = this.#size;
        try {
          await this.#store.batch(ops);
        } catch (error) {
          // A write reported failed may have landed all the same (a timeout after it): the stored
          // size and this batch's own last leaf say which (the batch is atomic). One that landed
          // is taken as done, so the next batch does not write other leaves over it.
          if (!(await this.#landed(size, items[items.length - 1]!.leaf))) {
            for (const item of items) item.reject(error);
            continue;
          }
        }
        this.#size = size;
        this.#frontier = frontier;
        for (const { node, hash } of completed) this.#cache.set(node, hash);
        items.forEach((item, i) => {
          item.resolve(first + i);
        });
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Whether a batch reported failed landed: the stored size is `size` and its last leaf is `last`.
   * The size alone could be an earlier batch's that landed unseen (reported failed, and the read
   * that should have told failed too). False if it cannot tell.
   */
  async #landed(size: number, last: Uint8Array): Promise<boolean> {
    try {
      if (decodeCount(await this.#store.get(SIZE_KEY), 'size') !== size) return false;
      const stored = await this.#store.get(leafKey(size - 1));
      return stored !== undefined && bytesEqual(stored, last);
    } catch {
      return false;
    }
  }

  async #hashes(plan: readonly LeafRange[]): Promise<Uint8Array[]> {
    const nodes = planNodes(plan);
    const found = new Map<string, Uint8Array>();
    const missing: string[] = [];
    const missingNodes: NodeId[] = [];
    for (const n of nodes) {
      const key = nodeKey(n);
      const hit = this.#cache.get(n);
      if (hit === undefined) {
        missing.push(key);
        missingNodes.push(n);
      } else found.set(key, hit);
    }
    if (missing.length > 0) {
      const values = await readMany(this.#store, missing);
      missing.forEach((key, i) => {
        const value = values[i];
        if (value?.length !== 32) fail('log.consistency', `stored subtree ${key} is missing`);
        found.set(key, value);
        this.#cache.set(missingNodes[i]!, value);
      });
    }
    return plan.map((r) => rangeHash(r, (n) => found.get(nodeKey(n))!));
  }

  #checkSize(size: number, field: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#size) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${field} must be between 0 and the tree size ${this.#size}`,
        [field],
      );
    }
  }

  /** MTH of the first `size` leaves (default: the committed tree). */
  async root(size = this.#size): Promise<Uint8Array> {
    this.#checkSize(size, 'size');
    if (size === this.#size) {
      let h: Uint8Array | undefined;
      for (let i = this.#frontier.length - 1; i >= 0; i--) {
        const f = this.#frontier[i]!.hash;
        h = h === undefined ? f : hashChildren(f, h);
      }
      if (h !== undefined) return h;
    }
    const [h] = await this.#hashes([{ start: 0, end: size }]);
    return h!;
  }

  /** RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves. */
  async inclusionProof(index: number, size = this.#size): Promise<Uint8Array[]> {
    this.#checkSize(size, 'size');
    return this.#hashes(inclusionPlan(index, size));
  }

  /** RFC 9162 consistency proof from the tree of `first` leaves to the tree of `second`. */
  async consistencyProof(first: number, second = this.#size): Promise<Uint8Array[]> {
    this.#checkSize(second, 'second');
    return this.#hashes(consistencyPlan(first, second));
  }

  /** The leaf bytes at `index`, if committed. */
  async getLeaf(index: number): Promise<Uint8Array | undefined> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#size) return undefined;
    return this.#store.get(leafKey(index));
  }

  /** The stored checkpoint for `size`, if one was signed. */
  async checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    const bytes = await this.#store.get(checkpointKey(size));
    if (bytes === undefined) return undefined;
    const note = utf8Decode(bytes);
    if (note === undefined) fail('log.checkpoint', 'stored checkpoint is not UTF-8');
    const split = note.lastIndexOf('\n\n');
    return { ...parseCheckpoint(note.slice(0, split + 1)), note };
  }

  /** The largest signed checkpoint, if any (a copy: the caller may change it). */
  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const latest = this.#latest;
    return latest === undefined ? undefined : copyCheckpoint(latest);
  }

  /**
   * Sign a checkpoint of the committed tree with `sign` under `key` and store it. Returns the
   * stored one if this size is already signed with the same root; refuses (`log.checkpoint`) to
   * store a second checkpoint of one size with another root.
   */
  signCheckpoint(key: NoteKey, sign: MessageSigner): Promise<StoredCheckpoint> {
    const size = this.#size;
    let task = this.#signing.get(size);
    if (task === undefined) {
      task = this.#signAt(size, key, sign).finally(() => this.#signing.delete(size));
      this.#signing.set(size, task);
    }
    // Each caller gets its own copy: the log's hashes and its latest checkpoint stay its own.
    return task.then(copyCheckpoint);
  }

  async #signAt(size: number, key: NoteKey, sign: MessageSigner): Promise<StoredCheckpoint> {
    const rootHash = await this.root(size);
    const sameRoot = (found: StoredCheckpoint): StoredCheckpoint => {
      if (!bytesEqual(found.rootHash, rootHash) || found.origin !== this.origin) {
        fail('log.checkpoint', 'refusing a second checkpoint of one size with another root', { size });
      }
      return found;
    };
    const existing = await this.checkpointAt(size);
    if (existing !== undefined) return this.#serialized(() => this.#adopt(sameRoot(existing), key));
    const body: Checkpoint = { origin: this.origin, size, rootHash, extensions: [] };
    const note = await signCheckpoint(body, key, sign);
    openCheckpoint(note, [key]);
    return this.#serialized(async () => {
      const again = await this.checkpointAt(size);
      if (again !== undefined) return this.#adopt(sameRoot(again), key);
      const stored: StoredCheckpoint = { ...body, note };
      const ops: LogStoreOp[] = [{ type: 'put', key: checkpointKey(size), value: utf8Encode(note) }];
      const newest = this.#latest === undefined || this.#latest.size < size;
      if (newest) ops.push({ type: 'put', key: LATEST_CHECKPOINT_KEY, value: utf8Encode(String(size)) });
      await this.#store.batch(ops);
      if (newest) this.#latest = stored;
      return stored;
    });
  }

  /** Run `f` after every checkpoint write before it (so `checkpoint-latest` never moves back). */
  #serialized<T>(f: () => Promise<T>): Promise<T> {
    const out = this.#checkpointWrites.then(f, f);
    this.#checkpointWrites = out.catch(() => undefined);
    return out;
  }

  /**
   * A checkpoint of this size is already stored (an earlier signing that landed, or another
   * writer's): its note must verify under `key` (else `log.checkpoint`); if it is newer than the
   * latest this log knows, it becomes the latest, in memory and in the store, so the pointer never
   * stays behind a stored checkpoint.
   */
  async #adopt(found: StoredCheckpoint, key: NoteKey): Promise<StoredCheckpoint> {
    // Only a note that verifies under the log's key goes into bundles as theirs.
    openCheckpoint(found.note, [key]);
    if (this.#latest === undefined || this.#latest.size < found.size) {
      await this.#store.batch([
        { type: 'put', key: LATEST_CHECKPOINT_KEY, value: utf8Encode(String(found.size)) },
      ]);
      this.#latest = found;
    }
    return found;
  }

  /**
   * Where leaf `index` sits under the latest checkpoint, ready for `attachLogEntry`. Throws
   * `INVALID_ARGUMENT` if no checkpoint covers it yet (sign one first).
   */
  async position(index: number): Promise<LogPosition> {
    // Only its size and note are read: no copy needed.
    const checkpoint = this.#latest;
    if (checkpoint === undefined || !Number.isSafeInteger(index) || index < 0 || index >= checkpoint.size) {
      throw new ValidationError('INVALID_ARGUMENT', 'no signed checkpoint covers this index yet', ['index']);
    }
    return {
      logIndex: index,
      treeSize: checkpoint.size,
      inclusionProof: await this.inclusionProof(index, checkpoint.size),
      checkpoint: checkpoint.note,
    };
  }
}

function copyCheckpoint(c: StoredCheckpoint): StoredCheckpoint {
  return { ...c, rootHash: c.rootHash.slice(), extensions: [...c.extensions] };
}

async function readMany(store: LogStore, keys: string[]): Promise<Array<Uint8Array | undefined>> {
  if (keys.length === 0) return [];
  if (store.getMany !== undefined) return store.getMany(keys);
  return Promise.all(keys.map((k) => store.get(k)));
}
