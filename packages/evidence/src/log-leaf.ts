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
import { canonicalBytes } from '@aaps/mpc-core';
import type { DsseEnvelope } from './dsse.js';
import { parseBase64, sha256, toBase64, toHex } from './encoding.js';
import { hashLeaf } from './merkle.js';

export const LOG_ENTRY_KIND = 'dsse';
export const LOG_ENTRY_API_VERSION = '0.0.1';

/** The log leaf bytes for a DSSE envelope (assumed well-formed: one base64 signature). */
export function logLeaf(envelope: DsseEnvelope): Uint8Array {
  const payload = parseBase64(envelope.payload) ?? new Uint8Array();
  const signature = parseBase64(envelope.signatures[0]?.sig) ?? new Uint8Array();
  return canonicalBytes({
    apiVersion: LOG_ENTRY_API_VERSION,
    kind: LOG_ENTRY_KIND,
    spec: {
      envelopeHash: { algorithm: 'sha256', value: toHex(sha256(canonicalBytes(envelope))) },
      payloadHash: { algorithm: 'sha256', value: toHex(sha256(payload)) },
      signatures: [{ signature: toBase64(signature) }],
    },
  });
}

/** RFC 9162 leaf hash of {@link logLeaf}. */
export function logLeafHash(envelope: DsseEnvelope): Uint8Array {
  return hashLeaf(logLeaf(envelope));
}
