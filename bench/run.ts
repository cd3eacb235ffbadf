/**
 * `npm run bench [-- <name-filter>...]`: runs every suite in `bench/suites/`, each row in its own
 * tinybench instance, and writes `bench/results/latest.json` (full runs) or
 * `bench/results/partial.json` (filtered runs). Ratios compare rows measured in this same run.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import type { AddRow, Impl, RatioSpec, Register, RowOptions } from './harness.js';

interface Row {
  name: string;
  impl: Impl;
  fn: () => unknown | Promise<unknown>;
  opts: RowOptions;
}

interface Result {
  name: string;
  impl: Impl;
  opsPerSec: number;
  unitsPerSec?: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const matches = (name: string) => filters.length === 0 || filters.some((f) => name.includes(f));

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const ratios: RatioSpec[] = [];
  const measured: { name: string; impl: Impl; collect: () => readonly number[] }[] = [];
  const suiteDir = join(here, 'suites');
  const files = readdirSync(suiteDir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  let failedSuites = 0;
  for (const file of files) {
    let mod: { register?: Register };
    try {
      mod = (await import(pathToFileURL(join(suiteDir, file)).href)) as { register?: Register };
    } catch (e) {
      failedSuites++;
      process.stderr.write(
        `suite ${file} failed to load, skipped: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      continue;
    }
    if (typeof mod.register !== 'function') continue;
    const suiteRows: Row[] = [];
    const add: AddRow = (name, impl, fn, opts = {}) => {
      suiteRows.push({ name, impl, fn, opts });
    };
    // Suites may take the context object or call it directly as `add(...)`.
    await mod.register(
      Object.assign(add, {
        add,
        ratio: (spec: RatioSpec) => void ratios.push(spec),
        measured: (name: string, impl: Impl, collect: () => readonly number[]) => {
          if (matches(name)) measured.push({ name, impl, collect });
        },
      }),
    );
    rows.push(...suiteRows.filter((r) => matches(r.name)));
  }
  const results: Result[] = [];
  for (const [i, row] of rows.entries()) {
    if (row.opts.setup) await row.opts.setup();
    const bench = new Bench({
      time: row.opts.time ?? 800,
      iterations: row.opts.iterations ?? 10,
      warmupIterations: 2,
      warmupTime: 50,
      throws: true,
    });
    const hook = row.opts.beforeEach;
    bench.add(row.name, row.fn, hook ? { beforeEach: async () => void (await hook()) } : {});
    try {
      await bench.run();
    } finally {
      if (row.opts.teardown) await row.opts.teardown();
    }
    const r = bench.tasks[0]!.result;
    if (!r || !('latency' in r)) throw new Error(`${row.name} (${row.impl}) produced no result`);
    const res: Result = {
      name: row.name,
      impl: row.impl,
      opsPerSec: round(r.throughput.mean),
      meanMs: round(r.latency.mean),
      p50Ms: round(r.latency.p50 ?? r.latency.mean),
      p99Ms: round(r.latency.p99 ?? r.latency.max),
      samples: r.latency.samples?.length ?? 0,
    };
    if (row.opts.unitsPerOp) res.unitsPerSec = round((row.opts.unitsPerOp * 1000) / r.latency.mean);
    results.push(res);
    process.stdout.write(
      `[${i + 1}/${rows.length}] ${res.name.padEnd(40)} ${res.impl.padEnd(12)} ${fmt(res.meanMs)} ms mean  ${fmt(res.p99Ms)} ms p99  ${fmt(res.opsPerSec)} ops/s\n`,
    );
  }
  for (const m of measured) {
    const xs = [...m.collect()].sort((a, b) => a - b);
    if (xs.length === 0) continue;
    const q = (p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const res: Result = {
      name: m.name,
      impl: m.impl,
      opsPerSec: round(1000 / mean),
      meanMs: round(mean),
      p50Ms: round(q(0.5)),
      p99Ms: round(q(0.99)),
      samples: xs.length,
    };
    results.push(res);
    process.stdout.write(
      `[measured] ${res.name.padEnd(36)} ${res.impl.padEnd(12)} ${fmt(res.p50Ms)} ms p50  ${fmt(res.p99Ms)} ms p99  (${xs.length} samples)\n`,
    );
  }
  const find = (s: { name: string; impl: Impl }) =>
    results.find((r) => r.name === s.name && r.impl === s.impl);
  const ratioResults = ratios
    .map((spec) => {
      const a = find(spec.numerator);
      const b = find(spec.denominator);
      if (!a || !b) return undefined;
      const ratio = round(a.meanMs / b.meanMs);
      return {
        label: spec.label,
        ratio,
        goal: spec.goal,
        met: spec.goal === undefined ? undefined : ratio <= spec.goal,
      };
    })
    .filter((x) => x !== undefined);
  for (const r of ratioResults) {
    const goal = r.goal === undefined ? '' : `  goal <= ${fmt(r.goal)} ${r.met ? 'MET' : 'NOT MET'}`;
    process.stdout.write(`ratio ${r.label.padEnd(60)} ${fmt(r.ratio)} (1/${fmt(1 / r.ratio)})${goal}\n`);
  }
  const out = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    filter: filters,
    durationSec: round((Date.now() - started) / 1000),
    results,
    ratios: ratioResults,
  };
  const dir = join(here, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, filters.length ? 'partial.json' : 'latest.json');
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`wrote ${file} (${results.length} rows in ${out.durationSec}s)\n`);
  if (failedSuites) throw new Error(`${failedSuites} suite(s) failed to load`);
}

function round(x: number): number {
  return Number(x.toPrecision(5));
}
function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
