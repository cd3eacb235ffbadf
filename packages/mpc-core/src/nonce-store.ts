/**
 * The nonce lifecycle behind a store. A signer's round-one nonces are saved durably BEFORE their
 * commitments leave the party, and consumed (removed, leaving a tombstone) BEFORE a share is
 * computed with them, so that a crash or a replayed request can never make a nonce sign twice.
 *
 * `NonceStore` is the interface a party node implements on its database; `InMemoryNonceStore` is
 * the reference implementation (tests, single-process use). Stores hold records encoded with
 * {@link encodeNonceRecord}: the secret nonces are exposed only inside that encoding, that is,
 * inside the store boundary; everywhere else they stay `SecretBytes` and print `<redacted>`. The
 * encode/decode pair copies (bytes can be decoded any number of times), so the one-use guarantee
 * for stored nonces is the store's delete-before-sign, not the codec's.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, bytesToHex, concatBytes, utf8 } from './bytes.js';
import { defineCodec } from './codec.js';
import { ProtocolError, ValidationError } from './errors.js';
import { assertObject, assertSecret, assertString, assertSuite, optionsOf } from './guards.js';
import type { Identifier, KeyPackage } from './keys.js';
import { SecretBytes } from './secret.js';
import type { Round1Commitment, SigningNonces } from './sign/round1.js';
import type { AnyCiphersuite, CiphersuiteId } from './suite/types.js';

/** One stored round-one output: the secret nonces, their public commitment and the key set. */
export interface NonceRecord {
  readonly suite: CiphersuiteId;
  /** Which key (party share) these nonces may sign with; see {@link keySetIdOf}. */
  readonly keySetId: string;
  readonly commitment: Round1Commitment;
  readonly hiding: SecretBytes;
  readonly binding: SecretBytes;
}

/**
 * Where a party keeps its nonces. Implementations must make `save` durable before it resolves and
 * `consume` atomic (a record is handed out at most once, ever).
 */
export interface NonceStore {
  /**
   * Persist every record, all or nothing, before resolving. A record whose commitment key is
   * already stored, already consumed, or repeated in the batch is refused with
   * `ProtocolError('NONCE_REUSE')` and nothing is saved.
   */
  save(records: readonly NonceRecord[]): Promise<void>;
  /**
   * Atomically remove the record for a {@link commitmentKey} and leave a tombstone. A consumed key
   * gives `ProtocolError('NONCE_REUSE')`; a key never saved gives `ProtocolError('UNKNOWN_NONCE')`.
   */
  consume(key: string): Promise<NonceRecord>;
  /**
   * Optional: {@link consume} the record for `key` and {@link save} `records` as one atomic,
   * durable step: both or neither, with the errors of each. Round two uses it to hand out fresh
   * commitments with the nonce it spends, at the cost of one write; without it a signer consumes
   * and then saves.
   */
  consumeAndSave?(key: string, records: readonly NonceRecord[]): Promise<NonceRecord>;
  /** How many records are stored and not yet consumed (for one key set, when given). */
  count(keySetId?: string): Promise<number>;
}

const KEY_DOMAIN = utf8('aaps/nonce-commitment-key/v1');
const KEY_SET_DOMAIN = utf8('aaps/nonce-key-set/v1');

/** Length-prefixed concatenation, so that no two field lists hash alike. */
function framed(...parts: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, p.length);
    out.push(len, p);
  }
  return concatBytes(...out);
}

function checkCommitmentShape(c: Round1Commitment, path: string): void {
  if (!c || typeof c !== 'object')
    throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
  if (typeof c.identifier !== 'string' || c.identifier.length === 0) {
    throw new ValidationError('INVALID_IDENTIFIER', `${path}.identifier: expected hex string`, [
      `${path}.identifier`,
    ]);
  }
  for (const k of ['hiding', 'binding'] as const) {
    if (!(c[k] instanceof Uint8Array) || c[k].length === 0) {
      throw new ValidationError('INVALID_ARGUMENT', `${path}.${k}: expected bytes`, [`${path}.${k}`]);
    }
  }
}

/**
 * The store key of a commitment: lower-case hex of SHA-256 over the domain tag, the identifier and
 * both commitment points. Public (it is derived from public data), so it can be logged.
 */
export function commitmentKey(commitment: Round1Commitment): string {
  checkCommitmentShape(commitment, 'commitment');
  return bytesToHex(
    sha256(framed(KEY_DOMAIN, utf8(commitment.identifier), commitment.hiding, commitment.binding)),
  );
}

/**
 * The key-set id a party's nonces are bound to: hex SHA-256 over the suite, group key, identifier
 * and verifying share. A refreshed share has a new verifying share, so nonces saved for the old one
 * are refused.
 */
