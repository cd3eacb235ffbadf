/**
 * An evidence bundle as `GET /v1/evidence/:id` serves one, reduced to what `aaps unseal` reads:
 * a DSSE envelope around a statement naming the incident, its sealed fields and (given `parties`)
 * the roster's parties with their identity keys, which releases are checked against. Its signature is
 * made up (`aaps unseal` checks which evidence a bundle is, from its log leaf; `aaps-verify` checks
 * who signed it), and its evidence id is computed as the gateway's evidence writer does. It
 * verifies under no trusted root, so `aaps unseal` takes it only with `--trust-served-root`.
 */
import { bundleLogLeaf, type EvidenceBundle, IN_TOTO_PAYLOAD_TYPE } from '@aaps/evidence';
import { bytesToHex, type SealedField, SealedFieldCodec } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';

export function sealedFieldsBundle(
  incidentId: string,
  fields: readonly SealedField[],
  parties: readonly { id: string; identityKey: Uint8Array }[] = [],
): { bundle: unknown; evidenceId: string } {
  const statement = {
    predicate: {
      incident: { id: incidentId, sealed_fields: fields.map((f) => SealedFieldCodec.toJSON(f)) },
      roster: { parties: parties.map((p) => ({ id: p.id, identity_key: bytesToHex(p.identityKey) })) },
    },
  };
  const bundle = {
    dsseEnvelope: {
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      signatures: [{ keyid: 'a'.repeat(64), sig: Buffer.alloc(64, 7).toString('base64') }],
    },
  };
  return { bundle, evidenceId: bytesToHex(sha256(bundleLogLeaf(bundle as unknown as EvidenceBundle))) };
}
