/**
 * Party nodes over HTTP on loopback: a 3-of-5 approval across five real party processes (each
 * checks its policy and derives the signed bytes; commitments pooled so a warm approval is one
 * online round), and a 10-party DKG across ten processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildApprovalProposal,
  type ClusterLayout,
  computeRiskScore,
  frostIdentifier,
  httpSigningTransport,
  loadOrCreateIdentityKey,
  PARTY_ROLES,
  PartyClient,
  type PartyProcess,
  proposalSigningBytes,
  runDkgOverHttp,
  type SignSubject,
  signBacking,
  startCluster,
  vetoHolders,
} from '@aaps/agents';
import { getCiphersuite, type Identifier, loadFastBackends, SigningSession } from '@aaps/mpc-core';
import type { SuiteContext } from '../harness.js';

// `unknown`, as the gateway declares by default: the parties run their default policies, which map
// no namespace, so a lighter environment would be refused (risk.environment_understated).
const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'unknown' as const };
const proposal = buildApprovalProposal({
  incident_id: 'inc-bench-1',
  action: 'image_rollback',
  target: 'deployment://shop/web',
  parameters: {
    basis: 'deployment_history',
    container: 'web',
    to_image: `registry.example/shop/web@sha256:${'a'.repeat(64)}`,
  },
  evidence_refs: ['incident://inc-bench-1/signal'],
  risk: { score: computeRiskScore('image_rollback', factors), method: 'aaps.risk.v1', factors },
});

/**
 * The approval as the gateway sends it: with the problem solver's fix proposal and the strategy
 * party's decision, signed with those parties' identity keys (each party checks them).
 */
function approvalSubject(layout: ClusterLayout): SignSubject {
  const signer = (role: string) => {
    const party = layout.roster.parties.find((p) => p.role === role)!;
    return {
      id: party.id,
      key: loadOrCreateIdentityKey(join(layout.dir, 'parties', party.id, 'identity.key'), false),
    };
  };
  return {
    kind: 'approval',
    proposal,
    backing: signBacking(proposal, { fix: signer('problem-solver'), decision: signer('strategy') }),
  };
}

export async function register({ add }: SuiteContext): Promise<void> {
  await loadFastBackends();
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  let dir = '';
  let procs: PartyProcess[] = [];
  let session: SigningSession<SignSubject> | undefined;
  let subject: SignSubject | undefined;
  // The veto holder every approval quorum includes (as the gateway asks).
  let required: Identifier[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    procs = [];
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  add(
    'party.approval.3of5.http',
    'http',
    async () => {
      await session!.sign({
        payload: subject!,
        required,
        messageFor: () => proposalSigningBytes(proposal),
      });
    },
    {
      time: 3000,
      iterations: 100,
      setup: async () => {
        dir = mkdtempSync(join(tmpdir(), 'aaps-bench-party-'));
        const started = await startCluster({ dir, threshold: 3 });
        const { layout } = started;
        procs = started.procs;
        subject = approvalSubject(layout);
        required = vetoHolders(layout.roster).map((p) => frostIdentifier(layout.roster, p));
        const client = new PartyClient({
          roster: layout.roster,
          caller: { id: 'gateway', key: layout.gatewayKey },
        });
        const { publicPackage } = await runDkgOverHttp(client, suite, { sessionId: 'bench-dkg' });
        session = new SigningSession<SignSubject>({
          suite,
          publicPackage,
          transport: httpSigningTransport(client, suite, 'bench'),
          batchSize: 32,
          timeoutMs: 5000,
        });
        // Warm the commitment pool once, as a running gateway would have.
        await session.sign({
          payload: subject,
          required,
          messageFor: () => proposalSigningBytes(proposal),
        });
      },
      teardown: stop,
    },
  );

  let dkgClient: PartyClient | undefined;
  let round = 0;
  add(
    'party.dkg.10.http',
    'http',
    async () => {
      await runDkgOverHttp(dkgClient!, suite, { sessionId: `bench-dkg10-${round++}`, replace: true });
    },
    {
      time: 0,
      iterations: 8,
      setup: async () => {
        dir = mkdtempSync(join(tmpdir(), 'aaps-bench-dkg-'));
        const parties = Array.from({ length: 10 }, (_, i) => ({
          id: `party-${i + 1}`,
          role: PARTY_ROLES[i % PARTY_ROLES.length]!,
        }));
        // Each round re-keys over the last one's keys: the operator switch is on.
        const started = await startCluster({ dir, parties, threshold: 7, allowKeyReplace: true });
        const { layout } = started;
        procs = started.procs;
        dkgClient = new PartyClient({
          roster: layout.roster,
          caller: { id: 'gateway', key: layout.gatewayKey },
          timeoutMs: 30_000,
        });
      },
      teardown: stop,
    },
  );
}
