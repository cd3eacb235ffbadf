/**
 * The party side of signing over a {@link NonceStore}: round one saves the nonces before the
 * commitments are returned; round two consumes the nonces before the share is computed. Either
 * step failing leaves no usable nonce behind, so no crash or replay can make a nonce sign twice.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { assertBytes, equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { ProtocolError, ValidationError } from '../errors.js';
import { assertFunction, assertObject, assertString, assertSuite, optionsOf } from '../guards.js';
import { checkKeyPackage, type KeyPackage, type PublicKeyPackage, preparePublic } from '../keys.js';
import {
  commitmentKey,
  keySetIdOf,
  type NonceRecord,
  type NonceStore,
  nonceRecordFromNonces,
  noncesFromRecord,
  wipeNonceRecord,
} from '../nonce-store.js';
import type { AnyCiphersuite, Rng } from '../suite/types.js';
import { checkSigningPackage, type SigningPackage, sameCommitment } from './context.js';
import { preprocess, type Round1Commitment, type SigningNonces } from './round1.js';
import { type SignatureShare, signShare } from './round2.js';

export interface StoreSignerOptions {
  /** The key-set id records are saved under and must carry to sign (default {@link keySetIdOf}). */
  keySetId?: string;
  /**
   * For `signFromStore`: the bytes this party derived itself (e.g. from the proposal it was sent).
   * A package carrying other bytes is refused with `ProtocolError('INCONSISTENT_TRANSCRIPT')`
   * before the nonce is touched.
   */
  message?: Uint8Array;
  /**
   * For `signFromStore`: called once the share is computed (so the package passed every check and
   * this party's nonce is consumed), before the share is returned. A party records here what
   * signing commits it to (e.g. the checkpoint it now vouches for): no share leaves before the
   * record, and nothing is recorded for a package that could never be signed. A throw ends the
   * round: the share is wiped and the nonce stays consumed.
   */
  beforeRelease?: () => void | Promise<void>;
}

/** The checks both rounds make before touching the store; returns the options. */
function checkArgs(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  store: NonceStore,
  method: 'save' | 'consume',
  opts: StoreSignerOptions | undefined,
): StoreSignerOptions {
  assertSuite(suite);
  checkKeyPackage(suite, keyPackage);
  assertObject(store, 'store');
  assertFunction(store[method], `store.${method}`);
  const o = optionsOf(opts, 'opts');
  if (o.keySetId !== undefined) assertString(o.keySetId, 'opts.keySetId');
  if (o.message !== undefined) assertBytes(o.message, 'opts.message');
  if (o.beforeRelease !== undefined) assertFunction(o.beforeRelease, 'opts.beforeRelease');
  return o;
}

/**
 * Round one against a store: draw `count` nonce pairs, save them (durably, per the store's
 * contract), and only then return their public commitments. If saving fails, the nonces are wiped
 * and no commitment is returned.
 */
export async function commitToStore(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  store: NonceStore,
  count: number,
  rng: Rng = randomBytes,
  options: StoreSignerOptions = {},
): Promise<Round1Commitment[]> {
  const opts = checkArgs(suite, keyPackage, store, 'save', options);
  const keySetId = opts.keySetId ?? keySetIdOf(keyPackage);
  return withDrawnRecords(suite, keySetId, preprocess(suite, keyPackage, count, rng), async (records) => {
    await store.save(records);
    return records.map((r) => r.commitment);
  });
}

/**
 * Move freshly drawn `nonces` into records under `keySetId`, hand them to `use` (which stores
 * them), and wipe every nonce and record whatever `use` does: the nonces live on only in the store.
 */
async function withDrawnRecords<T>(
  suite: AnyCiphersuite,
  keySetId: string,
  nonces: readonly SigningNonces[],
  use: (records: readonly NonceRecord[]) => Promise<T>,
): Promise<T> {
  let records: NonceRecord[] = [];
  try {
    records = nonces.map((n) => nonceRecordFromNonces(suite, keySetId, n));
    return await use(records);
  } finally {
    for (const n of nonces) {
      n.hiding.wipe();
      n.binding.wipe();
    }
    for (const r of records) wipeNonceRecord(r);
  }
}

/** A round-two share and the fresh commitments saved with the spending of its nonce. */
export interface ReplenishedShare {
  readonly share: SignatureShare;
  /** Their nonces were saved (durably) before this resolves; empty when `count` was 0. */
  readonly commitments: readonly Round1Commitment[];
}

/**
 * Round two against a store. Checks the signing package, finds this party's commitment in it,
 * consumes the matching record from the store (so the nonces are gone before any share exists),
 * then signs. A commitment already used gives `NONCE_REUSE`; one this store never issued (or
 * issued for another key set) gives `UNKNOWN_NONCE`.
 */
export async function signFromStore(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  store: NonceStore,
  signingPackage: SigningPackage,
  publicPackage: PublicKeyPackage,
  options: StoreSignerOptions = {},
): Promise<SignatureShare> {
  const opts = checkArgs(suite, keyPackage, store, 'consume', options);
  const own = ownCommitment(suite, keyPackage, signingPackage, publicPackage, opts);
  const keySetId = opts.keySetId ?? keySetIdOf(keyPackage);
  const signing = { suite, keyPackage, store, signingPackage, publicPackage, opts, own, keySetId };
  return (await signSpending(signing, [])).share;
}

