/**
 * What the GitOps executor tests execute: a group-signed `ExecutionOrder` raising `limits.cpu` of
 * a ResourceQuota from 4 to 5 (signed by an in-process coordinator, as the approval step signs),
 * and the trusted group key maintenance checks it against.
 */
import { buildApprovalProposal, computeRiskScore } from '@aaps/agents';
import { bytesToHex, generateIdentityKey, hexToBytes } from '@aaps/mpc-core';
import { LocalCoordinator } from '../../coordinator-local.js';
import { localBacking } from '../../test-helpers/gateway.js';
import type { ExecutionOrderPayload } from '../types.js';

const coordinator = new LocalCoordinator({
  gateway: { id: 'gateway', identity_key: bytesToHex(generateIdentityKey().publicKey) },
});

/** What a signed order's proposal says; its risk is computed as the gateway declares it by default. */
export type OrderInput = Omit<Parameters<typeof buildApprovalProposal>[0], 'risk'>;

/** A group-signed `ExecutionOrder` (gitops) of the proposal `input` describes. */
export async function signedOrder(input: OrderInput): Promise<ExecutionOrderPayload> {
  // `unknown`, as the gateway declares by default: the parties' default policies map no namespace,
  // so a lighter environment would be refused (risk.environment_understated).
  const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'unknown' as const };
  const proposal = buildApprovalProposal({
    ...input,
    risk: { score: computeRiskScore(input.action, factors), method: 'aaps.risk.v1', factors },
  });
  const result = await coordinator.signApproval(proposal, localBacking(coordinator, proposal));
  const keys = await coordinator.keys();
  return {
    incident_id: input.incident_id,
    proposal,
    approval: {
      ciphersuite: keys.ciphersuite,
      group_public_key: keys.group_public_key,
      signature: bytesToHex(result.signature),
      signers: result.signers,
    },
    executor: 'gitops',
  };
}

/** The order for incident `id` to change a quota of `target`: by default `limits.cpu` from 4 to 5. */
export function signedQuotaOrder(
  target = 'resourcequota://shop/compute',
  id = 'inc-gitops-1',
  change: Record<string, string> = {
    resource: 'limits.cpu',
    current_hard: '4',
    new_hard: '5',
    used: '3',
    requested: '2',
  },
): Promise<ExecutionOrderPayload> {
  return signedOrder({
    incident_id: id,
    action: 'resource_quota_adjust',
    target,
    parameters: { changes: [change] },
    evidence_refs: ['event://shop/evt-1'],
  });
}

/** The group key the orders are signed under, as maintenance takes it. */
export async function trustedGroup() {
  const keys = await coordinator.keys();
  return {
    ciphersuite: 'FROST-ED25519-SHA512-v1' as const,
    groupPublicKey: hexToBytes(keys.group_public_key),
  };
}
