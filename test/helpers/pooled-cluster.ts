/**
 * Five real party processes, each with its own policy (a department's private `risk` view), a
 * DKG across them, and the HTTP coordinator the gateway uses: the cluster the pooled-risk and
 * log-witness e2e tests run on. `stop()` kills the processes and removes the directory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AggregationRef,
  type ClusterLayout,
  memoryLogger,
  PartyClient,
  type PartyProcess,
  runDkgOverHttp,
  spawnParty,
  startCluster,
} from '@aaps/agents';
import { type Coordinator, createHttpCoordinator } from '@aaps/gateway';
import { getCiphersuite, loadFastBackends, type PublicKeyPackage, type SignedEnvelope } from '@aaps/mpc-core';
import { LOW_RISK, policyFor, proposalFor } from '../../packages/agents/src/policy/test-helpers/fixtures.js';

export interface PooledCluster {
  layout: ClusterLayout;
  client: PartyClient;
  coordinator: Coordinator;
  publicPackage: PublicKeyPackage;
  /**
   * Stop parties `ids`, rewrite each one's policy file as `change` makes it from the current one
   * (a department that changed its policy), and start them again on the same store and port.
   */
  restart(
    ids: readonly string[],
    change: (policy: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `riskOf(role)`: the `risk` section of that role's policy, over `environments` mapping `shop` to
 * staging (none: that map alone). `fetch`:
 * how the coordinator (not the DKG) reaches the parties, e.g. one that blocks some of them.
 */
export async function startPooledCluster(
  name: string,
  riskOf: (role: string) => Record<string, unknown> | undefined = () => undefined,
  opts: { fetch?: typeof fetch } = {},
): Promise<PooledCluster> {
  await loadFastBackends();
  const dir = mkdtempSync(join(tmpdir(), `aaps-${name}-`));
  let procs: PartyProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Each department's own policy file, named in its config (again if the cluster is laid out anew).
    const writePolicies = (layout: ClusterLayout) => {
      for (const p of layout.roster.parties) {
        const risk = riskOf(p.role);
        const policyPath = join(dir, `${p.id}.policy.json`);
        // Every department knows `shop` runs in staging, as the strategy step below declares it.
        const policy = policyFor(p.role);
        writeFileSync(policyPath, JSON.stringify({ ...policy, risk: { ...policy.risk, ...risk } }));
        const configPath = layout.configPaths[p.id]!;
        const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
        writeFileSync(configPath, JSON.stringify({ ...config, policy: policyPath }));
      }
    };
    const started = await startCluster({ dir, threshold: 3 }, { prepare: writePolicies });
    const { layout } = started;
    procs = started.procs;
    const client = new PartyClient({
      roster: layout.roster,
      caller: { id: 'gateway', key: layout.gatewayKey },
    });
    const dkg = await runDkgOverHttp(client, getCiphersuite('FROST-ED25519-SHA512-v1'), {
      sessionId: `dkg-${name}`,
    });
    const coordinator = createHttpCoordinator({
      roster: layout.roster,
      gatewayKey: layout.gatewayKey,
      publicPackage: dkg.publicPackage,
      logger: memoryLogger(),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    const restart = async (
      ids: readonly string[],
      change: (policy: Record<string, unknown>) => Record<string, unknown>,
    ) => {
      for (const id of ids) {
        const i = procs.findIndex((p) => p.id === id);
        const party = layout.roster.parties.find((p) => p.id === id);
        if (i < 0 || party === undefined) throw new Error(`no party ${id}`);
        await procs[i]!.stop();
        const policyPath = join(dir, `${id}.policy.json`);
        const policy = JSON.parse(readFileSync(policyPath, 'utf8')) as Record<string, unknown>;
        writeFileSync(policyPath, JSON.stringify(change(policy)));
        procs[i] = spawnParty(party.id, party.url, layout.configPaths[id]!);
        await procs[i]!.ready();
      }
    };
    return { layout, client, coordinator, publicPackage: dkg.publicPackage, restart, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The strategy party's step on the problem solver's image-rollback fix for `incidentId` (under
 * LOW_RISK), with the pooled reference `pooled`: its signed `ApprovalDecision` envelope.
 */
export async function strategyOnPooledFix(
  coordinator: Coordinator,
  incidentId: string,
  traceId: string,
  pooled: AggregationRef,
): Promise<SignedEnvelope> {
  const core = proposalFor('image_rollback', { incident_id: incidentId }, LOW_RISK);
  const fix = {
    rank: 1,
    action: core.action,
    target: core.target,
    parameters: core.parameters,
    evidence_refs: core.evidence_refs,
    blast_radius: LOW_RISK.blast_radius,
  };
  const transcript = [
    { meta: { message_type: 'FixProposal' }, payload: { proposals: [fix] } } as unknown as SignedEnvelope,
  ];
  const [env] = await coordinator.agentStep('strategy', {
    incidentId,
    traceId,
    transcript,
    context: { urgency: 'P2', namespace: 'shop', cluster: 'prod-eu-1' } as never,
    extra: { pooled, environment: 'staging' },
  });
  return env!;
}
