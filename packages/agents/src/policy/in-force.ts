/**
 * Which policy a party enforces, as the operator sees it in its `party.listening` line and its
 * `GET /healthz`: the file it loaded (or `role default`, its role's built-in policy, when none is
 * configured), and the SHA-256 of that policy's RFC 8785 canonical JSON (as parsed: a file edited
 * only in whitespace or key order keeps its digest; any change of a value changes it).
 */
import { bytesToHex, canonicalize, utf8 } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Policy } from './schema.js';

/** What `policy` says when the party runs its role's default policy. */
export const ROLE_DEFAULT_POLICY = 'role default';

export interface PolicyInForce {
  /** The policy file's path, or {@link ROLE_DEFAULT_POLICY}. */
  policy: string;
  /** Hex SHA-256 of the effective policy's canonical JSON. */
  policy_sha256: string;
}

/** The SHA-256 (hex) of `policy`'s canonical JSON (members that are `undefined` left out). */
export function policyDigest(policy: Policy): string {
  return bytesToHex(sha256(utf8(canonicalize(JSON.parse(JSON.stringify(policy))))));
}

export function policyInForce(policyPath: string | undefined, policy: Policy): PolicyInForce {
  return { policy: policyPath ?? ROLE_DEFAULT_POLICY, policy_sha256: policyDigest(policy) };
}
