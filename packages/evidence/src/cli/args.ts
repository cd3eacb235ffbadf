/**
 * aaps-verify's command line, as `node:util` `parseArgs` reads it. Node built-ins only: the
 * launcher parses it before the verifier's modules load.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

export const USAGE =
  'usage: aaps-verify BUNDLE|DIR|- [--key HEX|FILE] [--trusted-root FILE] [--checkpoint FILE] [--roster FILE] [--ciphersuite ID] [--jobs N] [--json]';

/** What `--help` prints: the usage, each flag in one line, and the exit codes. */
export const HELP = `${USAGE}

Verifies AAPS evidence bundles offline (no network). BUNDLE: a JSON or CBOR bundle file.
DIR: every *.json and *.cbor in it. -: JSON bundles on stdin (NDJSON or concatenated; CBOR only as a file).
A trusted group key is required: --key or --trusted-root (the bundle never vouches for itself).
For DIR and -, a bundle whose checkpoint has the origin and tree size of an earlier one's but another
root fails log.consistency, naming both (a fork).

  --key HEX|FILE        the group key: 64 hex digits (66 for secp256k1-TR), or a file with hex or an Ed25519 PEM public key
  --trusted-root FILE   a trusted_root.json (GET /v1/trusted-root): group key, suite, threshold, log key and origin, roster
  --checkpoint FILE     an earlier checkpoint (signed note, or JSON {checkpoint, consistency}): the log must extend it
  --roster FILE         a roster to trust instead of the signed predicate's (roster.json, or a predicate's roster)
  --ciphersuite ID      the suite of --key: FROST-ED25519-SHA512-v1 (default) or FROST-secp256k1-SHA256-TR-v1
  --jobs N              threads for DIR and - (default: every core; 1: this thread only)
  --json                every check's result as JSON; for DIR and - one line per bundle, then a summary
  -h, --help            this text

Exit codes:
  0  every bundle is valid
  1  a bundle is invalid (its line names the failed check) and none was unreadable
  2  usage error or unreadable input; for DIR and - also when any item is unreadable, even if others
     are invalid (so test for non-zero, not for 1); also when stdout cannot be written (ENOSPC, EIO)`;

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
 * What was wrong with the command line, as one line, from the error {@link parseCommandLine}
 * threw: Node's parseArgs explains a missing value over three lines, and adds advice on `--` to
 * an unknown option.
 */
export function commandLineProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const ambiguous = /^Option '(-[^' ]+)' argument is ambiguous/.exec(message);
  if (ambiguous)
    return `${ambiguous[1]} needs a value, and the flag after it is none (a value starting with a dash is given as ${ambiguous[1]}=-VALUE)`;
  const missing = /^Option '(-[^' ]+) <value>' argument missing/.exec(message);
  if (missing) return `${missing[1]} needs a value`;
  return (message.split('\n')[0] ?? '').replace(/\. To specify a positional argument.*$/, '');
}

/**
 * The most threads `--jobs` may ask for: 4 per core, and at least 64. Each thread is a worker with
 * its own V8 heap, so an unbounded count could exhaust memory before the first bundle.
 */
export const MAX_JOBS = Math.max(64, 4 * availableParallelism());

/**
 * `--jobs` as given, or every core by default (at most {@link MAX_JOBS}); `undefined` if it is no
 * decimal integer (digits only, no leading zero) from 1 to `MAX_JOBS`.
 */
export function jobsOf(value: string | boolean | undefined): number | undefined {
  if (value !== undefined && (typeof value !== 'string' || !/^[1-9][0-9]{0,5}$/.test(value)))
    return undefined;
  // Decimal digits only: Number() would also read `1e1`, `0x2` and ` 2`.
  const jobs = value === undefined ? availableParallelism() : Number(value);
  return jobs >= 1 && jobs <= MAX_JOBS ? jobs : undefined;
}

/**
 * How many workers the launcher starts before the verifier loads, for a valid `--jobs` of 2 or
 * more: `jobs` for a stream on stdin (that thread only reads and hands out), `jobs - 1` for a
 * directory (the main thread verifies too); none otherwise (a usage error is then verify-main's to
 * report). Never more than `MAX_JOBS`.
 */
export function prestartCount(argv: string[]): number {
  try {
    const { values, positionals } = parseCommandLine(argv);
    const jobs = jobsOf(values.jobs);
    if (values.help || positionals.length !== 1 || jobs === undefined || jobs < 2) return 0;
    const target = positionals[0]!;
    if (target === '-') return jobs;
    return isDirectory(target) ? jobs - 1 : 0;
  } catch {
    return 0;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
