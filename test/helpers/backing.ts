/**
 * The signed agent outputs an approval needs at the parties (`checkApprovalBacking`), for tests that
 * drive the party processes of a cluster directly: signed with the problem solver's and the
 * strategy party's own identity keys, read from the cluster's data directory.
 */
import { join } from 'node:path';
import {
  type ApprovalBacking,
  type ApprovalProposal,
  type ClusterLayout,
  frostIdentifier,
  loadOrCreateIdentityKey,
  type SignSubject,
  signBacking,
  vetoHolders,
} from '@aaps/agents';
import type { Identifier } from '@aaps/mpc-core';

function signerOf(layout: Pick<ClusterLayout, 'dir' | 'roster'>, role: 'problem-solver' | 'strategy') {
  const party = layout.roster.parties.find((p) => p.role === role);
  if (party === undefined) throw new Error(`the cluster has no ${role} party`);
  return {
    id: party.id,
    key: loadOrCreateIdentityKey(join(layout.dir, 'parties', party.id, 'identity.key'), false),
  };
}

export function clusterBacking(
  layout: Pick<ClusterLayout, 'dir' | 'roster'>,
  proposal: ApprovalProposal,
  decision: 'auto' | 'needs_human' = 'auto',
): ApprovalBacking {
  return signBacking(
    proposal,
    { fix: signerOf(layout, 'problem-solver'), decision: signerOf(layout, 'strategy') },
    { decision },
  );
}

/** The round-two subject of an approval of `proposal`, backed as the gateway would send it. */
export function approvalSubject(
  layout: Pick<ClusterLayout, 'dir' | 'roster'>,
  proposal: ApprovalProposal,
): Extract<SignSubject, { kind: 'approval' }> {
  return { kind: 'approval', proposal, backing: clusterBacking(layout, proposal) };
}

/**
 * The FROST identifiers every approval quorum must include (the veto holders): pass them as a
 * signing's `required`, as the gateway does, or the parties refuse (`approval.veto_quorum`).
 */
export function approvalRequired(layout: Pick<ClusterLayout, 'roster'>): Identifier[] {
  return vetoHolders(layout.roster).map((p) => frostIdentifier(layout.roster, p));
}
