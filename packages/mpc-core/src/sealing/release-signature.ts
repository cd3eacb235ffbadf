/**
 * A party's signature on each share it releases for an unseal request, so the requester can tell
 * a party's own release from one a relay made up.
 *
 * A release box is sealed to the requester, with associated data naming the releasing party, but
 * anyone who knows the requester's X25519 public key can seal a box with that associated data:
 * the gateway that relays the answers could put a box of its own in an honest party's name, and
 * the requester would blame that party when the share does not match its commitment. Each party
 * therefore signs, with its roster identity key (Ed25519), the RFC 8785 bytes of
 *
 *   {"domain": "aaps.sealed-field.release.v1", "request_id", "incident_id", "requester", "field",
 *    "party", "share_commitment", "box_sha256"}
 *
 * (`box_sha256` as in the `UnsealRelease` record and the party's audit trail; `share_commitment`
 * the commitment, in the sealed field the party was shown, of the share it opened and released).
 * The requester checks each release against the roster key of the party it names and the
 * commitment in the field as logged ({@link authenticateReleases}) before combining: a release
 * that fails is set aside as unattributed, and only a signed release can get its party named as a
 * culprit. The commitment is signed because the party opens whatever field the relay shows it:
 * anyone can seal a share of their choosing to a party, with its commitment beside it, and the
 * party would sign its faithful release of that share, which does not match the logged field.
 */
import { assertBytes, bytesToHex } from '../bytes.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { signBytes } from '../envelope/sign.js';
import { ValidationError } from '../errors.js';
import { assertArray, assertObject, assertSecret, assertString } from '../guards.js';
import type { SealedBox } from '../seal.js';
import type { SecretBytes } from '../secret.js';
import { verifyEd25519 } from '../suite/ed25519.js';
import { checkBox, checkSealedField, type SealedField, shareOf } from './seal-field.js';
import type { ReleasedShare } from './sealed-field-codec.js';
import { sealedBoxDigest } from './unseal-request.js';

export const RELEASE_SIGNATURE_DOMAIN = 'aaps.sealed-field.release.v1';

/** The unseal request a release answers: its id, incident and requester (a roster approver id). */
export interface ReleaseContext {
  readonly requestId: string;
  readonly incidentId: string;
  readonly requester: string;
}

/** A release as the gateway returns it: for which field, from which party. */
export interface FieldRelease extends ReleasedShare {
  readonly field: string;
}

/** A release set aside because the party it names did not sign it: nobody is blamed for it. */
export interface UnattributedRelease {
  readonly field: string;
  readonly party: string;
  readonly check: 'sealed-field.release-signature';
}

function checkContext(ctx: ReleaseContext, path: string): void {
  assertObject(ctx, path);
  assertString(ctx.requestId, `${path}.requestId`);
  assertString(ctx.incidentId, `${path}.incidentId`);
  assertString(ctx.requester, `${path}.requester`);
}

/**
 * The bytes a party signs for releasing `box` (its share of `field`, sealed to the requester):
 * they name the field by its id and by the commitment of this party's share in it. A
 * `ValidationError` when `field` holds no share for `party`.
 */
export function releaseSignatureBytes(
  ctx: ReleaseContext,
  field: SealedField,
  party: string,
  box: SealedBox,
): Uint8Array {
  checkContext(ctx, 'ctx');
  checkSealedField(field, 'field');
  assertString(party, 'party');
  checkBox(box, 'box');
  const share = shareOf(field, party);
  if (share === undefined)
    throw new ValidationError('UNKNOWN_IDENTIFIER', `field ${field.id} has no share for party ${party}`, [
      'party',
    ]);
  return canonicalBytes({
    domain: RELEASE_SIGNATURE_DOMAIN,
    request_id: ctx.requestId,
    incident_id: ctx.incidentId,
    requester: ctx.requester,
    field: field.id,
    party,
    share_commitment: bytesToHex(share.commitment),
    box_sha256: sealedBoxDigest(box),
  });
}

