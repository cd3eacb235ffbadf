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
 *    "party", "box_sha256"}
 *
 * (`box_sha256` as in the `UnsealRelease` record and the party's audit trail). The requester checks
 * each release against the roster key of the party it names ({@link authenticateReleases}) before
 * combining: a release that fails is set aside as unattributed, and only a signed release can get
 * its party named as a culprit.
 */
import { assertBytes } from '../bytes.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { signBytes } from '../envelope/sign.js';
import { ValidationError } from '../errors.js';
import { assertArray, assertObject, assertSecret, assertString } from '../guards.js';
import type { SealedBox } from '../seal.js';
import type { SecretBytes } from '../secret.js';
import { verifyEd25519 } from '../suite/ed25519.js';
import { checkBox } from './seal-field.js';
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

/** The bytes a party signs for releasing `box` (its share of `field`, sealed to the requester). */
export function releaseSignatureBytes(
  ctx: ReleaseContext,
  field: string,
  party: string,
  box: SealedBox,
): Uint8Array {
  checkContext(ctx, 'ctx');
  assertString(field, 'field');
  assertString(party, 'party');
  checkBox(box, 'box');
  return canonicalBytes({
    domain: RELEASE_SIGNATURE_DOMAIN,
    request_id: ctx.requestId,
    incident_id: ctx.incidentId,
    requester: ctx.requester,
    field,
    party,
    box_sha256: sealedBoxDigest(box),
  });
}

/** Party side: the release of `box` for `field`, signed with the party's identity key. */
export function signRelease(
  ctx: ReleaseContext,
  field: string,
  party: string,
  box: SealedBox,
  identitySecretKey: SecretBytes | Uint8Array,
): ReleasedShare {
  assertSecret(identitySecretKey, 'identitySecretKey');
  const signature = signBytes(identitySecretKey, releaseSignatureBytes(ctx, field, party, box));
  return Object.freeze({ party, box, signature });
}

/**
 * Whether `release` of `field` is signed by the holder of `partyIdentityKey`: false for a wrong,
 * malformed or missing signature; a `ValidationError` for arguments of the wrong type.
 */
export function releaseSignedBy(
  ctx: ReleaseContext,
  field: string,
  release: ReleasedShare,
  partyIdentityKey: Uint8Array,
): boolean {
  assertObject(release, 'release');
  assertBytes(partyIdentityKey, 'partyIdentityKey');
  const message = releaseSignatureBytes(ctx, field, release.party, release.box);
  return (
    release.signature instanceof Uint8Array && verifyEd25519(partyIdentityKey, message, release.signature)
  );
}

/**
 * Requester side: the releases signed by the party each names, under that party's key in
 * `partyKeys` (the roster's identity keys), and the others, set aside as unattributed (a party
 * with no key there, a missing or wrong signature).
 */
export function authenticateReleases(
  releases: readonly FieldRelease[],
  ctx: ReleaseContext,
  partyKeys: ReadonlyMap<string, Uint8Array>,
): { authentic: FieldRelease[]; unattributed: UnattributedRelease[] } {
  assertArray(releases, 'releases');
  checkContext(ctx, 'ctx');
  if (!(partyKeys instanceof Map))
    throw new ValidationError('INVALID_ARGUMENT', 'partyKeys: expected a Map of party id to identity key', [
      'partyKeys',
    ]);
  const authentic: FieldRelease[] = [];
  const unattributed: UnattributedRelease[] = [];
  releases.forEach((r, i) => {
    assertObject(r, `releases[${i}]`);
    assertString(r.field, `releases[${i}].field`);
    assertString(r.party, `releases[${i}].party`);
    const key = partyKeys.get(r.party);
    let signed = false;
    try {
      signed = key !== undefined && releaseSignedBy(ctx, r.field, r, key);
    } catch (e) {
      // A release whose box is malformed is not its party's either.
      if (!(e instanceof ValidationError)) throw e;
    }
    if (signed) authentic.push(r);
    else unattributed.push({ field: r.field, party: r.party, check: 'sealed-field.release-signature' });
  });
  return { authentic, unattributed };
}
