/**
 * The digest a share repair is bound to: SHA-256 of the canonical JSON (RFC 8785) of the public
 * key package the helpers hold, hex. Helpers seal their deltas and sigmas under it (in the
 * associated data, which the sender signs), so a lost party accepts a rebuilt share only from
 * helpers that all hold the package it is given: a coordinator cannot mix helpers from two
 * sharings (a refresh applied at some parties only), whose sum is a share of no sharing at all.
 */
import {
  type CiphersuiteId,
  canonicalize,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  utf8,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export function publicPackageDigest(suiteId: string, pkg: PublicKeyPackage): string {
  return bytesToHex(sha256(utf8(canonicalize(PublicKeyPackageCodec.toJSON(suiteId as CiphersuiteId, pkg)))));
}

/** The digest of a package in its JSON form (`PublicKeyPackageCodec`), decoded and checked first. */
export function publicPackageDigestOfJson(json: unknown): string {
  const suite = (json as { suite?: unknown } | null)?.suite;
  if (typeof suite !== 'string')
    throw new ValidationError('INVALID_ARGUMENT', 'publicPackage: expected a PublicKeyPackage JSON value', [
      'publicPackage',
    ]);
  return publicPackageDigest(suite, PublicKeyPackageCodec.fromJSON(json, suite as CiphersuiteId).value);
}
