/**
 * Each fault suite records its figures here: printed, written to
 * `test/fault/results/<suite>.<ci|soak>.json` (so a CI run never overwrites the soak figures), and
 * `docs/RELIABILITY.md` regenerated from every results file present.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReliabilityReport } from './reliability-report.js';
import { SEED, SOAK } from './settings.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS_DIR = join(ROOT, 'test', 'fault', 'results');

export interface Figure {
  name: string;
  value: number | string;
  unit?: string;
  /** The value the system must reach (e.g. 0 errors); absent for reported-only figures. */
  goal?: number | string;
}

export interface SuiteResult {
  suite: string;
  title: string;
  /** Order in the report. */
  order: number;
  command: string;
  mode: 'ci' | 'soak';
  seed: number;
  finished_at: string;
  figures: Figure[];
  notes: string[];
}

/** Write (atomically), print and fold into the report. */
export function recordResult(
  r: Omit<SuiteResult, 'mode' | 'seed' | 'finished_at' | 'notes'> & { notes?: string[] },
): SuiteResult {
  const full: SuiteResult = {
    ...r,
    notes: r.notes ?? [],
    mode: SOAK ? 'soak' : 'ci',
    seed: SEED,
    finished_at: new Date().toISOString(),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${r.suite}.${full.mode}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(full, null, 2)}\n`);
  renameSync(tmp, path);
  const lines = full.figures.map(
    (f) =>
      `  ${f.name}: ${f.value}${f.unit ? ` ${f.unit}` : ''}${f.goal !== undefined ? ` (goal ${f.goal})` : ''}`,
  );
  process.stdout.write(`\n[fault:${r.suite}] ${r.title}\n${lines.join('\n')}\n`);
  writeReliabilityReport(RESULTS_DIR, join(ROOT, 'docs', 'RELIABILITY.md'));
  return full;
}
