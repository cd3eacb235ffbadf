/**
 * Opening a sealed field: each party, if its own policy agrees, opens its share of the data key
 * and re-seals it to the requester ({@link releaseShare}); the requester opens at least k
 * releases, checks each share against its commitment, recombines the data key, decrypts and checks
 * the value commitment ({@link combineReleased}).
 *
 * `shamir-secret-sharing` returns wrong bytes, silently, for a wrong or mixed share. So nothing
 * is combined unchecked: each release is AEAD-bound to (incident, field, path, party, requester),
 * each share must match the commitment the sealer published, the data key must open the value's
 * AEAD and the value must match its commitment. A party whose release fails a check is named;
 * with more than k good releases the others still open the field.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { combine } from 'shamir-secret-sharing';
import { assertBytes, bytesToHex, equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { AapsError, ProtocolError, ValidationError, VerificationError } from '../errors.js';
import { assertArray, assertObject, assertString } from '../guards.js';
import { assertSecret32, open, type SealedBox, seal } from '../seal.js';
import type { SecretBytes } from '../secret.js';
import { rngOrDefault } from '../suite/rng.js';
import type { Rng } from '../suite/types.js';
import { MAX_PAYLOAD_DEPTH, SEALED_MARKER, tooDeepError } from './detect.js';
import { formatPointer } from './pointer.js';
import {
  authenticateReleases,
  type FieldRelease,
  type ReleaseContext,
  type UnattributedRelease,
} from './release-signature.js';
import {
  checkHead,
  checkSealedField,
  fieldAad,
  SALT_LENGTH,
  type SealedField,
  shareAad,
  shareCommitment,
  shareOf,
  valueCommitment,
} from './seal-field.js';
import type { ReleasedShare } from './sealed-field-codec.js';

/** AAD of a release: the field's context, the releasing party and the requester's X25519 key. */
export function releaseAad(
  field: SealedField,
  party: string,
  requesterX25519PublicKey: Uint8Array,
): Uint8Array {
  checkHead(field);
  assertString(party, 'party');
  assertBytes(requesterX25519PublicKey, 'requesterX25519PublicKey');
  return canonicalBytes({
    ctx: 'aaps.sealed-field.release',
    v: field.version,
    incident: field.incidentId,
    field: field.id,
    path: field.path,
    party,
    requester: bytesToHex(requesterX25519PublicKey),
  });
}

function partyShare(field: SealedField, partyId: string) {
  const s = shareOf(field, partyId);
  if (!s)
    throw new ValidationError(
      'UNKNOWN_IDENTIFIER',
      `field ${field.id} has no share for party ${displayValue(partyId)}`,
      ['partyId'],
    );
  return s;
}

export interface ReleaseOptions {
  /** The incident the party believes it is releasing for; must be the field's. */
  readonly incidentId: string;
  readonly rng?: Rng;
}

/**
 * Party side: open this party's share of `field` and re-seal it to the requester. The caller has
 * already decided, by its own policy, that this requester may have it. Throws
 * `VerificationError` (`sealed-field.share`, `sealed-field.share-commitment`) when the stored
 * share was tampered with.
 */
export function releaseShare(
  field: SealedField,
  partyId: string,
  partyX25519SecretKey: SecretBytes,
  requesterX25519PublicKey: Uint8Array,
  opts: ReleaseOptions,
): SealedBox {
  checkSealedField(field);
  assertString(partyId, 'partyId');
  assertSecret32(partyX25519SecretKey, 'partyX25519SecretKey');
  assertObject(opts, 'opts');
  const rng = rngOrDefault(opts.rng, 'opts.rng');
  if (opts.incidentId !== field.incidentId)
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `field ${field.id} belongs to incident ${field.incidentId}, not ${displayValue(opts.incidentId)}`,
      ['incidentId'],
    );
  if (!(requesterX25519PublicKey instanceof Uint8Array) || requesterX25519PublicKey.length !== 32)
    throw new ValidationError('INVALID_LENGTH', 'requester X25519 key: expected 32 bytes', [
      'requesterX25519PublicKey',
    ]);
  const mine = partyShare(field, partyId);
  let share: Uint8Array;
  try {
    share = open(partyX25519SecretKey, mine.box, shareAad(field, partyId));
  } catch (cause) {
    throw new VerificationError(
      'sealed-field.share',
      `party ${partyId}'s share of field ${field.id} does not open: wrong key or tampered field`,
      { cause },
    );
  }
  try {
    if (!equalBytes(shareCommitment(field, partyId, share), mine.commitment))
      throw new VerificationError(
        'sealed-field.share-commitment',
        `party ${partyId}'s share of field ${field.id} does not match its commitment`,
      );
    return seal(requesterX25519PublicKey, share, releaseAad(field, partyId, requesterX25519PublicKey), rng);
  } finally {
    share.fill(0);
  }
}

/** A release the requester could not use, and the check it failed. */
export interface RejectedRelease {
  readonly party: string;
  readonly check:
    | 'sealed-field.release.unknown-party'
    | 'sealed-field.release.duplicate'
    | 'sealed-field.release'
    | 'sealed-field.share-commitment'
    | 'sealed-field.share-inconsistent';
}

