/**
 * The party's LevelDB: its key package (signing share encrypted at rest), nonces (encrypted, written
 * with `sync` before their commitments leave, removed atomically with a tombstone before any share
 * is computed, and expired unused after a time to live), seen request ids (replay protection),
 * signed checkpoints (never two roots for one size) and an audit trail. This is the only module
 * that opens the database.
 *
 * Keys: `key/current` (CBOR: the sealed key package, the public package, the roster digest, when,
 * and which party holds which participant); `key/pending` (a verified key not yet committed: the
 * same record and what it is, JSON); `key/commit` (the proof the current key was committed with, JSON); `nonce/<commitment>` (the sealed nonce) with `nonce-at/<commitment>` (when
 * it was issued, ms); `used/<commitment>` and `expired/<commitment>` (tombstones: the time it was
 * consumed or expired); `seen/<request id>` (the time it is kept until); `witness/<origin>` (the last checkpoint signed for
 * it); `log-origin` (the log this party witnesses when no `log_origin` is configured: the origin of
 * the first checkpoint it signed or witnessed, or the configured one it last signed under);
 * `ckpt/<size>` (left by a party from before checkpoints were kept per origin, until the
 * first `witness/` record takes them over); `agg/<session id>` (when this party dealt that
 * aggregation session, ISO time) and `aggc/<session id>` (the aggregation it confirmed, JSON: the
 * pooled-risk ledger), both dropped through one index `agg-at/<ms, 16 digits>/<session id>`;
 * `audit/<seq>`; `format` (the layout's version, {@link PARTY_STORE_FORMAT}: a build refuses a
 * store of a later format).
 */
import {
  bytesToHex,
  commitmentKey,
  decodeCbor,
  decodeNonceRecord,
  decryptAtRest,
  encodeCbor,
  encodeNonceRecord,
  encryptAtRest,
  type Identifier,
  type KeyPackage,
  KeyPackageCodec,
  type NonceRecord,
  type NonceStore,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  type SecretBytes,
  utf8,
  ValidationError,
  wipeNonceRecord,
} from '@aaps/mpc-core';
import { Level } from 'level';
import type { KeyCommitProof, KeyProtocol, KeyStatement } from '../key-statement.js';
import {
  type CheckpointDecision,
  decideCheckpoint,
  type ProposedCheckpoint,
  type WitnessedCheckpoint,
} from '../policy/checkpoint-rule.js';
import { claimStoreFormat } from './format-version.js';

/** The layout this build reads and writes (`format`: decimal text); see `format-version.ts`. */
export const PARTY_STORE_FORMAT = 1;
const FORMAT_KEY = 'format';

type Bytes = Uint8Array;

const decoder = new TextDecoder();
/** A stored UTF-8 value (times, stamps, roots) as text. */
const text = (bytes: Bytes): string => decoder.decode(bytes);

export interface StoredKey {
  keyPackage: KeyPackage;
  publicPackage: PublicKeyPackage;
  rosterDigest: string;
  createdAt: string;
  /**
   * Which roster party (by id) holds which of the key's participants (FROST identifier), as the
   * roster the key was made under numbered them: the key binds its participants to parties, so a
   * roster that renumbers any party no longer fits it (`party/key-roster.ts`). Absent from a key
   * stored before parties recorded it; such a key is taken to fit the roster the party starts
   * with, which then records it.
   */
  participants?: ReadonlyMap<string, Identifier>;
}

/**
 * What a pending key is (see `party/key-commit.ts`): the ceremony and session that made it, the
 * digest of its public package, the digest of the key it replaces (none: it replaces no key), and
 * this party's own signed statement that it verified it.
 */
export interface PendingKeyMeta {
  protocol: KeyProtocol;
  session: string;
  packageDigest: string;
  replaces: string | null;
  statement: KeyStatement;
}

export interface PendingKey {
  key: StoredKey;
  meta: PendingKeyMeta;
}

/** A stored key's participants as its record holds them: `[party id, identifier]` pairs. */
function encodeParticipants(participants: ReadonlyMap<string, Identifier>): [string, Identifier][] {
  return [...participants];
}

function decodeParticipants(raw: unknown): ReadonlyMap<string, Identifier> {
  const pair = (p: unknown): p is [string, string] =>
    Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string';
  if (!Array.isArray(raw) || !raw.every(pair))
    throw new ValidationError(
      'DECODE_FAILED',
      'stored key: participants: expected [party id, identifier] pairs',
      ['participants'],
    );
  return new Map(raw);
}

export interface AuditEntry {
  at: string;
  event: string;
  session?: string;
  detail?: Record<string, unknown>;
}

const AGG_AT_PREFIX = 'agg-at/';
/** The time index of a claimed aggregation session: sorts by time (ms, 16 digits), then id. */
const aggregationAtKey = (ms: number, id: string) => `${AGG_AT_PREFIX}${String(ms).padStart(16, '0')}/${id}`;

const WITNESS_PREFIX = 'witness/';
const witnessKey = (origin: string) => `${WITNESS_PREFIX}${encodeURIComponent(origin)}`;
const LOG_ORIGIN_KEY = 'log-origin';

/**
 * How a checkpoint claim treats the party's log origin ({@link PartyStore.claimCheckpoint}):
 * `pin`, for a party with no `log_origin` configured, refuses any origin but the pinned one and
 * pins the first it claims; `configured`, for a party whose configured origin the caller has
 * already checked the checkpoint against, records that origin as the pinned one (so a setting
 * removed later leaves the party on the log it was last told).
 */
export type OriginRule = 'pin' | 'configured';