/**
 * {@link signFromStore} that also issues `count` fresh commitments (round one riding on round two):
 * their nonces are drawn first and saved in the same step that consumes the nonce being spent
 * (`store.consumeAndSave`, one synced write on a party's database; a store without it consumes,
 * then saves). A coordinator that pools commitments gets one back for each it spends and never
 * has to ask for a batch while it signs. If the package is refused after that step (a mismatched
 * record, a `beforeRelease` that throws), the fresh nonces stay stored unissued until the store
 * expires them; a failed save leaves the spent nonce unconsumed (atomic stores) or gives the
 * share with no commitments (the fallback, whose consume already happened).
 */
export async function signAndReplenishFromStore(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  store: NonceStore,
  signingPackage: SigningPackage,
  publicPackage: PublicKeyPackage,
  count: number,
  rng: Rng = randomBytes,
  options: StoreSignerOptions = {},
): Promise<ReplenishedShare> {
  const opts = checkArgs(suite, keyPackage, store, 'consume', options);
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_REPLENISH) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `count: expected an integer in [0, ${MAX_REPLENISH}], got ${displayValue(count)}`,
      ['count'],
    );
  }
  assertFunction(rng, 'rng');
  // The package is checked before any nonce is drawn for it.
  const own = ownCommitment(suite, keyPackage, signingPackage, publicPackage, opts);
  const keySetId = opts.keySetId ?? keySetIdOf(keyPackage);
  const signing = { suite, keyPackage, store, signingPackage, publicPackage, opts, own, keySetId };
  const nonces = count > 0 ? preprocess(suite, keyPackage, count, rng) : [];
  return withDrawnRecords(suite, keySetId, nonces, (records) => signSpending(signing, records));
}

/** Fresh commitments one round two may issue. */
export const MAX_REPLENISH = 16;

/** What a round two against a store signs with, its arguments checked. */
interface Signing {
  readonly suite: AnyCiphersuite;
  readonly keyPackage: KeyPackage;
  readonly store: NonceStore;
  readonly signingPackage: SigningPackage;
  readonly publicPackage: PublicKeyPackage;
  readonly opts: StoreSignerOptions;
  /** This party's commitment in the package. */
  readonly own: Round1Commitment;
  readonly keySetId: string;
}

/**
 * Check the package (against the key set, and the message this party derived) and find this
 * party's commitment in it; nothing is touched yet.
 */
function ownCommitment(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  signingPackage: SigningPackage,
  publicPackage: PublicKeyPackage,
  opts: StoreSignerOptions,
): Round1Commitment {
  checkSigningPackage(suite, preparePublic(suite, publicPackage), signingPackage);
  if (opts.message !== undefined && !equalBytes(opts.message, signingPackage.message)) {
    throw new ProtocolError(
      'INCONSISTENT_TRANSCRIPT',
      'signingPackage.message is not the message this party derived for itself',
    );
  }
  const own = signingPackage.commitments.find((c) => c.identifier === keyPackage.identifier);
  if (!own) {
    throw new ProtocolError(
      'MISSING_OWN_COMMITMENT',
      `signingPackage has no commitment for signer ${displayValue(keyPackage.identifier)}`,
    );
  }
  return own;
}

/** Consume the package's nonce (saving `fresh` with it), then sign. */
async function signSpending(signing: Signing, fresh: readonly NonceRecord[]): Promise<ReplenishedShare> {
  const { suite, keyPackage, store, signingPackage, publicPackage, opts, own, keySetId } = signing;
  const key = commitmentKey(own);
  const { record, issued } = await spend(store, key, fresh);
  const nonces = noncesFromRecord(record);
  wipeNonceRecord(record);
  try {
    if (
      record.suite !== suite.id ||
      record.keySetId !== keySetId ||
      !sameCommitment(record.commitment, own)
    ) {
      throw new ProtocolError('UNKNOWN_NONCE', `commitment ${key} was not issued for this key`);
    }
    const share = signShare(suite, keyPackage, nonces, signingPackage, publicPackage);
    if (opts.beforeRelease) {
      try {
        await opts.beforeRelease();
      } catch (e) {
        share.share.fill(0);
        throw e;
      }
    }
    return { share, commitments: issued ? fresh.map((r) => r.commitment) : [] };
  } finally {
    nonces.hiding.wipe();
    nonces.binding.wipe();
  }
}

/** Consume `key` and save `fresh`: atomically when the store can; `issued` says whether they were saved. */
async function spend(
  store: NonceStore,
  key: string,
  fresh: readonly NonceRecord[],
): Promise<{ record: NonceRecord; issued: boolean }> {
  if (fresh.length === 0) return { record: await store.consume(key), issued: false };
  if (typeof store.consumeAndSave === 'function') {
    return { record: await store.consumeAndSave(key, fresh), issued: true };
  }
  const record = await store.consume(key);
  try {
    await store.save(fresh);
    return { record, issued: true };
  } catch {
    // The spent nonce is gone either way; the share still goes out, with nothing issued.
    return { record, issued: false };
  }
}
