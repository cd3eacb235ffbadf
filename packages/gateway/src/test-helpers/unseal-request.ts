/** Test-only: a signed unseal request as an approver sends one (POST /v1/evidence/:id/unseal). */
import {
  hexToBytes,
  type IdentityKey,
  type ReleaseAuthentication,
  signUnsealRequest,
  type UnsealRequest,
} from '@aaps/mpc-core';

type RequestFields = Omit<UnsealRequest, 'signature'>;

/**
 * An unseal request for `incident_id` and `evidence_id`, signed with `key`: requester `alice`, a
 * fresh id, no fields, a reason, a ten-minute window from now; `over` replaces any of these.
 */
export function signedUnsealRequest(
  key: IdentityKey,
  over: Pick<RequestFields, 'incident_id' | 'evidence_id'> & Partial<RequestFields>,
): UnsealRequest {
  const now = Date.now();
  return signUnsealRequest(
    {
      request_id: `ur-${Math.random().toString(36).slice(2)}`,
      fields: [],
      requester: 'alice',
      reason: 'rotate the leaked credentials',
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
      ...over,
    },
    key.secretKey,
  );
}

/** What the approver checks the releases for `request` against: the parties' roster keys. */
export function releaseAuth(
  keys: { parties: readonly { id: string; identity_key: string }[] },
  request: UnsealRequest,
): ReleaseAuthentication {
  const { parties } = keys;
  return {
    requestId: request.request_id,
    incidentId: request.incident_id,
    requester: request.requester,
    partyKeys: new Map(parties.map((p) => [p.id, hexToBytes(p.identity_key)])),
  };
}
