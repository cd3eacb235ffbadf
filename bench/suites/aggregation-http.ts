/**
 * Secret-shared aggregation over HTTP across five real party processes on loopback (3-of-5), with
 * `runAggregationOverHttp` as the coordinator in the bench process:
 *
 * - `agg.weighted-risk.5parties.http`: one verified `weighted-risk` round, as the gateway pools risk:
 *   each party derives its own 0..100 score for the round's subject from its policy (pooled risk
 *   takes no caller input) and deals it with a range proof, its share boxes signed to every
 *   receiver and the subject's digest signed into its dealing; each checks
 *   every dealing (range proofs, shares against Pedersen commitments) and evaluates; the coordinator
 *   opens with every result share checked and builds the record.
 * - `agg.sum.5parties.1000inputs.http`: element-wise sum of 1,000 inputs per party (one 1,000-element
 *   vector input per party, without range proofs, installed in each party's `<data dir>/circuits/`);
 *   every share vector is checked against its dealer's Pedersen vector commitments with one batched
 *   random-linear-combination check per party, and every result share at the opening likewise.
 *   Each round starts as a round at an idle party node does: with each party's dealing pad (the
 *   input-independent half of its dealing, docs/aggregation.md) prepared, which the untimed hook
 *   before every round waits for (a party prepares it once no aggregation call has come for 1 s).
 * - `agg.sum.5parties.1000inputs.http.no-pads`: the same rounds back to back, so that no party is
 *   ever idle long enough to prepare a pad: each deals in full, as before pads.
 *
 * Peer: JIFF (`jiff-mpc`; its server and 5 party processes on loopback, semi-honest, nothing
 * checked), from the harness in `bench/peers/jiff/` when it is installed
 * (`npm install --prefix bench/peers/jiff`): each row's setup runs the same computation there, and
 * its per-round times are reported beside ours as `jiff` rows of the same names.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CircuitCatalog,
  computeRiskScore,
  PartyClient,
  type PartyProcess,
  readCircuitCatalog,
  runAggregationOverHttp,
  SHIPPED_CIRCUITS_DIR,
  startCluster,
} from '@aaps/agents';
import { loadCircuit, loadFastBackends } from '@aaps/mpc-core';
import { bulkCircuitJson } from '../fixtures/bulk-circuit.js';
import type { SuiteContext } from '../harness.js';

const BULK = 1000;

interface Cluster {
  dir: string;
  procs: PartyProcess[];
  client: PartyClient;
  circuits: CircuitCatalog;
  ids: string[];
  urls: string[];
}

/** Five parties with the bulk circuit installed and a body limit that fits its dealings. */
async function startBulkCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-bench-agg-'));
  const bulk = bulkCircuitJson(BULK);
  // Laid out again on fresh ports if another process takes a probed one before its party binds it.
  const { layout, procs } = await startCluster(
    { dir, threshold: 3 },
    {
      prepare: (laid) => {
        for (const p of laid.roster.parties) {
          const configPath = laid.configPaths[p.id]!;
          const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
          writeFileSync(configPath, JSON.stringify({ ...config, max_body_bytes: 32 * 1024 * 1024 }));
          const circuitsDir = join(dir, 'parties', p.id, 'circuits');
          mkdirSync(circuitsDir, { recursive: true });
          writeFileSync(join(circuitsDir, 'sum-bulk.json'), JSON.stringify(bulk));
        }
      },
    },
  );
  const client = new PartyClient({
    roster: layout.roster,
    caller: { id: 'gateway', key: layout.gatewayKey },
    timeoutMs: 60_000,
  });
  const circuits = new Map(readCircuitCatalog([SHIPPED_CIRCUITS_DIR]));
  const c = loadCircuit(bulk);
  circuits.set(c.id, c);
  return {
    dir,
    procs,
    client,
    circuits,
    ids: layout.roster.parties.map((p) => p.id),
    urls: layout.roster.parties.map((p) => p.url),
  };
}

const JIFF_DIR = new URL('../../peers/jiff/', import.meta.url);

/**
 * Per-round times (ms) of the JIFF harness for `size` integers per party, or none when it is not
 * installed or fails (the reason goes to stderr).
 */
