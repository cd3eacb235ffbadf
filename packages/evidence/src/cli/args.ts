/**
 * aaps-verify's command line, as `node:util` `parseArgs` reads it. Node built-ins only: the
 * launcher parses it before the verifier's modules load.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

export const USAGE =
  'usage: aaps-verify BUNDLE|DIR|- [--key HEX|FILE] [--trusted-root FILE] [--checkpoint FILE] [--roster FILE] [--ciphersuite ID] [--jobs N] [--json]';

const OPTIONS = {
  key: { type: 'string' },
  'trusted-root': { type: 'string' },
  checkpoint: { type: 'string' },
  roster: { type: 'string' },
  ciphersuite: { type: 'string' },
  jobs: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The arguments as parsed (throws on an unknown option or a missing value). */
export function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

/**
 * The most threads `--jobs` may ask for: 4 per core, and at least 64. Each thread is a worker with
 * its own V8 heap, so an unbounded count could exhaust memory before the first bundle.
 */
export const MAX_JOBS = Math.max(64, 4 * availableParallelism());

/**
 * `--jobs` as given, or every core by default (at most {@link MAX_JOBS}); `undefined` if it is no
 * integer from 1 to `MAX_JOBS`.
 */
export function jobsOf(value: string | boolean | undefined): number | undefined {
  const jobs = value === undefined ? availableParallelism() : Number(value);
  return Number.isSafeInteger(jobs) && jobs >= 1 && jobs <= MAX_JOBS ? jobs : undefined;
}

/**
 * How many workers the launcher starts before the verifier loads: `jobs - 1` for a stream or a
 * directory with valid `--jobs` (never more than `MAX_JOBS - 1`), else none (a usage error is
 * then verify-main's to report).
 */
export function prestartCount(argv: string[]): number {
  try {
    const { values, positionals } = parseCommandLine(argv);
    const jobs = jobsOf(values.jobs);
    if (values.help || positionals.length !== 1 || jobs === undefined || jobs < 2) return 0;
    return isManyTarget(positionals[0]!) ? jobs - 1 : 0;
  } catch {
    return 0;
  }
}

/** Whether `target` names many bundles: `-` (a stream on stdin) or a directory. */
export function isManyTarget(target: string): boolean {
  if (target === '-') return true;
  try {
    return statSync(target).isDirectory();
  } catch {
    return false;
  }
}
