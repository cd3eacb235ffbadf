/**
 * Who the gateway trusts: the parties' and approvers' identity keys and its own (a roster's
 * `parties`, `approvers` and `gateway` fit as they are).
 */
import {
  type HumanApproval,
  type HumanRejection,
  humanApprovalSigningBytes,
  humanRejectionSigningBytes,
  verifyApproverSignature,
} from '@aaps/agents';
import { type Envelope, hexToBytes, VerificationError, verifyEnvelope } from '@aaps/mpc-core';

export interface Principal {
  readonly id: string;
  /** Ed25519 identity public key, hex. */
  readonly identity_key: string;
  /** A party's role, as its roster.json entry names it (written into the trusted root). */
  readonly role?: string;
}

/** The keys the gateway checks signatures against. */
export interface TrustedKeys {
  parties: readonly Principal[];
  approvers: readonly Principal[];
  gateway: Principal;
}

/** The roster an evidence verifier needs: the trusted ids and keys. */
export { verifierRoster } from '@aaps/evidence';

/** The principal whose key must have signed an envelope from `sourceAgent`, if it is one we know. */
export function principalFor(keys: TrustedKeys, sourceAgent: string): Principal | undefined {
  return (
    keys.parties.find((p) => p.id === sourceAgent) ??
    keys.approvers.find((a) => a.id === sourceAgent) ??
    (keys.gateway.id === sourceAgent ? keys.gateway : undefined)
  );
}

/**
 * Throws `VerificationError` (`envelope.signature`, code `UNAUTHENTICATED` for an unknown sender,
 * `INVALID_SIGNATURE` for a bad signature) unless `envelope` is signed by the roster key of its
 * `source_agent`.
 */
export function verifyRosterEnvelope(keys: TrustedKeys, envelope: Envelope): Principal {
  const who = principalFor(keys, envelope.meta.source_agent);
  if (who === undefined) {
    throw new VerificationError(
      'envelope.signature',
      'the envelope is signed by a sender outside the roster',
      {
        code: 'UNAUTHENTICATED',
      },
    );
  }
  verifyEnvelope(envelope, hexToBytes(who.identity_key, 'identity_key', 32));
  return who;
}

/** True when `approval.signature` is the named approver's signature over its signing bytes. */
export function verifyHumanApproval(approvers: readonly Principal[], approval: HumanApproval): boolean {
  return approverSigned(approvers, approval.approver_id, approval.signature, () =>
    humanApprovalSigningBytes(approval),
  );
}

/** True when `rejection.signature` is the named approver's signature over its signing bytes. */
export function verifyHumanRejection(approvers: readonly Principal[], rejection: HumanRejection): boolean {
  return approverSigned(approvers, rejection.approver_id, rejection.signature, () =>
    humanRejectionSigningBytes(rejection),
  );
}

/** `signature` (`ed25519:<base64>`) is roster approver `id`'s over `bytes()`. */
function approverSigned(
  approvers: readonly Principal[],
  id: string,
  signature: unknown,
  bytes: () => Uint8Array,
): boolean {
  const who = approvers.find((a) => a.id === id);
  if (who === undefined) return false;
  try {
    return verifyApproverSignature(hexToBytes(who.identity_key, 'identity_key', 32), signature, bytes());
  } catch {
    return false;
  }
}