/**
 * Why a checkpoint of `origin` is outside the log a party with no `log_origin` witnesses (a
 * `checkpoint.origin` message), or `undefined` when it may be claimed: the one it pinned, or with
 * none pinned one of the logs it holds records of (`candidates`, a party from before pins were
 * kept), or any while it knows none. The claim ({@link PartyStore.claimCheckpoint}) and the party
 * node's early check (`party/log-origin.ts`) both ask this.
 */
export function outsidePin(
  pinned: string | undefined,
  candidates: readonly string[],
  origin: string,
): string | undefined {
  if (pinned !== undefined)
    return pinned === origin
      ? undefined
      : `this party witnesses the log ${pinned} only (pinned), not ${origin}; set log_origin to move it to another log`;
  if (candidates.length === 0 || candidates.includes(origin)) return undefined;
  return `this party witnesses the logs ${candidates.join(', ')}, not ${origin}; set log_origin to move it to another log`;
}

/** A claim refused for its origin: not the log this party witnesses. */
export interface OriginRefusal {
  ok: false;
  rule: 'checkpoint.origin';
  message: string;
}

/** What a checkpoint claim answers: the witness rule's decision, or an origin refusal. */
export type CheckpointClaim = CheckpointDecision | OriginRefusal;

/** Whether the party's database takes writes ({@link PartyStore.writeHealth}). */
export type PartyStoreHealth = { ok: true } | { ok: false; since: string; error: string };

type WriteOp = { type: 'put'; key: string; value: Bytes } | { type: 'del'; key: string };
type WriteOptions = { sync?: boolean };

/** Where a commitment's issue shows: its live nonce, its use and its expiry tombstones. */
const issueRecords = (k: string) => [`nonce/${k}`, `used/${k}`, `expired/${k}`];

/** An error's code and its cause's (`LEVEL_IO_ERROR`, `ENOSPC`): what broke, with no message text. */
function errorCodes(e: unknown): string {
  const codes: string[] = [];
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) && !codes.includes(code)) codes.push(code);
    x = (x as { cause?: unknown }).cause;
  }
  return codes.length > 0 ? codes.join(', ') : e instanceof Error ? e.name : 'unknown error';
}

/**
 * Whether {@link PartyStore.open} failed because another process has the database open (LevelDB's
 * lock: a running party, or `aaps party backup` / `restore`).
 */
export function isStoreLocked(e: unknown): boolean {
  return (e as { cause?: { code?: unknown } } | undefined)?.cause?.code === 'LEVEL_LOCKED';
}

export interface PartyStoreOptions {
  /** The clock nonces are stamped with when issued (default: the system clock). */
  now?: () => Date;
}

/** An `aggc/` record as `[entry, when]`: entry `undefined` (and time 0) when it does not read. */
function readConfirmation(v: Uint8Array): [unknown, Date] {
  try {
    const { at, entry } = JSON.parse(new TextDecoder().decode(v)) as { at: string; entry: unknown };
    const when = new Date(at);
    return [entry, Number.isNaN(when.getTime()) ? new Date(0) : when];
  } catch {
    return [undefined, new Date(0)];
  }
}

export class PartyStore implements NonceStore {
  readonly #db: Level<string, Bytes>;
  readonly #kek: SecretBytes;
  readonly #partyId: string;
  readonly #now: () => Date;
  /**
   * Commitment keys being consumed right now, each with that consume's settling: a concurrent
   * second request for the key waits for it, then answers from what the store holds after it.
   */
  readonly #inflight = new Map<string, Promise<unknown>>();
  /** Commitment keys being expired right now ({@link expireNonces}): a round two is refused. */
  readonly #expiring = new Set<string>();
  /**
   * Commitment keys being issued right now (`save`, or the fresh ones of `consumeAndSave`), from
   * the read that finds them never issued to the write that stores them: a second issue of one
   * (a stuck RNG drawing the same nonces in two requests at once) is refused, not written twice.
   */
  readonly #issuing = new Set<string>();
  /** Request ids seen, each with the time it is kept until (ms), mirrored from `seen/` (loaded at open). */
  readonly #seen = new Map<string, number>();
  /** Request ids recorded since the last prune of {@link #seen} (one prune every 1024). */
  #seenSincePrune = 0;
  /** Aggregation session ids being claimed right now ({@link claimAggregationSession}). */
  readonly #claimingAggregation = new Set<string>();
  /** The tail of the checkpoint claims, which run one at a time ({@link claimCheckpoint}). */
  #checkpointTurn: Promise<unknown> = Promise.resolve();
  /** No `ckpt/` record is left (none was found, or a `witness/` record took them over). */
  #legacyGone = false;
  /**
   * The log this party witnesses (see {@link pinnedLogOrigin}), and whether `log-origin` holds it
   * (a party from before pins were kept has it inferred from its one `witness/` record).
   */
  #logOrigin: string | undefined;
  #logOriginStored = false;
  /**
   * With no pin and `witness/` records of several origins (a party from before pins were kept
   * that signed for two logs): those origins, one of which it may still pin. Empty otherwise.
   */
  #undecidedOrigins: readonly string[] = [];
  #auditSeq = 0;
  #health: PartyStoreHealth = { ok: true };

  private constructor(db: Level<string, Bytes>, kek: SecretBytes, partyId: string, now: () => Date) {
    this.#db = db;
    this.#kek = kek;
    this.#partyId = partyId;
    this.#now = now;
  }