export function keySetIdOf(keyPackage: KeyPackage): string {
  assertObject(keyPackage, 'keyPackage');
  assertString(keyPackage.suite, 'keyPackage.suite');
  assertBytes(keyPackage.groupPublicKey, 'keyPackage.groupPublicKey');
  assertString(keyPackage.identifier, 'keyPackage.identifier');
  assertBytes(keyPackage.verifyingShare, 'keyPackage.verifyingShare');
  return bytesToHex(
    sha256(
      framed(
        KEY_SET_DOMAIN,
        utf8(keyPackage.suite),
        keyPackage.groupPublicKey,
        utf8(keyPackage.identifier),
        keyPackage.verifyingShare,
      ),
    ),
  );
}

/** A record for freshly drawn nonces (the secrets are copied; the caller may wipe its own). */
export function nonceRecordFromNonces(
  suite: AnyCiphersuite,
  keySetId: string,
  nonces: SigningNonces,
): NonceRecord {
  assertSuite(suite);
  if (typeof keySetId !== 'string' || keySetId.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', 'keySetId: expected a non-empty string', ['keySetId']);
  }
  assertObject(nonces, 'nonces');
  assertSecret(nonces.hiding, 'nonces.hiding', false);
  assertSecret(nonces.binding, 'nonces.binding', false);
  checkCommitmentShape(nonces.commitment, 'nonces.commitment');
  if (nonces.hiding.wiped || nonces.binding.wiped) {
    throw new ProtocolError('NONCE_REUSE', 'these signing nonces were already used; they cannot be stored');
  }
  const record = Object.freeze({
    suite: suite.id,
    keySetId,
    commitment: nonces.commitment,
    hiding: new SecretBytes(nonces.hiding.expose()),
    binding: new SecretBytes(nonces.binding.expose()),
  });
  // A move, not a copy: two live holders of one nonce pair could sign twice with it.
  nonces.hiding.wipe();
  nonces.binding.wipe();
  return record;
}

/**
 * The signing nonces held by a record, for `signShare` (which wipes them). A move, not a copy:
 * the record's secrets are wiped, so a second call (one record, two signatures) is `NONCE_REUSE`.
 */
export function noncesFromRecord(record: NonceRecord): SigningNonces {
  if (record?.hiding instanceof SecretBytes && record.binding instanceof SecretBytes) {
    if (record.hiding.wiped || record.binding.wiped) {
      throw new ProtocolError('NONCE_REUSE', "this record's nonces were already taken; a nonce signs once");
    }
  }
  checkRecord(record, 'record');
  const nonces = Object.freeze({
    hiding: new SecretBytes(record.hiding.expose()),
    binding: new SecretBytes(record.binding.expose()),
    commitment: record.commitment,
  });
  record.hiding.wipe();
  record.binding.wipe();
  return nonces;
}

/** Zero a record's secrets (after signing, or when discarding it). */
export function wipeNonceRecord(record: NonceRecord): void {
  assertObject(record, 'record');
  assertSecret(record.hiding, 'record.hiding', false);
  assertSecret(record.binding, 'record.binding', false);
  record.hiding.wipe();
  record.binding.wipe();
}

interface NonceRecordBody {
  keySetId: string;
  commitment: Round1Commitment;
  hiding: SecretBytes;
  binding: SecretBytes;
}

const NonceRecordCodec = defineCodec<NonceRecordBody>('NonceRecord', {
  keySetId: 'string',
  commitment: { object: { identifier: 'string', hiding: 'bytes', binding: 'bytes' } },
  hiding: 'secret',
  binding: 'secret',
});

function checkRecord(record: NonceRecord, path: string): void {
  if (!record || typeof record !== 'object')
    throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
  if (typeof record.keySetId !== 'string' || record.keySetId.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', `${path}.keySetId: expected a non-empty string`, [
      `${path}.keySetId`,
    ]);
  }
  checkCommitmentShape(record.commitment, `${path}.commitment`);
  for (const k of ['hiding', 'binding'] as const) {
    if (!(record[k] instanceof SecretBytes) || record[k].wiped) {
      throw new ValidationError('INVALID_ARGUMENT', `${path}.${k}: expected unwiped SecretBytes`, [
        `${path}.${k}`,
      ]);
    }
  }
}

/**
 * Store-implementer API: encode a record for a `NonceStore` (versioned CBOR with a `{v, suite,
 * type}` header). The result holds the secret nonces in the clear: it must not leave the store.
 * A copy, not a move: the record stays live, and every {@link decodeNonceRecord} of the bytes is a
 * fresh live holder of the same nonce pair. The store keeps one-signature-per-nonce by deleting the
 * stored bytes atomically before it hands the decoded record out (as `NonceStore.consume` says);
 * nothing here can.
 */
export function encodeNonceRecord(record: NonceRecord): Uint8Array {
  checkRecord(record, 'record');
  return NonceRecordCodec.encode(record.suite, {
    keySetId: record.keySetId,
    commitment: record.commitment,
    hiding: record.hiding,
    binding: record.binding,
  });
}

