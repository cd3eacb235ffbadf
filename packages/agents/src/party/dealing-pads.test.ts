/**
 * Dealing pads on the party node: which pads a party keeps, that it prepares them only while no
 * round is under way, and that party apps use them in a real round (the pad count drops, the result
 * is right, the pad is replaced once the party is idle).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, loadCircuit, loadFastBackends } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../aggregate.js';
import { PartyClient } from '../client.js';
import { memoryLogger } from '../logger.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp, type PartyApp } from './app.js';
import { DealingPadPool, padTargets } from './dealing-pads.js';
import { readCircuitCatalog, SHIPPED_CIRCUITS_DIR } from './routes/aggregation.js';
import { fiveParties, partyDeps, ROLES } from './test-helpers/five-parties.js';

const LENGTH = 70;

/** Every role provides one `length`-element vector (plus, for monitoring, a second one). */
function vectorCircuit(id: string, length: number, extra = false) {
  return {
    format: 'aaps-circuit/v1',
    id,
    version: 1,
    inputs: [
      ...ROLES.map((role) => ({
        name: `v.${role}`,
        role,
        range: { min: 0, max: 1000 },
        rangeProof: false,
        length,
      })),
      ...(extra
        ? [{ name: 'w.monitoring', role: 'monitoring', range: { min: 0, max: 9 }, rangeProof: false, length }]
        : []),
    ],
    outputs: [{ name: 'sum', terms: ROLES.map((role) => ({ input: `v.${role}` })) }],
  };
}

beforeAll(async () => {
  await loadFastBackends();
});

describe('padTargets', () => {
  it('wants, per length, the most vector inputs one circuit takes from the role; none for scalars', () => {
    const circuits = [
      loadCircuit(vectorCircuit('a', 100, true)),
      loadCircuit(vectorCircuit('b', 100)),
      loadCircuit(vectorCircuit('c', 40)),
      ...readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).values(),
    ];
    expect([...padTargets(circuits, 'monitoring', 3).targets]).toEqual(
      expect.arrayContaining([
        [100, 2],
        [40, 1],
      ]),
    );
    expect(padTargets(circuits, 'audit', 3).targets.get(100)).toBe(1);
    expect(padTargets(readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).values(), 'audit', 3).targets.size).toBe(0);
  });

  it('leaves out the lengths past the budget, shortest kept first', () => {
    const circuits = [loadCircuit(vectorCircuit('a', 100)), loadCircuit(vectorCircuit('b', 1000))];
    // Threshold 3: a pad of length L holds 2L scalars.
    const { targets, dropped } = padTargets(circuits, 'audit', 3, 1000);
    expect([...targets.keys()]).toEqual([100]);
    expect(dropped).toEqual([1000]);
  });
});

describe('DealingPadPool', () => {
  const suite = () => getCiphersuite('FROST-ED25519-SHA512-v1');

  it('prepares only while no round is under way, hands each pad out once, and refills', async () => {
    let busy = true;
    const pool = new DealingPadPool({
      suite: suite(),
      threshold: 3,
      targets: new Map([[LENGTH, 1]]),
      logger: memoryLogger('pads'),
      idleMs: 20,
      busy: () => busy,
    });
    pool.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.status()).toEqual([{ length: LENGTH, ready: 0, target: 1 }]);
    busy = false;
    await expect.poll(() => pool.status()[0]!.ready, { timeout: 10_000 }).toBe(1);
    const pad = pool.take(LENGTH)!;
    expect(pad.length).toBe(LENGTH);
    expect(pad.used).toBe(false);
    expect(pool.take(LENGTH)).toBeUndefined();
    expect(pool.take(5)).toBeUndefined();
    await expect.poll(() => pool.status()[0]!.ready, { timeout: 10_000 }).toBe(1);
    expect(pool.take(LENGTH)).not.toBe(pad);
    await pool.stop();
    expect(pool.status()[0]!.ready).toBe(0);
  });

  it('lets other work run between its steps', async () => {
    const pool = new DealingPadPool({
      suite: suite(),
      threshold: 3,
      targets: new Map([[400, 1]]),
      logger: memoryLogger('pads'),
      idleMs: 0,
    });
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    pool.start();
    await expect.poll(() => pool.status()[0]!.ready, { timeout: 20_000 }).toBe(1);
    clearInterval(tick);
    expect(turns).toBeGreaterThan(5);
    await pool.stop();
  });
});

describe('party apps with dealing pads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-pads-'));
  const set = fiveParties();
  const stores: PartyStore[] = [];
  let apps: PartyApp[];
  let client: PartyClient;
  const health = async (i: number) =>
    (await (await apps[i]!.app.request('/healthz')).json()) as {
      dealing_pads?: { length: number; ready: number; target: number }[];
    };
  const readyAll = async () =>
    (await Promise.all(apps.map((_, i) => health(i)))).map((h) => h.dealing_pads?.[0]?.ready);

  beforeAll(async () => {
    apps = [];
    for (let i = 0; i < 5; i++) {
      const base = await partyDeps(set, i, { dir, stores });
      const dataDir = join(dir, `party-${i}`);
      mkdirSync(join(dataDir, 'circuits'), { recursive: true });
      writeFileSync(
        join(dataDir, 'circuits', 'pad-sum.json'),
        JSON.stringify(vectorCircuit('pad-sum', LENGTH)),
      );
      apps.push(
        await createPartyApp({ ...base, config: { ...base.config, dataDir } }, { dealingPads: true }),
      );
    }
    const fetchApp: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      const i = set.roster.parties.findIndex((p) => new URL(p.url).host === url.host);
      return apps[i]!.app.request(url.pathname, init);
    };
    client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      fetch: fetchApp,
    });
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.pads?.stop()));
    await Promise.all(stores.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('report their pads, deal with them, and prepare the next once idle', async () => {
    expect((await health(0)).dealing_pads).toEqual([
      { length: LENGTH, ready: expect.any(Number), target: 1 },
    ]);
    await expect.poll(readyAll, { timeout: 20_000 }).toEqual([1, 1, 1, 1, 1]);
    const circuits = new Map(readCircuitCatalog([SHIPPED_CIRCUITS_DIR]));
    circuits.set('pad-sum', loadCircuit(vectorCircuit('pad-sum', LENGTH)));
    const values = (i: number) => Array.from({ length: LENGTH }, (_, k) => (k * 7 + i) % 1001);
    const out = await runAggregationOverHttp(client, {
      circuitId: 'pad-sum',
      sessionId: 'pads-1',
      inputs: Object.fromEntries(set.roster.parties.map((p, i) => [p.id, values(i)])),
      circuits,
    });
    const expected = Array.from({ length: LENGTH }, (_, k) =>
      [0, 1, 2, 3, 4].reduce((a, i) => a + BigInt(values(i)[k]!), 0n),
    );
    expect(out.result.sum).toEqual(expected);
    // Each party dealt with its pad; the next one waits until the party has been idle for a second.
    expect(await readyAll()).toEqual([0, 0, 0, 0, 0]);
    await expect.poll(readyAll, { timeout: 20_000 }).toEqual([1, 1, 1, 1, 1]);
  });
});
