/**
 * The fault suites' party cluster helper on real party processes: a probed port another process
 * takes before its party binds it makes the helper lay the cluster out again on fresh ports (as
 * `startCluster` does), and a start that fails leaves nothing behind (no process, no temporary
 * directory), as the suites' `afterAll` has no cluster to stop or remove then.
 */
import { readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type PartyCluster, startPartyCluster } from './party-cluster.js';

const prefix = `aaps-helper-fail-${process.pid}-`;
const leftOver = () => readdirSync(tmpdir()).filter((n) => n.startsWith(prefix));
const servers: Server[] = [];
let cluster: PartyCluster | undefined;
afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  for (const n of leftOver()) rmSync(join(tmpdir(), n), { recursive: true, force: true });
});

describe('startPartyCluster', () => {
  it('lays the cluster out again when a probed port is taken before its party binds it', async () => {
    const taken: number[] = [];
    cluster = await startPartyCluster({
      prefix: 'aaps-helper-retry-',
      rewriteRoster: async (layout) => {
        // Another process takes strategy's port between the probe and the party's bind, once.
        if (taken.length === 0) {
          const url = layout.roster.parties.find((p) => p.id === 'strategy')!.url;
          const srv = createServer();
          servers.push(srv);
          const port = Number(new URL(url).port);
          await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
          taken.push(port);
        }
        return layout.roster;
      },
    });
    const strategy = cluster.layout.roster.parties.find((p) => p.id === 'strategy')!;
    expect(taken).toHaveLength(1);
    expect(Number(new URL(strategy.url).port)).not.toBe(taken[0]);
    for (const p of cluster.layout.roster.parties) {
      const health = (await (await fetch(`${p.url}/healthz`)).json()) as { party?: string };
      expect(health.party, p.url).toBe(p.id);
    }
  }, 60_000);

  it('removes its temporary directory when its parties cannot start', async () => {
    // A threshold above the party count: every party refuses the roster at start (not a port race).
    const failure = await startPartyCluster({ prefix, threshold: 9 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure?.message).toMatch(/exited with 2/);
    expect(leftOver()).toEqual([]);
  }, 60_000);
});