/**
 * Store-implementer API: strictly decode {@link encodeNonceRecord} output; throws
 * `ValidationError` naming bad fields. Each call returns a new live record: a store decodes the
 * bytes it has just removed (in `consume`), never bytes it still holds or decoded before.
 */
export function decodeNonceRecord(bytes: Uint8Array, expectSuite?: CiphersuiteId): NonceRecord {
  const { suite, value } = NonceRecordCodec.decode(bytes, expectSuite);
  return Object.freeze({
    suite,
    keySetId: value.keySetId,
    commitment: Object.freeze({
      identifier: value.commitment.identifier as Identifier,
      hiding: value.commitment.hiding,
      binding: value.commitment.binding,
    }),
    hiding: value.hiding,
    binding: value.binding,
  });
}

/** The state an {@link InMemoryNonceStore} works on; share it to model a reopened database. */
export interface InMemoryNonceBacking {
  /** commitment key -> encoded record ({@link encodeNonceRecord}). */
  readonly records: Map<string, Uint8Array>;
  /** commitment keys that were consumed. */
  readonly tombstones: Set<string>;
}

/**
 * A `NonceStore` in memory. Every method does its check-and-update synchronously, so concurrent
 * calls cannot both consume one record. Tombstones are kept forever.
 */
export class InMemoryNonceStore implements NonceStore {
  readonly #records: Map<string, Uint8Array>;
  readonly #tombstones: Set<string>;

  constructor(backing: Partial<InMemoryNonceBacking> = {}) {
    optionsOf(backing, 'backing');
    if (backing.records !== undefined && !(backing.records instanceof Map)) {
      throw new ValidationError('INVALID_ARGUMENT', 'backing.records: expected a Map', ['backing.records']);
    }
    if (backing.tombstones !== undefined && !(backing.tombstones instanceof Set)) {
      throw new ValidationError('INVALID_ARGUMENT', 'backing.tombstones: expected a Set', [
        'backing.tombstones',
      ]);
    }
    this.#records = backing.records ?? new Map();
    this.#tombstones = backing.tombstones ?? new Set();
  }

  async save(records: readonly NonceRecord[]): Promise<void> {
    for (const [key, bytes] of this.#checkSave(records)) this.#records.set(key, bytes);
  }

  async consume(key: string): Promise<NonceRecord> {
    return this.#take(key, this.#checkConsume(key));
  }

  async consumeAndSave(key: string, records: readonly NonceRecord[]): Promise<NonceRecord> {
    // Every check before any change: both or neither.
    const bytes = this.#checkConsume(key);
    const batch = this.#checkSave(records, key);
    for (const [k, b] of batch) this.#records.set(k, b);
    return this.#take(key, bytes);
  }

  /** The encoded records to add, once each is checked; `spending` is a key consumed with them. */
  #checkSave(records: readonly NonceRecord[], spending?: string): Map<string, Uint8Array> {
    if (!Array.isArray(records))
      throw new ValidationError('INVALID_ARGUMENT', 'records: expected an array', ['records']);
    const batch = new Map<string, Uint8Array>();
    try {
      records.forEach((r, i) => {
        checkRecord(r, `records[${i}]`);
        const key = commitmentKey(r.commitment);
        if (this.#tombstones.has(key) || this.#records.has(key) || batch.has(key) || key === spending) {
          throw new ProtocolError('NONCE_REUSE', `records[${i}]: commitment ${key} was already issued`);
        }
        batch.set(key, encodeNonceRecord(r));
      });
    } catch (e) {
      // The encodings made before the refusal hold nonces in the clear: zeroed, not left behind.
      for (const bytes of batch.values()) bytes.fill(0);
      throw e;
    }
    return batch;
  }

  /** The stored bytes for `key`, checked consumable; nothing changes. */
  #checkConsume(key: string): Uint8Array {
    if (typeof key !== 'string')
      throw new ValidationError('INVALID_ARGUMENT', 'key: expected a hex string', ['key']);
    if (this.#tombstones.has(key)) {
      throw new ProtocolError('NONCE_REUSE', `commitment ${key} was already used; a nonce signs once`);
    }
    const bytes = this.#records.get(key);
    if (bytes === undefined) {
      throw new ProtocolError('UNKNOWN_NONCE', `commitment ${key} was never issued by this store`);
    }
    return bytes;
  }

  /** Remove a checked record, leave its tombstone and hand it out. */
  #take(key: string, bytes: Uint8Array): NonceRecord {
    this.#tombstones.add(key);
    this.#records.delete(key);
    try {
      return decodeNonceRecord(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  async count(keySetId?: string): Promise<number> {
    if (keySetId !== undefined) assertString(keySetId, 'keySetId');
    if (keySetId === undefined) return this.#records.size;
    let n = 0;
    for (const bytes of this.#records.values()) {
      const record = decodeNonceRecord(bytes);
      if (record.keySetId === keySetId) n++;
      wipeNonceRecord(record);
    }
    return n;
  }
}
