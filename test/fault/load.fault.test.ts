/**
 * Load: concurrent incident submissions to `aaps up` (gateway plus five party processes) on
 * loopback for a fixed time, bounded in count. Reported: submission throughput, p50/p99 latency,
 * time from received to settled, memory of every process before and after. Asserted: no errors,
 * and count in = count out (every accepted incident ends with evidence or waits for a human).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AapsProcess,
  gatewayApi,
  type IncidentView,
  killAllAaps,
  startAaps,
  TERMINAL_STATES,
  WAITING_STATES,
  waitSettled,
} from '../helpers/aaps.js';
import { incidentSignal } from '../helpers/incidents.js';
import { quantile, rssMiB, runLoad } from '../helpers/load.js';
import { recordResult } from '../helpers/results.js';
import { reproduce, scaled } from '../helpers/settings.js';

const CONCURRENCY = scaled(8, 32);
const DURATION_MS = scaled(10_000, 120_000);
const MAX_REQUESTS = scaled(150, 4_000);

let dir: string;
let up: AapsProcess;

const memory = () => {
  const gateway = rssMiB(up.pid);
  const parties = up.childPids.map(rssMiB);
  return { gateway, parties, total: gateway + parties.reduce((a, b) => a + b, 0) };
};
const mib = (n: number) => Math.round(n * 10) / 10;

describe('load on aaps up', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-fault-load-'));
    up = await startAaps({ command: 'up', dataDir: join(dir, 'data'), port: await freePort() });
  }, 120_000);

  afterAll(async () => {
    await killAllAaps();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    `${CONCURRENCY} concurrent submitters for ${DURATION_MS / 1000} s: no errors, count in = count out`,
    async () => {
      const api = gatewayApi(up.url, up.token);
      // Warm up (JIT, commitment pools, first log entries), then take the baseline.
      const warm: string[] = [];
      for (let i = 0; i < 5; i++)
        warm.push(
          (await api.post<{ incident_id: string }>('/v1/incidents', incidentSignal('image', 'warm'))).body
            .incident_id,
        );
      await waitSettled(api, warm, 60_000, { evidence: true });
      const before = memory();

      const accepted: string[] = [];
      const report = await runLoad({
        concurrency: CONCURRENCY,
        durationMs: DURATION_MS,
        maxRequests: MAX_REQUESTS,
        request: async (n) => {
          const r = await api.post<{ incident_id: string }>(
            '/v1/incidents',
            incidentSignal(n % 2 ? 'config' : 'image', 'load'),
          );
          if (r.status === 202) accepted.push(r.body.incident_id);
          return { status: r.status };
        },
      });
      const duringPeak = memory();
      const drainStart = performance.now();
      const settled = await waitSettled(api, accepted, 60_000 + accepted.length * 1_000, { evidence: true });
      const drainMs = performance.now() - drainStart;
      const after = memory();

      let out = 0;
      let waiting = 0;
      const states: Record<string, number> = {};
      const e2e: number[] = [];
      for (const id of accepted) {
        const inc: IncidentView | undefined = settled.get(id);
        if (!inc) continue;
        states[inc.state] = (states[inc.state] ?? 0) + 1;
        if (TERMINAL_STATES.has(inc.state) && inc.evidence_id) out++;
        if (WAITING_STATES.has(inc.state)) waiting++;
        const times = (inc.timeline ?? []).map((t) => Date.parse((t as { at?: string }).at ?? ''));
        if (times.length > 1) e2e.push(Math.max(...times) - Math.min(...times));
      }
      const non2xx = Object.entries(report.byStatus)
        .filter(([s]) => Number(s) < 200 || Number(s) >= 300)
        .reduce((a, [, n]) => a + n, 0);
      const totalElapsedS = (report.elapsedMs + drainMs) / 1000;

      recordResult({
        suite: 'load',
        order: 7,
        title: 'Load',
        command: reproduce('test/fault/load.fault.test.ts'),
        figures: [
          {
            name: 'concurrent submitters / time limit / request cap',
            value: `${CONCURRENCY} / ${DURATION_MS / 1000} s / ${MAX_REQUESTS}`,
          },
          { name: 'submissions sent', value: report.started },
          { name: 'submission phase', value: Math.round(report.elapsedMs), unit: 'ms' },
          {
            name: 'submission throughput',
            value: Math.round((report.started / report.elapsedMs) * 10_000) / 10,
            unit: 'req/s',
          },
          {
            name: 'submission latency p50',
            value: Math.round(quantile(report.latenciesMs, 0.5) * 10) / 10,
            unit: 'ms',
          },
          {
            name: 'submission latency p99',
            value: Math.round(quantile(report.latenciesMs, 0.99) * 10) / 10,
            unit: 'ms',
          },
          { name: 'answers by status', value: JSON.stringify(report.byStatus) },
          { name: 'errors (no answer or non-2xx)', value: report.errors + non2xx, goal: 0 },
          { name: 'incidents in (202)', value: accepted.length },
          { name: 'incidents out (ended with evidence, or waiting for a human)', value: out + waiting },
          { name: 'count in minus count out', value: accepted.length - (out + waiting), goal: 0 },
          { name: 'final states', value: JSON.stringify(states) },
          { name: 'drain after the last submission', value: Math.round(drainMs), unit: 'ms' },
          {
            name: 'completed incidents per second (submission + drain)',
            value: Math.round(((out + waiting) / totalElapsedS) * 10) / 10,
            unit: '/s',
          },
          { name: 'received to settled p50', value: quantile(e2e, 0.5), unit: 'ms' },
          { name: 'received to settled p99', value: quantile(e2e, 0.99), unit: 'ms' },
          {
            name: 'RSS gateway before / end of load / after drain',
            value: `${mib(before.gateway)} / ${mib(duringPeak.gateway)} / ${mib(after.gateway)}`,
            unit: 'MiB',
          },
          {
            name: 'RSS all processes before / end of load / after drain',
            value: `${mib(before.total)} / ${mib(duringPeak.total)} / ${mib(after.total)}`,
            unit: 'MiB',
          },
          {
            name: 'RSS growth, all processes, before to after drain',
            value: mib(after.total - before.total),
            unit: 'MiB',
          },
        ],
        notes: [
          'Submissions are unsigned IncidentSignal envelopes (the gateway re-signs them), alternating an image pull failure and a missing ConfigMap key, each about its own workload; both are fixed without a human.',
          'Latency and memory figures are reported, not asserted; they depend on the machine (CI: 2 cores shared by the gateway, five parties and the load generator).',
        ],
      });

      expect(report.errors + non2xx).toBe(0);
      expect(accepted.length).toBe(report.started);
      expect(out + waiting).toBe(accepted.length);
    },
    scaled(240_000, 1_200_000),
  );
});
