import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ClusterLayout,
  freePort,
  portTaken,
  retryTakenPort,
  START_ATTEMPTS,
  startCluster,
} from './cluster.js';
import { scratchCluster, THREE_PARTIES } from './test-helpers/scratch-cluster.js';

const scratch = scratchCluster('aaps-port-retry-');
const servers: Server[] = [];
afterAll(async () => {
  await scratch.cleanup();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});
const PARTIES = THREE_PARTIES;
const running = scratch.running;
const tempDir = scratch.tempDir;

/** Listen on `port` of 127.0.0.1, as another process taking it would. */
async function occupy(port: number): Promise<void> {
  const srv = createServer();
  servers.push(srv);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
}

const portOf = (layout: ClusterLayout, id: string) =>
  Number(new URL(layout.roster.parties.find((p) => p.id === id)!.url).port);

describe('startCluster', () => {
  it('lays the cluster out again when a probed port is taken before its party binds it', async () => {
    const dir = tempDir();
    const laidOut: ClusterLayout[] = [];
    const { layout, procs } = await startCluster(
      { dir, parties: PARTIES, threshold: 2 },
      {
        prepare: async (laid) => {
          laidOut.push(laid);
          // Another process takes strategy's port between the probe and the party's bind.
          if (laidOut.length === 1) await occupy(portOf(laid, 'strategy'));
        },
      },
    );
    running.push(...procs);
    expect(laidOut).toHaveLength(2);
    expect(portOf(layout, 'strategy')).not.toBe(portOf(laidOut[0]!, 'strategy'));
    // The same keys: only the URLs changed.
    expect(layout.roster.parties.map((p) => p.identity_key)).toEqual(
      laidOut[0]!.roster.parties.map((p) => p.identity_key),
    );
    for (const p of procs) {
      const health = (await (await fetch(`${p.url}/healthz`)).json()) as { party?: string };
      expect(health.party).toBe(p.id);
    }
  }, 60_000);

  it('does not retry ports the caller chose: the failure names the port', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    await occupy(ports[1]!);
    let prepared = 0;
    const failure = await startCluster(
      { dir: tempDir(), parties: PARTIES, threshold: 2, ports },
      { prepare: () => void prepared++ },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(prepared).toBe(1);
    expect(portTaken(failure)).toBe(true);
    expect((failure as Error).message).toContain(`cannot listen on 127.0.0.1:${ports[1]}: EADDRINUSE`);
  }, 60_000);

  it('gives up after its attempts, and tells a taken port from other failures', async () => {
    let prepared = 0;
    const failure = await startCluster(
      { dir: tempDir(), parties: PARTIES, threshold: 2 },
      {
        attempts: 2,
        prepare: async (laid) => {
          prepared++;
          await occupy(portOf(laid, 'audit'));
        },
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(prepared).toBe(2);
    expect(portTaken(failure)).toBe(true);
    expect(portTaken(new Error('party audit exited with 1: aaps party: cannot open the store'))).toBe(false);
    expect(portTaken('EADDRINUSE')).toBe(false);
  }, 60_000);
});

describe('retryTakenPort (the loop startCluster, aaps up and the fault suites share)', () => {
  const taken = () =>
    new Error('party audit exited with 2: aaps party: cannot listen on 127.0.0.1:1: EADDRINUSE');
  const outcome = (p: Promise<unknown>) =>
    p.then(
      (v) => ({ value: v }),
      (e: unknown) => ({ error: e }),
    );

  it('tries again only for a taken port, up to its attempts, and says so before each retry', async () => {
    const retried: number[] = [];
    const runs: number[] = [];
    const out = await outcome(
      retryTakenPort(
        async (attempt) => {
          runs.push(attempt);
          if (attempt < 3) throw taken();
          return 'up';
        },
        { onRetry: (_e, attempt) => void retried.push(attempt) },
      ),
    );
    expect(out).toEqual({ value: 'up' });
    expect(runs).toEqual([1, 2, 3]);
    expect(retried).toEqual([1, 2]);
    const exhausted: number[] = [];
    const last = await outcome(
      retryTakenPort(async (attempt) => {
        exhausted.push(attempt);
        throw taken();
      }),
    );
    expect(exhausted).toHaveLength(START_ATTEMPTS);
    expect(portTaken((last as { error: unknown }).error)).toBe(true);
    const other = new Error('party audit exited with 2: aaps party: policy is for another role');
    const once: number[] = [];
    const failed = await outcome(
      retryTakenPort(async (attempt) => {
        once.push(attempt);
        throw other;
      }),
    );
    expect(failed).toEqual({ error: other });
    expect(once).toEqual([1]);
  });

  it('never answers a stop request with another layout: a taken port after the signal aborted is thrown', async () => {
    const abort = new AbortController();
    const runs: number[] = [];
    let retried = 0;
    const error = taken();
    const out = await outcome(
      retryTakenPort(
        async (attempt) => {
          runs.push(attempt);
          abort.abort(new Error('SIGINT during start-up'));
          throw error;
        },
        { signal: abort.signal, onRetry: () => void retried++ },
      ),
    );
    expect(out).toEqual({ error });
    expect(runs).toEqual([1]);
    expect(retried).toBe(0);
  });
});
