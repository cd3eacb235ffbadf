/**
 * A small bounded load generator: `concurrency` workers call `request` back to back until the
 * time is up or `maxRequests` were started, recording each latency and outcome. No timing is
 * asserted anywhere; the figures are reported.
 */
import { readFileSync } from 'node:fs';

export interface LoadOutcome {
  status: number;
}

export interface LoadReport {
  started: number;
  elapsedMs: number;
  latenciesMs: number[];
  byStatus: Record<string, number>;
  /** Requests that threw (no HTTP answer). */
  errors: number;
}

export async function runLoad(opts: {
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  request: (n: number) => Promise<LoadOutcome>;
}): Promise<LoadReport> {
  const t0 = performance.now();
  const end = t0 + opts.durationMs;
  const report: LoadReport = { started: 0, elapsedMs: 0, latenciesMs: [], byStatus: {}, errors: 0 };
  const worker = async () => {
    while (performance.now() < end && report.started < opts.maxRequests) {
      const n = report.started++;
      const t = performance.now();
      try {
        const r = await opts.request(n);
        report.byStatus[r.status] = (report.byStatus[r.status] ?? 0) + 1;
      } catch {
        report.errors++;
      }
      report.latenciesMs.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  report.elapsedMs = performance.now() - t0;
  return report;
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Resident memory of a process in MiB (Linux `/proc/<pid>/status` VmRSS), 0 when gone. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