  static async open(
    path: string,
    kek: SecretBytes,
    partyId: string,
    options: PartyStoreOptions = {},
  ): Promise<PartyStore> {
    const db = new Level<string, Bytes>(path, { valueEncoding: 'view' });
    await db.open();
    try {
      await claimStoreFormat(db, {
        key: FORMAT_KEY,
        current: PARTY_STORE_FORMAT,
        what: `party store at ${path}`,
      });
    } catch (e) {
      await db.close();
      throw e;
    }
    const store = new PartyStore(db, kek, partyId, options.now ?? (() => new Date()));
    const last = await db.keys({ gte: 'audit/', lt: 'audit/\xff', reverse: true, limit: 1 }).all();
    store.#auditSeq = last.length ? Number.parseInt(last[0]!.slice('audit/'.length), 10) + 1 : 0;
    for await (const [k, v] of db.iterator({ gte: 'seen/', lt: 'seen/\xff' })) {
      store.#seen.set(k.slice(5), Date.parse(text(v)));
    }
    const pinned = await db.get(LOG_ORIGIN_KEY);
    if (pinned !== undefined) {
      store.#logOrigin = text(pinned);
      store.#logOriginStored = true;
    } else {
      const witnessed = await store.#witnessedOrigins();
      if (witnessed.length === 1) store.#logOrigin = witnessed[0];
      else store.#undecidedOrigins = witnessed;
    }
    return store;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  /**
   * Whether the last write reached the database. LevelDB keeps failing once a write failed for
   * lack of space (its error sticks until the database is reopened), and a closed database takes
   * none: the party's `/healthz` says so, and a restart is needed once the cause is gone. `error`
   * holds the error's codes only (`LEVEL_IO_ERROR`), never its message.
   */
  writeHealth(): PartyStoreHealth {
    return this.#health;
  }

  // Every write goes through these three, so {@link writeHealth} sees each one's outcome.

  #put(key: string, value: Bytes, options: WriteOptions = {}): Promise<void> {
    return this.#wrote(this.#db.put(key, value, options));
  }

