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

/** `--jobs` as given, or every core by default; `undefined` if it is no positive integer. */
export function jobsOf(value: string | boolean | undefined): number | undefined {
  const jobs = value === undefined ? availableParallelism() : Number(value);
  return Number.isSafeInteger(jobs) && jobs >= 1 ? jobs : undefined;
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
