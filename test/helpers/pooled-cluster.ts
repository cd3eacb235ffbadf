/**
 * Five real party processes, each with its own policy (a department's private `risk` view), a
 * DKG across them, and the HTTP coordinator the gateway uses: the cluster the pooled-risk e2e
 * tests run on. `stop()` kills the processes and removes the directory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterLayout,
  defaultPolicy,
  layoutCluster,
  memoryLogger,
  PartyClient,
  type PartyProcess,
  runDkgOverHttp,
  startParties,
} from '@aaps/agents';
import { type Coordinator, createHttpCoordinator } from '@aaps/gateway';
import { getCiphersuite, loadFastBackends } from '@aaps/mpc-core';

export interface PooledCluster {
  layout: ClusterLayout;
  client: PartyClient;
  coordinator: Coordinator;
  stop(): Promise<void>;
}

/** `riskOf(role)`: the `risk` section of that role's policy (none: the default policy's). */
export async function startPooledCluster(
  name: string,
  riskOf: (role: string) => Record<string, unknown> | undefined,
): Promise<PooledCluster> {
  await loadFastBackends();
  const dir = mkdtempSync(join(tmpdir(), `aaps-${name}-`));
  let procs: PartyProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const layout = await layoutCluster({ dir, threshold: 3 });
    for (const p of layout.roster.parties) {
      const risk = riskOf(p.role);
      const policyPath = join(dir, `${p.id}.policy.json`);
      writeFileSync(policyPath, JSON.stringify({ ...defaultPolicy(p.role), ...(risk ? { risk } : {}) }));
      const configPath = layout.configPaths[p.id]!;
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(configPath, JSON.stringify({ ...config, policy: policyPath }));
    }
    procs = await startParties(layout);
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
    });
    return { layout, client, coordinator, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
