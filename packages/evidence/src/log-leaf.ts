/**
 * The transparency-log leaf of an evidence bundle.
 *
 * The leaf is the UTF-8 RFC 8785 canonical JSON of a Rekor-shaped `dsse` v0.0.1 entry body that
 * commits to the bundle's DSSE envelope:
 *
 *   {"apiVersion":"0.0.1","kind":"dsse","spec":{
 *     "envelopeHash":{"algorithm":"sha256","value":hex(SHA-256(JCS(dsseEnvelope)))},
 *     "payloadHash":{"algorithm":"sha256","value":hex(SHA-256(payload bytes))},
 *     "signatures":[{"signature":base64(signature bytes)}]}}
 *
 * `envelopeHash` binds the whole envelope (payload type, payload, key id, signature), so the leaf is
 * as binding as the envelope's own canonical JSON; the Rekor shape is what lets
 * `@sigstore/verify` match the log entry to the envelope (it reads `kind`, `apiVersion`,
 * `spec.signatures[0].signature` and `spec.payloadHash.value`) when the bundle is exported.
 */
import { canonicalize } from '@aaps/mpc-core/verifier';
import type { DsseEnvelope } from './dsse.js';
import { parseBase64, sha256Hex, utf8Encode } from './encoding.js';
import { hashLeafText } from './merkle.js';

export const LOG_ENTRY_KIND = 'dsse';
export const LOG_ENTRY_API_VERSION = '0.0.1';

/** The RFC 8785 canonical JSON of a DSSE envelope (kept as a name the tests and docs use). */
export function canonicalEnvelopeJson(envelope: DsseEnvelope): string {
  return canonicalize(envelope);
}

/** The log leaf as text (ASCII: fixed keys, hex and base64); see {@link logLeaf}. */
function logLeafText(envelope: DsseEnvelope, payloadBytes?: Uint8Array): string {
  const payload = payloadBytes ?? parseBase64(envelope.payload) ?? new Uint8Array();
  const sig = envelope.signatures[0]?.sig;
  // Canonical base64 re-encodes to itself; anything else stands for no bytes, as decoding it gives.
  const signature = parseBase64(sig) === undefined ? '' : (sig as string);
  const envelopeHash = sha256Hex(canonicalEnvelopeJson(envelope));
  // RFC 8785 of the Rekor-shaped entry: keys in sorted order, every value a hex or base64 string.
  return (
    `{"apiVersion":"${LOG_ENTRY_API_VERSION}","kind":"${LOG_ENTRY_KIND}","spec":{` +
    `"envelopeHash":{"algorithm":"sha256","value":"${envelopeHash}"},` +
    `"payloadHash":{"algorithm":"sha256","value":"${sha256Hex(payload)}"},` +
    `"signatures":[{"signature":"${signature}"}]}}`
  );
}

/**
 * The log leaf bytes for a DSSE envelope (assumed well-formed: one base64 signature).
 * `payloadBytes`, when given, must be the envelope's decoded payload (saves decoding it again).
 */
export function logLeaf(envelope: DsseEnvelope, payloadBytes?: Uint8Array): Uint8Array {
  return utf8Encode(logLeafText(envelope, payloadBytes));
}

/** RFC 9162 leaf hash of {@link logLeaf}: SHA-256 of 0x00 and the leaf, hashed from the text. */
export function logLeafHash(envelope: DsseEnvelope, payloadBytes?: Uint8Array): Uint8Array {
  return hashLeafText(logLeafText(envelope, payloadBytes));
}