export interface UnsealedValue {
  /** The sealed JSON value. */
  readonly value: unknown;
  /** Its RFC 8785 bytes (what the commitment covers with the salt). */
  readonly plaintext: Uint8Array;
  /** The parties whose shares opened the field. */
  readonly parties: readonly string[];
  /** Releases that failed a check (the field still opened from the others). */
  readonly rejected: readonly RejectedRelease[];
}

/** How many k-subsets to try when good-looking shares do not decrypt together. */
const MAX_SUBSETS = 256;

function* subsets(n: number, k: number): Generator<number[]> {
  const idx = Array.from({ length: k }, (_, i) => i);
  while (true) {
    yield [...idx];
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]!++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
  }
}

/** `combine`, or `undefined` where it throws (repeated x coordinates, unequal lengths). */
async function tryCombine(shares: Uint8Array[]): Promise<Uint8Array | undefined> {
  try {
    return await combine(shares);
  } catch {
    return undefined;
  }
}

function tryDecrypt(field: SealedField, key: Uint8Array | undefined): Uint8Array | undefined {
  if (!key) return undefined;
  try {
    return xchacha20poly1305(key, field.nonce, fieldAad(field)).decrypt(field.ciphertext);
  } catch {
    return undefined;
  } finally {
    key.fill(0);
  }
}

/**
 * Requester side: open the releases with the requester's X25519 secret, check each share, combine
 * k of them, decrypt and check the commitment. Each release's party is taken at its word: pass
 * only releases whose signatures were checked ({@link openFields} does), or a relay's forgery gets
 * an honest party named. Fewer than k usable releases:
 * `ProtocolError('QUORUM_UNREACHABLE')` naming the parties whose releases failed (`culprits`). A
 * tampered value: `VerificationError` with `check` `sealed-field.ciphertext`,
 * `sealed-field.commitment` or `sealed-field.value`. Either error's `details.rejected` lists the
 * releases set aside, as an opened value's `rejected` does.
 */
export async function combineReleased(
  field: SealedField,
  releases: readonly ReleasedShare[],
  requesterX25519SecretKey: SecretBytes,
): Promise<UnsealedValue> {
  checkSealedField(field);
  assertArray(releases, 'releases');
  releases.forEach((r, i) => {
    assertObject(r, `releases[${i}]`);
    assertString(r.party, `releases[${i}].party`);
  });
  assertSecret32(requesterX25519SecretKey, 'requesterX25519SecretKey');
  const k = field.threshold.min;
  const requesterPublic = x25519.getPublicKey(requesterX25519SecretKey.expose());
  const order = new Map(field.shares.map((s, i) => [s.party, i]));
  const good = new Map<string, Uint8Array>();
  const rejected: RejectedRelease[] = [];
  const seen = new Set<string>();
  for (const r of releases) {
    if (!order.has(r.party)) {
      rejected.push({ party: r.party, check: 'sealed-field.release.unknown-party' });
      continue;
    }
    if (seen.has(r.party)) {
      rejected.push({ party: r.party, check: 'sealed-field.release.duplicate' });
      continue;
    }
    seen.add(r.party);
    let share: Uint8Array;
    try {
      share = open(requesterX25519SecretKey, r.box, releaseAad(field, r.party, requesterPublic));
    } catch {
      rejected.push({ party: r.party, check: 'sealed-field.release' });
      continue;
    }
    const expected = field.shares[order.get(r.party)!]!.commitment;
    if (!equalBytes(shareCommitment(field, r.party, share), expected)) {
      share.fill(0);
      rejected.push({ party: r.party, check: 'sealed-field.share-commitment' });
      continue;
    }
    good.set(r.party, share);
  }
  const wipeAll = () => {
    for (const s of good.values()) s.fill(0);
  };
  const culprits = () => [...new Set(rejected.map((r) => r.party))];
  if (good.size < k) {
    wipeAll();
    throw new ProtocolError(
      'QUORUM_UNREACHABLE',
      `field ${field.id}: ${good.size} usable share(s), ${k} needed`,
      culprits(),
      { details: { field: field.id, have: good.size, need: k, rejected } },
    );
  }
  const parties = [...good.keys()].sort((a, b) => order.get(a)! - order.get(b)!);
  const shares = parties.map((p) => good.get(p)!);
  try {
    let inner: Uint8Array | undefined;
    let used: number[] | undefined;
    let tried = 0;
    for (const pick of subsets(parties.length, k)) {
      if (tried++ >= MAX_SUBSETS) break;
      inner = tryDecrypt(field, await tryCombine(pick.map((i) => shares[i]!)));
      if (inner) {
        used = pick;
        break;
      }
    }
    // A field that does not open still says which signed releases it set aside (`details.rejected`).
    const failure = { details: { field: field.id, rejected } };
    if (!inner || !used)
      throw new VerificationError(
        'sealed-field.ciphertext',
        `field ${field.id}: no ${k} of the released shares decrypt it; the sealed value was tampered with`,
        { code: 'VERIFICATION_FAILED', ...failure },
      );
    // Name every other released share that does not lie on the same polynomial.
    const base = used.slice(1).map((i) => shares[i]!);
    for (let i = 0; i < parties.length; i++) {
      if (used.includes(i)) continue;
      if (!tryDecrypt(field, await tryCombine([...base, shares[i]!])))
        rejected.push({ party: parties[i]!, check: 'sealed-field.share-inconsistent' });
    }
    const salt = inner.subarray(0, SALT_LENGTH);
    const plaintext = Uint8Array.from(inner.subarray(SALT_LENGTH));
    const ok = inner.length >= SALT_LENGTH && equalBytes(valueCommitment(salt, plaintext), field.commitment);
    inner.fill(0);
    if (!ok)
      throw new VerificationError(
        'sealed-field.commitment',
        `field ${field.id}: the opened value does not match its commitment`,
        failure,
      );
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
    } catch {
      // No cause: the parser's message quotes the text, which is the sealed value.
      throw new VerificationError(
        'sealed-field.value',
        `field ${field.id}: the opened value is not JSON`,
        failure,
      );
    }
    return Object.freeze({
      value,
      plaintext,
      parties: Object.freeze(used.map((i) => parties[i]!)),
      rejected: Object.freeze(rejected),
    });
  } finally {
    wipeAll();
  }
}