/**
 * Party side: the release of `box` for `field` (the sealed field as the party was shown it, whose
 * share it opened), signed with the party's identity key.
 */
export function signRelease(
  ctx: ReleaseContext,
  field: SealedField,
  party: string,
  box: SealedBox,
  identitySecretKey: SecretBytes | Uint8Array,
): ReleasedShare {
  assertSecret(identitySecretKey, 'identitySecretKey');
  const signature = signBytes(identitySecretKey, releaseSignatureBytes(ctx, field, party, box));
  return Object.freeze({ party, box, signature });
}

/**
 * Whether `release` of `field` (the sealed field as logged) is signed by the holder of
 * `partyIdentityKey`, for the share `field` holds for the release's party: false for a wrong,
 * malformed or missing signature, or a party `field` holds no share for; a `ValidationError` for
 * arguments of the wrong type.
 */
export function releaseSignedBy(
  ctx: ReleaseContext,
  field: SealedField,
  release: ReleasedShare,
  partyIdentityKey: Uint8Array,
): boolean {
  assertObject(release, 'release');
  assertBytes(partyIdentityKey, 'partyIdentityKey');
  checkSealedField(field, 'field');
  assertString(release.party, 'release.party');
  if (shareOf(field, release.party) === undefined) return false;
  const message = releaseSignatureBytes(ctx, field, release.party, release.box);
  return (
    release.signature instanceof Uint8Array && verifyEd25519(partyIdentityKey, message, release.signature)
  );
}

/**
 * Requester side: of the releases for `fields` (the sealed fields as logged), those signed by the
 * party each names, under that party's key in `partyKeys` (the roster's identity keys), for the
 * share the field holds for it; the others are set aside as unattributed (a party with no key
 * there or no share in the field, a field not among `fields`, a missing or wrong signature). A
 * repeat of a release already kept (same field, party and box) is dropped: one release relayed
 * twice is still one release, and must not get its party named for a duplicate.
 */
export function authenticateReleases(
  fields: readonly SealedField[],
  releases: readonly FieldRelease[],
  ctx: ReleaseContext,
  partyKeys: ReadonlyMap<string, Uint8Array>,
): { authentic: FieldRelease[]; unattributed: UnattributedRelease[] } {
  assertArray(fields, 'fields');
  assertArray(releases, 'releases');
  checkContext(ctx, 'ctx');
  if (!(partyKeys instanceof Map))
    throw new ValidationError('INVALID_ARGUMENT', 'partyKeys: expected a Map of party id to identity key', [
      'partyKeys',
    ]);
  const byId = new Map<string, SealedField>();
  fields.forEach((f, i) => {
    checkSealedField(f, `fields[${i}]`);
    if (!byId.has(f.id)) byId.set(f.id, f);
  });
  const authentic: FieldRelease[] = [];
  const unattributed: UnattributedRelease[] = [];
  const kept = new Set<string>();
  releases.forEach((r, i) => {
    assertObject(r, `releases[${i}]`);
    assertString(r.field, `releases[${i}].field`);
    assertString(r.party, `releases[${i}].party`);
    const key = partyKeys.get(r.party);
    const field = byId.get(r.field);
    let signed = false;
    try {
      signed = key !== undefined && field !== undefined && releaseSignedBy(ctx, field, r, key);
    } catch (e) {
      // A release whose box is malformed is not its party's either.
      if (!(e instanceof ValidationError)) throw e;
    }
    if (!signed) {
      unattributed.push({ field: r.field, party: r.party, check: 'sealed-field.release-signature' });
      return;
    }
    const id = JSON.stringify([r.field, r.party, sealedBoxDigest(r.box)]);
    if (kept.has(id)) return;
    kept.add(id);
    authentic.push(r);
  });
  return { authentic, unattributed };
}