function runJiff(size: 1 | 1000, rounds: number): number[] {
  if (!existsSync(new URL('node_modules/jiff-mpc/package.json', JIFF_DIR))) return [];
  const dir = mkdtempSync(join(tmpdir(), 'aaps-bench-jiff-'));
  const out = join(dir, 'results.json');
  try {
    const run = spawnSync(
      process.execPath,
      [
        new URL('run.js', JIFF_DIR).pathname,
        '--size',
        String(size),
        size === 1 ? '--rounds1' : '--rounds1000',
        String(rounds),
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
    );
    if (run.status !== 0) {
      process.stderr.write(`jiff peer (size ${size}) failed: exit ${run.status}\n`);
      return [];
    }
    const parsed = JSON.parse(readFileSync(out, 'utf8')) as {
      results: { times: number[]; correct: boolean }[];
    };
    const row = parsed.results[0];
    return row?.correct ? row.times : [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function register({ add, measured, ratio }: SuiteContext): Promise<void> {
  await loadFastBackends();
  let cluster: Cluster | undefined;
  let round = 0;
  const stop = async () => {
    if (!cluster) return;
    await Promise.all(cluster.procs.map((p) => p.stop('SIGKILL')));
    rmSync(cluster.dir, { recursive: true, force: true });
    cluster = undefined;
  };
  const factors = { blast_radius: 40, urgency: 'P2', environment: 'production' } as const;
  // The default policies score a change by the shared formula; the circuit's weights sum to 10.
  const expected = BigInt(10 * computeRiskScore('image_rollback', factors));
  const weightedRisk = async () => {
    const c = cluster!;
    const out = await runAggregationOverHttp(c.client, {
      circuitId: 'weighted-risk',
      sessionId: `bench-wr-${round}`,
      inputs: {},
      derive: { incident_id: `bench-${round++}`, action: 'image_rollback', namespace: 'payments', factors },
      circuits: c.circuits,
    });
    if (out.result.weighted_risk !== expected) throw new Error('wrong weighted-risk result');
  };
  const bulkValues = (party: number) => Array.from({ length: BULK }, (_, k) => (k * 7 + party) % 1000);
  const bulkSum = async () => {
    const c = cluster!;
    const inputs = Object.fromEntries(c.ids.map((id, i) => [id, bulkValues(i)]));
    const out = await runAggregationOverHttp(c.client, {
      circuitId: 'sum-bulk',
      sessionId: `bench-bulk-${round++}`,
      inputs,
      circuits: c.circuits,
    });
    const expected = c.ids.reduce((acc, _id, i) => acc + BigInt(bulkValues(i)[BULK - 1]!), 0n);
    const sum = out.result.sum;
    if (!Array.isArray(sum) || sum.length !== BULK || sum[BULK - 1] !== expected)
      throw new Error('wrong bulk sum');
  };

  ratio({
    label: 'agg.weighted-risk.5parties.http vs JIFF unverified one-integer sum (goal: no slower)',
    numerator: { name: 'agg.weighted-risk.5parties.http', impl: 'http' },
    denominator: { name: 'agg.weighted-risk.5parties.http', impl: 'jiff' },
    goal: 1,
  });
  ratio({
    label:
      'agg.sum.5parties.1000inputs.http (dealing pads prepared while idle, untimed) vs JIFF unverified element-wise sum (goal: 1/10)',
    numerator: { name: 'agg.sum.5parties.1000inputs.http', impl: 'http' },
    denominator: { name: 'agg.sum.5parties.1000inputs.http', impl: 'jiff' },
    goal: 0.1,
  });
  let jiff1: number[] = [];
  let jiff1000: number[] = [];
  measured('agg.weighted-risk.5parties.http', 'jiff', () => jiff1);
  measured('agg.sum.5parties.1000inputs.http', 'jiff', () => jiff1000);
  add('agg.weighted-risk.5parties.http', 'http', weightedRisk, {
    time: 3000,
    iterations: 30,
    setup: async () => {
      // The peer's one-integer sum (its closest row: JIFF has no range proofs or checks to run).
      jiff1 = runJiff(1, 30);
      cluster = await startBulkCluster();
      // Warm each party (fixed-base tables are built on first use), as a running node would be.
      for (let i = 0; i < 3; i++) await weightedRisk();
    },
    teardown: stop,
  });
  ratio({
    label: 'agg.sum.5parties.1000inputs.http: back to back (no pads) vs JIFF',
    numerator: { name: 'agg.sum.5parties.1000inputs.http.no-pads', impl: 'http' },
    denominator: { name: 'agg.sum.5parties.1000inputs.http', impl: 'jiff' },
  });
  // The cluster of the pads row is kept for the back-to-back row, which stops it.
  add('agg.sum.5parties.1000inputs.http', 'http', bulkSum, {
    time: 0,
    iterations: 5,
    setup: async () => {
      jiff1000 = runJiff(1000, 3);
      cluster = await startBulkCluster();
      await bulkSum();
    },
    beforeEach: () => padsReady(cluster!),
  });
  add('agg.sum.5parties.1000inputs.http.no-pads', 'http', bulkSum, {
    time: 0,
    iterations: 5,
    // Alone (a name filter that skips the row above): a cluster of its own, warmed by one round.
    setup: async () => {
      if (cluster) return;
      cluster = await startBulkCluster();
      await bulkSum();
    },
    teardown: stop,
  });
}

/** Resolves once every party reports its dealing pads ready (`/healthz`), polling every 50 ms. */
async function padsReady(c: Cluster): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const health = await Promise.all(
      c.urls.map(async (url) => {
        const res = await fetch(new URL('/healthz', url));
        return (await res.json()) as { dealing_pads?: { ready: number; target: number }[] };
      }),
    );
    const pads = health.flatMap((h) => h.dealing_pads ?? []);
    if (pads.length === 0) throw new Error('the parties report no dealing pads for the bulk circuit');
    if (pads.every((p) => p.ready >= p.target)) return;
    if (Date.now() > deadline) throw new Error('dealing pads not ready within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