/**
 * A copy of a redacted payload with the markers of opened fields replaced by their values
 * (`values`: field id -> value). Markers of fields not in `values` stay. A payload nesting deeper
 * than `MAX_PAYLOAD_DEPTH` is refused (`ValidationError` naming the first pointer past it).
 */
export function fillSealedValues(redacted: unknown, values: ReadonlyMap<string, unknown>): unknown {
  if (!(values instanceof Map)) {
    throw new ValidationError('INVALID_ARGUMENT', 'values: expected a Map of field id to value', ['values']);
  }
  const fill = (node: unknown, segs: readonly (string | number)[]): unknown => {
    if (segs.length > MAX_PAYLOAD_DEPTH) throw tooDeepError(formatPointer(segs));
    if (Array.isArray(node)) return node.map((x, i) => fill(x, [...segs, i]));
    if (typeof node !== 'object' || node === null) return node;
    const o = node as Record<string, unknown>;
    const keys = Object.keys(o);
    const id = o[SEALED_MARKER];
    if (keys.length === 1 && typeof id === 'string' && values.has(id)) return structuredClone(values.get(id));
    const out: Record<string, unknown> = {};
    for (const k of keys)
      Object.defineProperty(out, k, {
        value: fill(o[k], [...segs, k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  };
  return fill(redacted, []);
}

/** What one field came to, with the releases for it that were set aside unsigned. */
export type UnsealOutcome = {
  readonly field: string;
  readonly path: string;
  readonly unattributed: readonly UnattributedRelease[];
} & ({ readonly opened: UnsealedValue } | { readonly error: AapsError });

/** What the requester checks releases against: the request they answer and the parties' keys. */
export interface ReleaseAuthentication extends ReleaseContext {
  /** Each party's roster identity key (Ed25519, 32 bytes), by party id. */
  readonly partyKeys: ReadonlyMap<string, Uint8Array>;
}

/**
 * `aaps unseal`'s last step: open every field from the releases gathered for it. Only releases
 * signed by the party they name, for this request and for its share in the field as given here,
 * are used (`authenticateReleases`; a release relayed twice counts once); the others are listed in
 * `unattributed` and nobody is blamed for them. A field that cannot be opened gets
 * its typed error (`QUORUM_UNREACHABLE` with culprits, or a failed check); the others still open.
 */
export async function openFields(
  fields: readonly SealedField[],
  releases: readonly FieldRelease[],
  requesterX25519SecretKey: SecretBytes,
  auth: ReleaseAuthentication,
): Promise<UnsealOutcome[]> {
  assertArray(fields, 'fields');
  fields.forEach((f, i) => {
    checkSealedField(f, `fields[${i}]`);
  });
  assertArray(releases, 'releases');
  releases.forEach((r, i) => {
    assertObject(r, `releases[${i}]`);
  });
  assertSecret32(requesterX25519SecretKey, 'requesterX25519SecretKey');
  assertObject(auth, 'auth');
  const { authentic, unattributed } = authenticateReleases(fields, releases, auth, auth.partyKeys);
  const out: UnsealOutcome[] = [];
  for (const field of fields) {
    const mine = authentic
      .filter((r) => r.field === field.id)
      .map(({ party, box, signature }) => ({ party, box, signature }));
    const head = {
      field: field.id,
      path: field.path,
      unattributed: unattributed.filter((u) => u.field === field.id),
    };
    try {
      out.push({ ...head, opened: await combineReleased(field, mine, requesterX25519SecretKey) });
    } catch (e) {
      if (!(e instanceof AapsError)) throw e;
      out.push({ ...head, error: e });
    }
  }
  return out;
}