  #del(key: string, options: WriteOptions = {}): Promise<void> {
    return this.#wrote(this.#db.del(key, options));
  }

  #batch(ops: readonly WriteOp[], options: WriteOptions = {}): Promise<void> {
    return this.#wrote(this.#db.batch([...ops], options));
  }

  #wrote(write: Promise<void>): Promise<void> {
    return write.then(
      () => {
        this.#health = { ok: true };
      },
      (e: unknown) => {
        if (this.#health.ok)
          this.#health = { ok: false, since: new Date().toISOString(), error: errorCodes(e) };
        throw e;
      },
    );
  }

  #aad(kind: string, id: string): Bytes {
    return utf8(`aaps-party/${this.#partyId}/${kind}/${id}`);
  }

  async #get(key: string): Promise<Bytes | undefined> {
    return (await this.#db.get(key)) ?? undefined;
  }

  // ---- key package ----

  async saveKey(k: StoredKey): Promise<void> {
    await this.#put('key/current', this.#keyRecord(k, 'current'), { sync: true });
  }

  async loadKey(): Promise<StoredKey | undefined> {
    const raw = await this.#get('key/current');
    return raw && this.#readKeyRecord(raw, 'current');
  }

  /**
   * A key (a DKG's, or a refreshed share) this party verified but that is not in use: it becomes
   * the current key only with {@link commitPendingKey}. One at a time: a new one replaces it.
   */
  async savePendingKey(p: PendingKey): Promise<void> {
    const record = encodeCbor({ key: this.#keyRecord(p.key, 'pending'), meta: JSON.stringify(p.meta) });
    await this.#put('key/pending', record, { sync: true });
  }

  async loadPendingKey(): Promise<PendingKey | undefined> {
    const raw = await this.#get('key/pending');
    if (!raw) return undefined;
    const r = decodeCbor(raw) as { key: Bytes; meta: string };
    return { key: this.#readKeyRecord(r.key, 'pending'), meta: JSON.parse(r.meta) as PendingKeyMeta };
  }

  async dropPendingKey(): Promise<void> {
    await this.#del('key/pending', { sync: true });
  }

  /**
   * Make the pending key current, in one synced write: the key, the proof that every participant
   * verified it (kept so a peer left pending by a crash can be committed from it), and the pending
   * record's removal.
   */
  async commitPendingKey(key: StoredKey, proof: KeyCommitProof): Promise<void> {
    await this.#batch(
      [
        { type: 'put', key: 'key/current', value: this.#keyRecord(key, 'current') },
        { type: 'put', key: 'key/commit', value: utf8(JSON.stringify(proof)) },
        { type: 'del', key: 'key/pending' },
      ],
      { sync: true },
    );
  }

  /** The proof of the last commit ({@link commitPendingKey}), if any. */
  async loadCommitProof(): Promise<KeyCommitProof | undefined> {
    const raw = await this.#get('key/commit');
    return raw && (JSON.parse(text(raw)) as KeyCommitProof);
  }

  #keyRecord(k: StoredKey, slot: 'current' | 'pending'): Bytes {
    const suite = k.keyPackage.suite;
    // The key package's plaintext encoding (the signing share in the clear) is zeroed once sealed.
    const plain = KeyPackageCodec.encode(suite, k.keyPackage);
    let sealed: Bytes;
    try {
      sealed = encryptAtRest(this.#kek, plain, this.#aad('key', slot));
    } finally {
      plain.fill(0);
    }
    return encodeCbor({
      sealedKeyPackage: sealed,
      publicPackage: PublicKeyPackageCodec.encode(suite, k.publicPackage),
      rosterDigest: k.rosterDigest,
      createdAt: k.createdAt,
      // Optional, so a record written before it was kept still reads.
      ...(k.participants ? { participants: encodeParticipants(k.participants) } : {}),
    });
  }

  #readKeyRecord(raw: Bytes, slot: 'current' | 'pending'): StoredKey {
    const r = decodeCbor(raw) as {
      sealedKeyPackage: Bytes;
      publicPackage: Bytes;
      rosterDigest: string;
      createdAt: string;
      participants?: unknown;
    };
    // Decoding copies the share into a SecretBytes; the opened plaintext is zeroed after.
    const plain = decryptAtRest(this.#kek, r.sealedKeyPackage, this.#aad('key', slot));
    let kp: KeyPackage;
    try {
      kp = KeyPackageCodec.decode(plain).value;
    } finally {
      plain.fill(0);
    }
    const pub = PublicKeyPackageCodec.decode(r.publicPackage).value;
    return {
      keyPackage: kp,
      publicPackage: pub,
      rosterDigest: r.rosterDigest,
      createdAt: r.createdAt,
      ...(r.participants !== undefined ? { participants: decodeParticipants(r.participants) } : {}),
    };
  }

  // ---- nonces (NonceStore) ----

  async save(records: readonly NonceRecord[]): Promise<void> {
    const keys = this.#freshKeys(records);
    await this.#issue(keys, async () => {
      const found = await this.#db.getMany(keys.flatMap(issueRecords));
      await this.#batch(this.#saveOps(records, keys, found), { sync: true });
    });
  }

  /**
   * Run `write` (which checks that `keys` were never issued, then stores them) holding `keys`, so
   * no other request issues one of them between its check and its write.
   */
  async #issue<T>(keys: readonly string[], write: () => Promise<T>): Promise<T> {
    const taken = keys.find((k) => this.#issuing.has(k));
    if (taken !== undefined)
      throw new ProtocolError('NONCE_REUSE', `commitment ${taken} is being issued by another request`);
    for (const k of keys) this.#issuing.add(k);
    try {
      return await write();
    } finally {
      for (const k of keys) this.#issuing.delete(k);
    }
  }

  /** The commitment keys of records to store, refused when one repeats (or is `spending`). */
  #freshKeys(records: readonly NonceRecord[], spending?: string): string[] {
    const keys = records.map((r) => commitmentKey(r.commitment));
    if (new Set(keys).size !== keys.length || (spending !== undefined && keys.includes(spending)))
      throw new ProtocolError('NONCE_REUSE', 'a commitment is repeated in the batch');
    return keys;
  }

  /**
   * The writes that store `records` under `keys`, once none of them was ever issued here: `found`
   * is what the store holds at {@link issueRecords} of each key, in order (one read for the batch).
   */
  #saveOps(
    records: readonly NonceRecord[],
    keys: readonly string[],
    found: readonly (Bytes | undefined)[],
  ): WriteOp[] {
    const issued = keys.findIndex((_, i) => found[3 * i] || found[3 * i + 1] || found[3 * i + 2]);
    if (issued >= 0) throw new ProtocolError('NONCE_REUSE', `commitment ${keys[issued]} was already issued`);
    const stamp = utf8(String(this.#now().getTime()));
    return records.flatMap((r, i) => [
      { type: 'put' as const, key: `nonce/${keys[i]}`, value: this.#sealNonce(r, keys[i]!) },
      { type: 'put' as const, key: `nonce-at/${keys[i]}`, value: stamp },
    ]);
  }

  /** A nonce record sealed for the disk; its plaintext encoding is zeroed once sealed (or not). */
  #sealNonce(record: NonceRecord, key: string): Bytes {
    const plain = encodeNonceRecord(record);
    try {
      return encryptAtRest(this.#kek, plain, this.#aad('nonce', key));
    } finally {
      plain.fill(0);
    }
  }

  async consume(key: string): Promise<NonceRecord> {
    return this.consumeAndSave(key, []);
  }

  /**
   * {@link consume} `key` and {@link save} `records` in one synced batch: round two hands out
   * fresh commitments with the nonce it spends at the cost of one write. Both or neither.
   */
  async consumeAndSave(key: string, records: readonly NonceRecord[]): Promise<NonceRecord> {
    // A request for a key another request is consuming waits for it and then sees the store as
    // that one left it: a tombstone (NONCE_REUSE) if the nonce was handed out, nothing
    // (UNKNOWN_NONCE) if the key was never issued. The record is still handed out at most once.
    for (let ahead = this.#inflight.get(key); ahead; ahead = this.#inflight.get(key)) {
      await ahead.catch(() => undefined);
    }
    if (this.#expiring.has(key))
      throw new ProtocolError('UNKNOWN_NONCE', `commitment ${key} is expiring unused`);
    const consuming = this.#consumeNow(key, records);
    this.#inflight.set(key, consuming);
    try {
      return await consuming;
    } finally {
      this.#inflight.delete(key);
    }
  }

  async #consumeNow(key: string, fresh: readonly NonceRecord[]): Promise<NonceRecord> {
    const freshKeys = this.#freshKeys(fresh, key);
    return this.#issue(freshKeys, () => this.#consumeSaving(key, fresh, freshKeys));
  }

  async #consumeSaving(
    key: string,
    fresh: readonly NonceRecord[],
    freshKeys: string[],
  ): Promise<NonceRecord> {
    // One read: the nonce spent, and whether any fresh one was ever issued.
    const [sealed, ...found] = await this.#db.getMany([`nonce/${key}`, ...freshKeys.flatMap(issueRecords)]);
    if (!sealed) {
      const [used, expired] = await this.#db.getMany([`used/${key}`, `expired/${key}`]);
      if (used) throw new ProtocolError('NONCE_REUSE', `commitment ${key} was already used`);
      if (expired)
        throw new ProtocolError('UNKNOWN_NONCE', `commitment ${key} expired unused at ${text(expired)}`);
      throw new ProtocolError('UNKNOWN_NONCE', `commitment ${key} was never issued by this party`);
    }
    const saving = fresh.length > 0 ? this.#saveOps(fresh, freshKeys, found) : [];
    const plain = decryptAtRest(this.#kek, sealed, this.#aad('nonce', key));
    const record = decodeNonceRecord(plain);
    plain.fill(0);
    // Delete and leave a tombstone in one synced batch BEFORE any share is computed: after a
    // crash at any point the nonce is either unused and still stored, or gone for good. Fresh
    // nonces ride in the same batch, so they are stored before their commitments can leave.
    try {
      await this.#batch(
        [
          { type: 'del', key: `nonce/${key}` },
          { type: 'del', key: `nonce-at/${key}` },
          { type: 'put', key: `used/${key}`, value: utf8(this.#now().toISOString()) },
          ...saving,
        ],
        { sync: true },
      );
    } catch (e) {
      wipeNonceRecord(record);
      throw e;
    }
    return record;
  }

  async count(keySetId?: string): Promise<number> {
    let n = 0;
    for await (const [k, v] of this.#db.iterator({ gte: 'nonce/', lt: 'nonce/\xff' })) {
      if (keySetId === undefined) n++;
      else {
        const rec = decodeNonceRecord(decryptAtRest(this.#kek, v, this.#aad('nonce', k.slice(6))));
        if (rec.keySetId === keySetId) n++;
        wipeNonceRecord(rec);
      }
    }
    return n;
  }

  /** Whether a commitment key has been consumed (for audits and the fault suite). */
  async wasUsed(key: string): Promise<boolean> {
    return (await this.#get(`used/${key}`)) !== undefined;
  }

  /** Drop every stored nonce (after a refresh or a new key: old nonces must not sign). */
  async clearNonces(): Promise<number> {
    const ops = await this.#nonceDeletions();
    if (ops.length) await this.#batch(ops, { sync: true });
    return ops.length / 2;
  }

  /** The batch operations that delete every stored nonce with its issue stamp (two per nonce). */
  async #nonceDeletions(): Promise<{ type: 'del'; key: string }[]> {
    const ops: { type: 'del'; key: string }[] = [];
    for await (const k of this.#db.keys({ gte: 'nonce/', lt: 'nonce/\xff' }))
      ops.push({ type: 'del', key: k }, { type: 'del', key: `nonce-at/${k.slice('nonce/'.length)}` });
    return ops;
  }

  /**
   * Put a key rebuilt from a backup in place (`aaps party restore`), in one synced batch with the
   * removal of every stored nonce (drawn for whatever share was here) and the audit entry, which
   * `entry` builds from the number of nonces dropped: a restore cut short leaves the store as it
   * was, never a new key beside old nonces or without its record. Returns that number.
   */
  async restoreKey(k: StoredKey, entry: (noncesDropped: number) => AuditEntry): Promise<number> {
    const deletions = await this.#nonceDeletions();
    const dropped = deletions.length / 2;
    await this.#batch(
      [
        { type: 'put', key: 'key/current', value: this.#keyRecord(k, 'current') },
        ...deletions,
        this.#auditPut(entry(dropped)),
      ],
      { sync: true },
    );
    return dropped;
  }

  /**
   * Expire the unused nonces issued before `issuedBefore`: each is deleted and leaves an
   * `expired/` tombstone, so its commitment is never issued again and a late round two is told it
   * expired (`UNKNOWN_NONCE`: a coordinator then asks for fresh commitments). A nonce being
   * consumed is left alone; one being expired is refused to a round two (`UNKNOWN_NONCE`). A
   * nonce stored before issue times were kept is stamped now, and so expires one time to live
   * later; a stamp whose nonce is gone is dropped. Returns how many expired.
   *
   * Expiry stops a nonce's use. Its sealed record stays in LevelDB's files, encrypted under the
   * data key, until compaction rewrites them.
   */
  async expireNonces(issuedBefore: Date): Promise<number> {
    const cutoff = issuedBefore.getTime();
    // One iterator, so one snapshot: `nonce-at/` sorts just before `nonce/`, and `save` writes a
    // nonce and its stamp in one batch, so a stamp with no nonce here is left over.
    const stamps = new Map<string, number>();
    const stored: string[] = [];
    for await (const [k, v] of this.#db.iterator({ gte: 'nonce-at/', lt: 'nonce/\xff' })) {
      if (k.startsWith('nonce-at/')) stamps.set(k.slice('nonce-at/'.length), Number(text(v)));
      else if (k.startsWith('nonce/')) stored.push(k.slice('nonce/'.length));
    }
    const due: string[] = [];
    const unstamped: string[] = [];
    for (const id of stored) {
      const at = stamps.get(id);
      stamps.delete(id);
      if (at === undefined) unstamped.push(id);
      else if (!(at >= cutoff) && !this.#inflight.has(id) && !this.#expiring.has(id)) due.push(id);
    }
    // Held from here on, so no round two consumes one while it is expired; then only those still
    // stored (one may have been consumed since the snapshot) are expired.
    for (const id of due) this.#expiring.add(id);
    try {
      const present = await this.#db.getMany(due.map((id) => `nonce/${id}`));
      const expiring = due.filter((_, i) => present[i] !== undefined);
      const now = this.#now();
      const stamp = utf8(String(now.getTime()));
      const at = utf8(now.toISOString());
      const ops = [
        ...unstamped.map((id) => ({ type: 'put' as const, key: `nonce-at/${id}`, value: stamp })),
        ...[...stamps.keys()].map((id) => ({ type: 'del' as const, key: `nonce-at/${id}` })),
        ...expiring.flatMap((id) => [
          { type: 'del' as const, key: `nonce/${id}` },
          { type: 'del' as const, key: `nonce-at/${id}` },
          { type: 'put' as const, key: `expired/${id}`, value: at },
        ]),
      ];
      if (ops.length > 0) await this.#batch(ops, { sync: true });
      return expiring.length;
    } finally {
      for (const id of due) this.#expiring.delete(id);
    }
  }

  // ---- replay protection ----

  /**
   * Records a request id, kept until `keepUntil` (its own: an unseal request's outlasts an RPC
   * idempotency key's); false if it was already seen. Entries kept until before `at` are pruned
   * (once every 1024 records), whoever recorded them. `sync` waits until the record is on disk, for a
   * request that must be answered once even across a power loss (an unseal's release); an RPC's
   * idempotency key is not worth a disk flush on every call.
   */
  async rememberRequest(
    id: string,
    at: Date,
    keepUntil: Date,
    opts: { sync?: boolean } = {},
  ): Promise<boolean> {
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, keepUntil.getTime());
    await this.#put(`seen/${id}`, utf8(keepUntil.toISOString()), { sync: opts.sync === true });
    // Counted in records, not by the map's size: under traffic that expires one id for each it
    // records, the size would sit at a multiple of 1024 and every request would scan the map.
    if (++this.#seenSincePrune >= 1024) {
      this.#seenSincePrune = 0;
      await this.#pruneSeen(at);
    }
    return true;
  }

  async #pruneSeen(now: Date): Promise<void> {
    const ops: { type: 'del'; key: string }[] = [];
    const cutoff = now.getTime();
    for (const [id, until] of this.#seen) {
      if (until < cutoff) {
        this.#seen.delete(id);
        ops.push({ type: 'del', key: `seen/${id}` });
      }
    }
    if (ops.length) await this.#batch(ops);
  }

  // ---- aggregation sessions dealt (one dealing per session id) ----

  /**
   * Claim aggregation session `id` before this party deals in it: recorded (synced) and true the
   * first time, false if it was claimed before and its record is younger than `expireBefore` (a
   * concurrent claim of the same id is false too). Records older than `expireBefore` are dropped,
   * oldest first through the `agg-at/` index, so the set is bounded by the retention window and
   * nothing is held in memory. `audit`, when given, is written in the same batch as the claim, so
   * a failed write leaves neither (the id stays free) and a claim is never without its entry.
   */
  async claimAggregationSession(
    id: string,
    at: Date,
    expireBefore: Date,
    audit?: AuditEntry,
  ): Promise<boolean> {
    if (this.#claimingAggregation.has(id)) return false;
    this.#claimingAggregation.add(id);
    try {
      await this.#pruneAggregationSessions(expireBefore);
      if ((await this.#get(`agg/${id}`)) !== undefined) return false;
      await this.#batch(
        [
          { type: 'put', key: `agg/${id}`, value: utf8(at.toISOString()) },
          { type: 'put', key: aggregationAtKey(at.getTime(), id), value: new Uint8Array(0) },
          ...(audit === undefined ? [] : [this.#auditPut(audit)]),
        ],
        { sync: true },
      );
      return true;
    } finally {
      this.#claimingAggregation.delete(id);
    }
  }

  /**
   * The receivers (party ids) whose shares this party has revealed, as a dealer, in aggregation
   * session `id` (the complaint step, `agg.reveal`): empty if none. Kept so that a restart cannot
   * be used to reveal the shares of t or more receivers of one session.
   */
  async aggregationReveals(id: string): Promise<string[]> {
    const raw = await this.#get(`aggr/${id}`);
    if (raw === undefined) return [];
    const list = JSON.parse(new TextDecoder().decode(raw)) as unknown;
    return Array.isArray(list) ? list.filter((r): r is string => typeof r === 'string') : [];
  }

  /**
   * Record (synced) that this party has revealed the shares of `receivers` in aggregation session
   * `id` (the whole list so far). Dropped with the session's other records once older than the
   * retention window.
   */
  async saveAggregationReveals(id: string, receivers: readonly string[], at: Date): Promise<void> {
    await this.#batch(
      [
        { type: 'put', key: `aggr/${id}`, value: utf8(JSON.stringify([...receivers])) },
        { type: 'put', key: aggregationAtKey(at.getTime(), id), value: new Uint8Array(0) },
      ],
      { sync: true },
    );
  }

  /**
   * Record that this party confirmed aggregation session `id` (synced): `entry` is the ledger's
   * JSON. Dropped with the session's other records once older than the retention window.
   */
  async saveConfirmedAggregation(id: string, entry: unknown, at: Date): Promise<void> {
    await this.#batch(
      [
        { type: 'put', key: `aggc/${id}`, value: utf8(JSON.stringify({ at: at.toISOString(), entry })) },
        { type: 'put', key: aggregationAtKey(at.getTime(), id), value: new Uint8Array(0) },
      ],
      { sync: true },
    );
  }

  /**
   * Every confirmed aggregation kept, oldest first: `[session id, entry, when]`. A record that does
   * not read (damaged on disk) comes back with entry `undefined` (and the time 0), for the caller
   * to skip and report. Reads the whole retention window: for tools and tests, not a party's start
   * (see {@link newestConfirmedAggregations}).
   */
  async confirmedAggregations(): Promise<[string, unknown, Date][]> {
    const out: [string, unknown, Date][] = [];
    for await (const [k, v] of this.#db.iterator({ gte: 'aggc/', lt: 'aggc0' })) {
      out.push([k.slice('aggc/'.length), ...readConfirmation(v)]);
    }
    return out.sort((a, b) => a[2].getTime() - b[2].getTime());
  }

  /**
   * The newest confirmed aggregations, at most `n`, oldest first (as
   * {@link confirmedAggregations} gives them): found by walking the `agg-at/` time index from its
   * newest end and reading each session's `aggc/` record by key, so the cost is that of `n`
   * records, however many the retention window holds. The walk stops after `4n` index entries (a
   * session has one for its claim, one for its confirmation and one per reveal): a store of
   * rounds that were dealt but never confirmed gives fewer.
   */
  async newestConfirmedAggregations(n: number): Promise<[string, unknown, Date][]> {
    const out: [string, unknown, Date][] = [];
    if (n <= 0) return out;
    const seen = new Set<string>();
    let ids: string[] = [];
    const read = async () => {
      const values = await this.#db.getMany(ids.map((id) => `aggc/${id}`));
      values.forEach((v, i) => {
        if (v !== undefined && out.length < n) out.push([ids[i]!, ...readConfirmation(v)]);
      });
      ids = [];
    };
    for await (const k of this.#db.keys({ gte: AGG_AT_PREFIX, lt: 'agg-at0', reverse: true, limit: 4 * n })) {
      const id = k.slice(AGG_AT_PREFIX.length + 17);
      if (seen.has(id)) continue;
      seen.add(id);
      ids.push(id);
      // Read in batches of at most 256, never more than the records still wanted.
      if (ids.length >= Math.min(256, n - out.length)) await read();
      if (out.length >= n) break;
    }
    if (ids.length > 0 && out.length < n) await read();
    // Newest first as read; damaged ones (time 0) keep their place in the index's order.
    return out.reverse();
  }

  /** The confirmation of aggregation session `id`, `[entry, when]`, if kept (see above). */
  async confirmedAggregation(id: string): Promise<[unknown, Date] | undefined> {
    const v = await this.#get(`aggc/${id}`);
    return v === undefined ? undefined : readConfirmation(v);
  }

  /** Whether aggregation session `id` was claimed (and its record not yet dropped). */
  async aggregationSessionClaimed(id: string): Promise<boolean> {
    return (await this.#get(`agg/${id}`)) !== undefined;
  }

  async #pruneAggregationSessions(before: Date): Promise<void> {
    const ops: { type: 'del'; key: string }[] = [];
    const end = aggregationAtKey(Math.max(0, before.getTime()), '');
    for await (const k of this.#db.keys({ gte: AGG_AT_PREFIX, lt: end })) {
      const id = k.slice(AGG_AT_PREFIX.length + 17);
      ops.push(
        { type: 'del', key: k },
        { type: 'del', key: `agg/${id}` },
        { type: 'del', key: `aggc/${id}` },
        { type: 'del', key: `aggr/${id}` },
      );
    }
    if (ops.length) await this.#batch(ops);
  }

  // ---- signed checkpoints: per origin, one root per size, each extending the last ----

  /**
   * Claim checkpoint `proposed` of `origin` before its share is computed, as a C2SP witness would:
   * {@link decideCheckpoint} against the last checkpoint signed for the origin (none: trust on
   * first use), and a checkpoint it signs is recorded (synced) as the new last one. Claims run one
   * at a time, so two concurrent requests can never both pass on different histories. A
   * checkpoint shown to the party to witness (`checkpoint.witness`) is claimed the same way.
   *
   * With `originRule` (a party node always passes one; see {@link OriginRule}) the claim also
   * keeps the party on one log: under `pin` a checkpoint of another origin than the pinned one is
   * refused (`checkpoint.origin`), and the first origin claimed is pinned in the same synced
   * batch as its record, so a compromised gateway cannot have the party sign the first checkpoint
   * of a side log. A party from before pins were kept, with no pin, takes the origin of its one
   * `witness/` record as pinned; with several, only one of those may be pinned.
   *
   * Roots signed before checkpoints were kept per origin (`ckpt/<size>`, no origin) bind the
   * first origin signed after an upgrade: while no `witness/` record exists, the largest of them
   * is the last signed checkpoint of any origin, and the first `witness/` record written takes
   * them over (they are deleted in the same synced batch). Once any `witness/` record exists
   * they bind nothing.
   */
  claimCheckpoint(
    origin: string,
    proposed: ProposedCheckpoint,
    originRule?: OriginRule,
  ): Promise<CheckpointClaim> {
    const run = this.#checkpointTurn.then(async (): Promise<CheckpointClaim> => {
      if (originRule === 'pin') {
        const refused = await this.#outsidePin(origin);
        if (refused !== undefined) return refused;
      }
      const legacy = await this.#legacyCheckpoint();
      const own = await this.lastCheckpoint(origin);
      const decision = decideCheckpoint(own ?? legacy?.last, proposed);
      if (!decision.ok) return decision;
      const pin =
        originRule !== undefined && !(this.#logOriginStored && this.#logOrigin === origin)
          ? [{ type: 'put' as const, key: LOG_ORIGIN_KEY, value: utf8(origin) }]
          : [];
      // The same checkpoint again: nothing to record (but a pin not yet written).
      const same = own !== undefined && own.size === proposed.size && legacy === undefined;
      if (same && pin.length === 0) return decision;
      const rootHex = bytesToHex(proposed.root);
      const record = {
        type: 'put' as const,
        key: witnessKey(origin),
        value: utf8(`${proposed.size} ${rootHex}`),
      };
      const takeOver = (legacy?.keys ?? []).map((key) => ({ type: 'del' as const, key }));
      await this.#batch([...(same ? [] : [record]), ...takeOver, ...pin], { sync: true });
      if (legacy !== undefined) this.#legacyGone = true;
      if (pin.length > 0) {
        this.#logOrigin = origin;
        this.#logOriginStored = true;
        this.#undecidedOrigins = [];
      }
      return decision;
    });
    this.#checkpointTurn = run.catch(() => undefined);
    return run;
  }

  /**
   * The log origin this party witnesses when none is configured: the one it pinned (the first it
   * signed or witnessed a checkpoint of, or the configured one it last signed under), or the one
   * origin it holds a record of from before pins were kept; `undefined` while it knows no log.
   */
  pinnedLogOrigin(): string | undefined {
    return this.#logOrigin;
  }

  /**
   * The logs a party from before pins were kept holds records of, when it holds several and has
   * pinned none (it witnesses one of them once a checkpoint of it is claimed, or once `log_origin`
   * is set); empty when it has pinned one or holds at most one.
   */
  undecidedLogOrigins(): readonly string[] {
    return this.#logOrigin === undefined ? this.#undecidedOrigins : [];
  }

  /** The refusal of a claim under `pin` for `origin`, or `undefined` when the origin may be claimed. */
  async #outsidePin(origin: string): Promise<OriginRefusal | undefined> {
    const pinned = this.#logOrigin;
    // No pin, several per-origin records (a party from before pins were kept): one of those, read
    // from the records themselves.
    const candidates = pinned === undefined ? await this.#witnessedOrigins() : [];
    const message = outsidePin(pinned, candidates, origin);
    return message === undefined ? undefined : { ok: false, rule: 'checkpoint.origin', message };
  }

  /** The origins of the `witness/` records (one per log this party has signed or witnessed for). */
  async #witnessedOrigins(): Promise<string[]> {
    const keys = await this.#db.keys({ gte: WITNESS_PREFIX, lt: `${WITNESS_PREFIX}\xff` }).all();
    return keys.map((k) => decodeURIComponent(k.slice(WITNESS_PREFIX.length)));
  }

  /** The last checkpoint this party signed for `origin` (not counting `ckpt/` records). */
  async lastCheckpoint(origin: string): Promise<WitnessedCheckpoint | undefined> {
    const stored = await this.#get(witnessKey(origin));
    if (stored === undefined) return undefined;
    const [size, rootHex] = text(stored).split(' ');
    return { size: Number.parseInt(size!, 10), rootHex: rootHex! };
  }

  /**
   * The roots signed before checkpoints were kept per origin (`ckpt/<size>`): their keys, and the
   * largest as the checkpoint they bind, or none once any `witness/` record exists (the first one
   * written took them over). None at all once they are deleted.
   */
  async #legacyCheckpoint(): Promise<{ keys: string[]; last?: WitnessedCheckpoint } | undefined> {
    if (this.#legacyGone) return undefined;
    const keys = await this.#db.keys({ gte: 'ckpt/', lt: 'ckpt/\xff' }).all();
    if (keys.length === 0) {
      this.#legacyGone = true;
      return undefined;
    }
    const [witness] = await this.#db
      .keys({ gte: WITNESS_PREFIX, lt: `${WITNESS_PREFIX}\xff`, limit: 1 })
      .all();
    if (witness !== undefined) return { keys };
    const largest = keys[keys.length - 1]!;
    const rootHex = await this.#get(largest);
    if (rootHex === undefined) return { keys };
    return {
      keys,
      last: { size: Number.parseInt(largest.slice('ckpt/'.length), 10), rootHex: text(rootHex) },
    };
  }

  // ---- audit trail ----

  async audit(entry: AuditEntry): Promise<void> {
    const { key, value } = this.#auditPut(entry);
    await this.#put(key, value);
  }

  /** The next audit entry as a batch operation (its sequence number taken now). */
  #auditPut(entry: AuditEntry): { type: 'put'; key: string; value: Uint8Array } {
    const seq = this.#auditSeq++;
    return { type: 'put', key: `audit/${seq.toString().padStart(12, '0')}`, value: encodeCbor(entry) };
  }

  /**
   * Every audit entry, oldest first, with its sequence number, read as the trail is walked (for
   * `aaps party audit`). An entry that does not decode ends the walk with an error naming it.
   */
  async *auditEntries(): AsyncGenerator<AuditEntry & { seq: number }> {
    for await (const [key, value] of this.#db.iterator({ gte: 'audit/', lt: 'audit/\xff' })) {
      const seq = Number.parseInt(key.slice('audit/'.length), 10);
      let entry: AuditEntry;
      try {
        entry = decodeCbor(value) as AuditEntry;
      } catch (e) {
        throw new Error(`audit entry ${seq} does not decode: ${e instanceof Error ? e.message : String(e)}`);
      }
      yield { seq, ...entry };
    }
  }

  async auditTrail(limit = 1000): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const v of this.#db.values({ gte: 'audit/', lt: 'audit/\xff', limit }))
      out.push(decodeCbor(v) as AuditEntry);
    return out;
  }

  /** Every consumed commitment key with the share digest it answered (for the fault suite). */
  async usedCommitments(): Promise<string[]> {
    return (await this.#db.keys({ gte: 'used/', lt: 'used/\xff' }).all()).map((k) => k.slice(5));
  }
}
