/**
 * A department restores its party from a backup taken before a key refresh (its disk lost): the
 * party holds the group key, on the old sharing, and its shares fail against the current verifying
 * shares. Quality assurance holds a veto, so it is in every approval quorum. The gateway's
 * coordinator finds it on another sharing (stale-sharing.ts), repairs it from the parties on the
 * current one, and the approval goes through; real party processes and the `aaps party` CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '@aaps/agents';
import { createHttpCoordinator } from '@aaps/gateway';
import { canonicalize, PublicKeyPackageCodec } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalFor } from '../packages/agents/src/policy/test-helpers/fixtures.js';
import { AAPS_CLI } from './helpers/aaps.js';
import { clusterBacking } from './helpers/backing.js';
import { type PartyCluster, startPartyCluster, suite } from './helpers/party-cluster.js';

let cluster: PartyCluster;
let current: unknown;
const scratch = mkdtempSync(join(tmpdir(), 'aaps-stale-bk-'));
const STALE = 'quality-assurance';

const aaps = (...args: string[]) => {
  const r = spawnSync(process.execPath, [AAPS_CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

beforeAll(async () => {
  cluster = await startPartyCluster({ prefix: 'aaps-stale-' });
  const before = PublicKeyPackageCodec.toJSON(suite().id, (await cluster.dkg()).publicPackage);
  const config = cluster.layout.configPaths[STALE]!;
  await cluster.kill(STALE);
  const out = join(scratch, 'qa');
  const b = aaps('party', 'backup', '--config', config, '--split', '2/3', '--out', out);
  if (b.code !== 0) throw new Error(b.err);
  await cluster.start(STALE);
  const saved: unknown[] = [];
  await createHttpCoordinator({
    roster: cluster.layout.roster,
    gatewayKey: cluster.layout.gatewayKey,
    publicPackage: before,
    logger: memoryLogger(),
    savePublicPackage: (json) => saved.push(json),
  }).refreshKeys!();
  if (saved.length !== 1) throw new Error('the refresh saved no package');
  current = saved[0];
  // The disk is lost; the party comes back from the backup taken before the refresh.
  await cluster.kill(STALE);
  rmSync(join(cluster.dir, 'parties', STALE, 'db'), { recursive: true, force: true });
  const files = readdirSync(out).map((f) => join(out, f));
  const r = aaps('party', 'restore', '--config', config, files[0]!, files[1]!);
  if (r.code !== 0) throw new Error(r.err);
  await cluster.start(STALE);
}, 180_000);

afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  rmSync(scratch, { recursive: true, force: true });
});

describe('a party restored onto an older sharing of the group key', () => {
  it('is found on it after its share fails, repaired from the parties on the current sharing, and the approval is signed', async () => {
    const held = async (id: string) =>
      canonicalize(
        (await cluster.client().call<{ public_package: unknown }>(id, 'key.info', 't', {})).public_package,
      );
    expect(await held(STALE)).not.toBe(canonicalize(current));
    const logger = memoryLogger();
    const coordinator = createHttpCoordinator({
      roster: cluster.layout.roster,
      gatewayKey: cluster.layout.gatewayKey,
      publicPackage: current,
      logger,
    });
    const proposal = proposalFor('image_rollback', { incident_id: 'inc-stale-1' });
    const signed = await coordinator.signApproval(proposal, clusterBacking(cluster.layout, proposal));
    expect(signed.signers).toContain(STALE);
    expect(await held(STALE)).toBe(canonicalize(current));
    const said = logger.lines.map((l) => JSON.parse(l) as { event?: string; step?: string });
    expect(
      said.some((l) => l.event === 'keys.sharing' && l.step?.includes(`${STALE} holds another sharing`)),
      logger.lines.join('\n'),
    ).toBe(true);
    // The next approval needs no repair.
    const next = proposalFor('image_rollback', { incident_id: 'inc-stale-2' });
    const again = await coordinator.signApproval(next, clusterBacking(cluster.layout, next));
    expect(again.misbehaved).toEqual([]);
  }, 120_000);
});
