/**
 * aaps-verify's command line (run by the `aaps-verify.ts` launcher). Only the modules of `cli/`
 * read files in this package; none touches the network.
 *
 *   aaps-verify BUNDLE|DIR|- [--key HEX|FILE] [--trusted-root FILE] [--checkpoint FILE]
 *               [--roster FILE] [--ciphersuite ID] [--jobs N] [--json]
 *
 * Exit 0: every bundle is valid. 1: a bundle is invalid (one line names the failed check).
 * 2: usage error or unreadable input (with a directory or `-`, any unreadable item: 2 takes
 * precedence over 1). With a directory or `-` (a stream of JSON bundles on stdin)
 * it verifies each, on `--jobs` threads (default: every core, `os.availableParallelism()`;
 * `--jobs 1` verifies in this thread), and ends with the count and the rate, reporting invalid and
 * unreadable bundles in input order. Across those bundles it also looks for a fork: a checkpoint of
 * an origin and size already seen with another root fails `log.consistency` (fork-watch.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import {
  type BundleReport,
  type BundleVerifierOptions,
  type ConsistencyProof,
  parseConsistencyProof,
} from '../bundle/verify.js';
import { parseCheckpoint, parseSignedNote } from '../checkpoint.js';
import { parseHex } from '../encoding.js';
import { parseJsonRefusingRepeats } from '../json-keys.js';
import { ED25519_SUITE, ed25519FromSpki, isSupportedCiphersuite, SECP256K1_TR_SUITE } from '../keys.js';
import { readRosterFile } from '../roster-file.js';
import { parseTrustedRoot, trustedRootOptions } from '../sigstore-export.js';
import { isObject, rosterErrors, type VerifierRoster } from '../statement.js';
import { knownPartyRoles, type PartyRoles } from '../transcript-authority.js';
import { commandLineProblem, HELP, jobsOf, MAX_JOBS, parseCommandLine } from './args.js';
import { ForkWatch, type SeenCheckpoint } from './fork-watch.js';
import { guardedOutput } from './guarded-output.js';
import {
  BundleFormatError,
  type BundleSource,
  bundleFormatReport,
  firstDataByte,
  InputError,
  parseBundleBytes,
  readBundleFile,
  readFailure,
  startsAsCborMap,
} from './input.js';
import { LazyVerifier } from './lazy-verifier.js';
import { mainVerifier } from './main-verifier.js';
import { type Outcome, setUpWorkers, verifyAll } from './verify-pool.js';
import { streamItemName, verifyStream } from './verify-stream.js';

interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stdout is gone (its reader went away): verifying more is then pointless. */
  closed?: () => boolean;
  /** Aborted once stdout is gone: ends a wait for stdin that may never be answered. */
  gone?: AbortSignal;
}

/** Whether `path` is a directory; `false` if it cannot be read (reported where it is read). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${readFailure(e)}`);
  }
}

/**
 * A JSON file given on the command line (trusted root, roster, JSON checkpoint): one that is not
 * JSON, or gives a key twice in one object (`JSON.parse` keeps the last, another reader of the
 * same file the first), is an `InputError` naming it.
 */
function readJson(path: string, what: string): unknown {
  return parseJsonText(readText(path, what), path, what);
}

function parseJsonText(text: string, path: string, what: string): unknown {
  const read = parseJsonRefusingRepeats(text);
  if ('notJson' in read) throw new InputError(`${what} ${path} is not JSON`);
  if ('repeated' in read) throw new InputError(`${what} ${path}: ${read.repeated.problem}`);
  return read.value;
}

/**
 * `--key`: hex inline, or a file holding hex or an Ed25519 PEM public key. An argument that is no
 * key and names no file is refused as such: hex of the wrong length, or neither hex nor a file.
 */
function parseKey(arg: string): Uint8Array {
  const inline = parseHex(arg.toLowerCase());
  if (inline !== undefined && (inline.length === 32 || inline.length === 33)) return inline;
  let text: string;
  try {
    text = readFileSync(arg, 'utf8').trim();
  } catch (e) {
    if (/^[0-9a-fA-F]+$/.test(arg)) {
      throw new InputError(
        `--key ${arg}: not a valid key: hex of the wrong length (${arg.length} hex digits; a group key is 64, or 66 for secp256k1-TR), and no file of that name`,
      );
    }
    if (readFailure(e) === 'ENOENT')
      throw new InputError(`--key ${arg}: not a valid key: not 32/33-byte hex, and no such file`);
    throw new InputError(`cannot read key file ${arg}: ${readFailure(e)}`);
  }
  const hex = parseHex(text.toLowerCase());
  if (hex !== undefined && (hex.length === 32 || hex.length === 33)) return hex;
  const pem = /^-----BEGIN PUBLIC KEY-----([\s\S]+)-----END PUBLIC KEY-----$/.exec(text);
  const raw = pem
    ? ed25519FromSpki(new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64')))
    : undefined;
  if (raw === undefined)
    throw new InputError(`--key ${arg}: expected 32/33-byte hex or an Ed25519 PEM public key`);
  return raw;
}

/**
 * `--roster`: the roster of the signed predicate, `{parties, approvers, gateway_key, gateway_id?}`,
 * or the system's `roster.json`, `{parties, approvers, gateway: {id, identity_key}, ...}`, read as
 * the party reads it (`readRosterFile`: the ids and identity keys are the roster; its threshold,
 * suite and party URLs are not the verifier's to check). A roster.json's party roles (those the
 * evidence rules know) are kept beside it: they say which role's outputs each party may sign
 * (`transcript.authority`); a predicate's roster names none. A malformed one is refused naming
 * its fields as the file spells them.
 */
function parseRosterFile(value: unknown, file: string): { roster: VerifierRoster; roles?: PartyRoles } {
  const malformed = (fields: string[]) => new InputError(`roster ${file}: malformed ${fields.join(', ')}`);
  if (!isObject(value) || value.gateway_key !== undefined) {
    const errors = rosterErrors(value, 'roster');
    if (errors.length > 0) throw malformed(errors);
    return { roster: value as unknown as VerifierRoster };
  }
  if (value.gateway === undefined) {
    throw new InputError(
      `roster ${file}: malformed roster: neither gateway_key (a predicate's roster) nor gateway (a roster.json)`,
    );
  }
  const read = readRosterFile(value);
  if (!read.ok) throw malformed(read.problems.map((p) => `roster.${p.field}`));
  // Roles the evidence rules know; any other (maintenance, or none) leaves the party's role unknown.
  const roles = knownPartyRoles(value.parties as unknown[]);
  return roles === undefined ? { roster: read.roster } : { roster: read.roster, roles };
}

function buildOptions(values: Record<string, string | boolean | undefined>): BundleVerifierOptions {
  const trusted = typeof values['trusted-root'] === 'string' ? values['trusted-root'] : undefined;
  const keyArg = typeof values.key === 'string' ? values.key : undefined;
  if (trusted === undefined && keyArg === undefined) {
    throw new InputError(
      'a trusted group key is required: --key or --trusted-root (the bundle never vouches for itself)',
    );
  }
  const suiteArg = typeof values.ciphersuite === 'string' ? values.ciphersuite : undefined;
  if (suiteArg !== undefined && !isSupportedCiphersuite(suiteArg))
    throw new InputError(`--ciphersuite: unknown ${suiteArg}`);
  let options: BundleVerifierOptions | undefined;
  if (trusted !== undefined) {
    let keys: ReturnType<typeof parseTrustedRoot>;
    try {
      keys = parseTrustedRoot(readJson(trusted, 'trusted root'));
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`trusted root ${trusted}: ${(e as Error).message}`);
    }
    options = trustedRootOptions(keys);
    if (suiteArg !== undefined && suiteArg !== keys.ciphersuite) {
      throw new InputError(
        `--ciphersuite ${suiteArg} differs from the trusted root's ciphersuite ${keys.ciphersuite}`,
      );
    }
  }
  if (keyArg !== undefined) {
    const key = parseKey(keyArg);
    if (
      options !== undefined &&
      Buffer.compare(Buffer.from(key), Buffer.from(options.groupPublicKey)) !== 0
    ) {
      throw new InputError('--key and --trusted-root name different group keys');
    }
    // With a trusted root its suite stands (`--ciphersuite`, if given, was checked against it).
    options ??= {
      groupPublicKey: key,
      ciphersuite: suiteArg ?? (key.length === 33 ? SECP256K1_TR_SUITE : ED25519_SUITE),
    };
  }
  if (typeof values.roster === 'string') {
    const { roster, roles } = parseRosterFile(readJson(values.roster, 'roster'), values.roster);
    options!.roster = roster;
    // The roles go with the roster they name: a trusted root's give way to this file's (or none).
    if (roles !== undefined) options!.partyRoles = roles;
    else delete options!.partyRoles;
  }
  if (typeof values.checkpoint === 'string') {
    const text = readText(values.checkpoint, 'checkpoint');
    if (text.trimStart().startsWith('{')) {
      const parsed = parseJsonText(text, values.checkpoint, 'checkpoint') as {
        checkpoint?: unknown;
        consistency?: unknown;
      };
      if (typeof parsed.checkpoint !== 'string')
        throw new InputError('checkpoint JSON needs a "checkpoint" note');
      // One proof, or a list of them: one per checkpoint size among the bundles.
      const given = parsed.consistency;
      const list = given === undefined ? [] : Array.isArray(given) ? given : [given];
      const proofs = list.map(parseConsistencyProof);
      if (proofs.some((p) => p === undefined) || (Array.isArray(given) && given.length === 0)) {
        throw new InputError(
          'checkpoint JSON: "consistency" must be {first, second, hashes:[hex]} or a non-empty list of them',
        );
      }
      options!.priorCheckpoint =
        given === undefined
          ? { note: parsed.checkpoint }
          : { note: parsed.checkpoint, consistencyProofs: proofs as ConsistencyProof[] };
    } else {
      options!.priorCheckpoint = { note: text };
    }
    // Its form now, so a file that is no checkpoint note is a usage error, not a failure of every
    // bundle; its signature is checked with each bundle's checkpoint, under the same keys.
    try {
      parseCheckpoint(parseSignedNote(options!.priorCheckpoint.note).text);
    } catch (e) {
      throw new InputError(
        `checkpoint ${values.checkpoint} is not a signed checkpoint note: ${(e as Error).message}`,
      );
    }
  }
  return options!;
}

/**
 * The `*.json` and `*.cbor` entries of a directory, by name. Only regular files (or links to them)
 * are read: any other entry (a FIFO would block the run, a device or a directory) is reported
 * unreadable without being opened.
 */
function listBundles(dir: string): BundleSource[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.name.endsWith('.json') || d.name.endsWith('.cbor'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((d): BundleSource => {
      const name = d.name;
      const path = join(dir, name);
      if (d.isFile()) return { name, path };
      if (!d.isSymbolicLink()) return { name, error: 'not a regular file' };
      try {
        return statSync(path).isFile() ? { name, path } : { name, error: 'not a regular file' };
      } catch (e) {
        return { name, error: `cannot read: ${readFailure(e)}` };
      }
    });
}

/**
 * `valid: incident/<id> (log index N), outcome: <state>`: the outcome is the incident's ending as
 * the signed Statement states it (`resolved`, `rejected`, `failed`, `rolled_back`), or `not stated`, so a valid
 * bundle of a rejected incident does not read like one of a resolved incident.
 */
function describeValid(report: BundleReport): string {
  const where = report.logIndex === undefined ? '' : ` (log index ${report.logIndex})`;
  const { outcome } = report;
  // A word as it is; anything else (a status the transcript's last result named) quoted as JSON.
  const said =
    outcome === undefined ? 'not stated' : /^[a-z_-]+$/.test(outcome) ? outcome : JSON.stringify(outcome);
  return `valid: incident/${report.incidentId}${where}, outcome: ${said}`;
}

function describeInvalid(report: BundleReport): string {
  return `invalid: ${report.failure!.check}: ${report.failure!.message}`;
}

interface Tally {
  count: number;
  valid: number;
  invalid: number;
  unreadable: number;
}

/** Count and print one outcome; `null` is a valid bundle whose report was not asked for. */
function record(outcome: Outcome | null, json: boolean, io: Output, tally: Tally): void {
  tally.count++;
  if (outcome === null) {
    tally.valid++;
    return;
  }
  if ('unreadable' in outcome) {
    tally.unreadable++;
    if (json) io.out(unreadableJson(outcome.name, outcome.unreadable));
    else io.out(`${outcome.name}: unreadable: ${outcome.unreadable}`);
    return;
  }
  const { report } = outcome;
  if (report.valid) tally.valid++;
  else tally.invalid++;
  if (json) io.out(JSON.stringify({ bundle: outcome.name, ...report }));
  else if (!report.valid) io.out(`${outcome.name}: ${describeInvalid(report)}`);
}

/** An unreadable bundle's `--json` line: `valid: false` too, so `select(.valid == false)` finds it. */
function unreadableJson(name: string, error: string): string {
  return JSON.stringify({ bundle: name, readable: false, valid: false, error });
}

/** The last line of a run over `DIR` or `-`: `N bundles: V valid, I invalid[, U unreadable] in S s (R bundles/s)`. */
function summary(tally: Tally, seconds: number, json: boolean): string {
  const rate = seconds > 0 ? Math.round(tally.count / seconds) : tally.count;
  if (json) return JSON.stringify({ summary: { ...tally, seconds: Number(seconds.toFixed(3)), rate } });
  const unreadable = tally.unreadable > 0 ? `, ${tally.unreadable} unreadable` : '';
  const noun = tally.count === 1 ? 'bundle' : 'bundles';
  return `${tally.count} ${noun}: ${tally.valid} valid, ${tally.invalid} invalid${unreadable} in ${seconds.toFixed(3)} s (${rate} bundles/s)`;
}

/**
 * 2 when any item was unreadable (it may have been invalid too: nobody knows), else 1 when any
 * bundle is invalid, else 0. So 2 takes precedence over 1: a script must treat any non-zero as
 * "not all valid", and read the lines (or `--json`) for the invalid ones.
 */
function exitCode(tally: Tally): number {
  return tally.unreadable > 0 ? 2 : tally.invalid > 0 ? 1 : 0;
}

/** A bad command line, as one line on stderr: the problem and where the usage is. */
function usageError(problem: string): string {
  return `aaps-verify: ${problem.replace(/\s*\n\s*/g, ' ')} (aaps-verify --help shows usage)`;
}

/**
 * Run the CLI; returns the exit code. `stdin` is read only for the `-` argument. `prestarted`:
 * verify workers the launcher spawned (not yet set up); those not used are left to the caller.
 */
export async function main(
  argv: string[],
  io: Output,
  stdin: () => AsyncIterable<Uint8Array>,
  prestarted: readonly Worker[] = [],
): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    io.err(usageError(commandLineProblem(e)));
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(
      usageError(
        positionals.length === 0
          ? 'expected one BUNDLE, DIR or -'
          : `expected one BUNDLE, DIR or -, got ${positionals.length}`,
      ),
    );
    return 2;
  }
  const json = values.json === true;
  const target = positionals[0]!;
  const jobs = jobsOf(values.jobs);
  if (jobs === undefined) {
    io.err(usageError(`--jobs must be an integer from 1 to ${MAX_JOBS}`));
    return 2;
  }
  let options: BundleVerifierOptions;
  let lazy: LazyVerifier;
  try {
    options = buildOptions(values as Record<string, string | boolean | undefined>);
    // Built now so that bad options are a usage error before any input is read.
    lazy = new LazyVerifier(options);
  } catch (e) {
    io.err(`aaps-verify: ${(e as Error).message}`);
    return 2;
  }

  /** A single BUNDLE that cannot be read: one line on stderr, and with `--json` its JSON line. */
  const unreadableFile = (error: string, line: string): number => {
    if (json) io.out(unreadableJson(target, error));
    io.err(`aaps-verify: ${line}`);
    return 2;
  };
  const cannotRead = (e: unknown): number =>
    unreadableFile(`cannot read: ${readFailure(e)}`, `cannot read ${target}: ${readFailure(e)}`);
  const detail = json ? 'full' : 'brief';
  // A directory or a stream: this thread's verifier has the re-check from the start, loaded before
  // the clock starts, as the rest of the verifier is.
  const verifier = target === '-' || isDirectory(target) ? await mainVerifier(options) : undefined;
  const clock = performance.now();
  const tally: Tally = { count: 0, valid: 0, invalid: 0, unreadable: 0 };
  const forks = new ForkWatch();
  /** Record each outcome in input order, once the fork watch has seen its checkpoint. */
  const emitNamed =
    (nameAt: (index: number) => string) => (o: Outcome | null, index: number, checkpoint?: SeenCheckpoint) =>
      record(checkpoint === undefined ? o : forks.judge(o, nameAt(index), checkpoint), json, io, tally);
  const finish = (): number => {
    io.out(summary(tally, (performance.now() - clock) / 1000, json));
    return exitCode(tally);
  };
  /** Workers the launcher started, as many as may be used, set up now: they load while input is found. */
  const enlisted = (wanted: number): Worker[] => {
    const started = prestarted.slice(0, Math.max(0, wanted));
    setUpWorkers(started, { options, detail });
    return started;
  };
  const pool = () => ({ jobs, detail, verifier: verifier!, stop: () => io.closed?.() === true }) as const;
  if (target === '-') {
    // A stream is read, split and handed out by this thread, and verified by `jobs` workers.
    const started = enlisted(jobs > 1 ? jobs : 0);
    const emit = emitNamed((index) => streamItemName(index + 1));
    const end = await verifyStream(options, jsonOnly(stdin()), emit, {
      ...pool(),
      started,
      ...(io.gone === undefined ? {} : { signal: io.gone }),
    });
    if (end.readError !== undefined) {
      if (tally.count > 0) finish();
      const e = end.readError;
      io.err(`aaps-verify: ${e instanceof InputError ? e.message : `cannot read stdin: ${readFailure(e)}`}`);
      return 2;
    }
    if (end.count === 0) {
      io.err('aaps-verify: no bundles in stdin');
      return 2;
    }
    return finish();
  }
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch (e) {
    return cannotRead(e);
  }
  if (isDir) {
    const files = listBundles(target);
    if (files.length === 0) {
      io.err(`aaps-verify: no bundles in ${target} (no .json or .cbor files)`);
      return 2;
    }
    // This thread verifies too, between handing out batches to `jobs - 1` workers.
    const started = enlisted(jobs - 1);
    const emit = emitNamed((index) => files[index]!.name);
    await verifyAll(options, { count: files.length, read: (i) => files[i]! }, emit, {
      ...pool(),
      started,
    });
    return finish();
  }

  let value: unknown;
  let refused: BundleFormatError | undefined;
  let bytes: Uint8Array;
  try {
    bytes = readBundleFile(target);
  } catch (e) {
    if (e instanceof InputError) return unreadableFile(e.message, `${target}: ${e.message}`);
    return cannotRead(e);
  }
  try {
    value = parseBundleBytes(bytes);
  } catch (e) {
    if (e instanceof InputError) return unreadableFile(e.message, `${target}: ${e.message}`);
    if (!(e instanceof BundleFormatError)) throw e;
    refused = e;
  }
  const report =
    refused === undefined ? await lazy.with((v) => v.verifier.report(value)) : bundleFormatReport(refused);
  if (json) io.out(JSON.stringify(report, null, 2));
  else io.out(report.valid ? describeValid(report) : describeInvalid(report));
  return report.valid ? 0 : 1;
}

/**
 * `chunks` as they come, once its first data byte says it is no CBOR: stdin takes JSON bundles
 * only, and CBOR there ends the run with {@link InputError} before anything is verified.
 */
async function* jsonOnly(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let checked = false;
  for await (const chunk of chunks) {
    if (!checked && firstDataByte(chunk) !== undefined) {
      if (startsAsCborMap(chunk))
        throw new InputError(
          'stdin looks like CBOR: stdin takes JSON bundles only; give a CBOR bundle as a file',
        );
      checked = true;
    }
    yield chunk;
  }
}

/** Where {@link runCli} writes and reads: the process's streams unless a test gives others. */
export interface CliStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: () => AsyncIterable<Uint8Array>;
}

/**
 * The process's CLI run: stdout and stderr, stdin on demand; every prestarted worker is stopped at
 * the end, used or not. Returns the exit code.
 *
 * A write error on stdout (EPIPE: `aaps-verify - ... | head -1` once `head` has its line) ends
 * the output quietly, as an interrupt would: nothing more is written, no more input is awaited
 * (a silent writer on stdin does not keep the run up), no more bundles are handed out between batches (`--jobs 1` verifies in one synchronous loop, which just writes nothing), and the exit code is that of the bundles verified so far (no summary line is printed).
 * Any other write error on stdout (ENOSPC, EIO) ends it the same way, then says so in one line
 * on stderr, `aaps-verify: cannot write to stdout: ENOSPC`, and exits 2: the report is lost.
 * Errors on stderr are ignored. No stack trace is ever printed.
 */
export async function runCli(
  argv: string[],
  prestarted: readonly Worker[] = [],
  streams: CliStreams = { stdout: process.stdout, stderr: process.stderr, stdin: () => process.stdin },
): Promise<number> {
  const guarded = guardedOutput(streams.stdout, streams.stderr);
  const io: Output = {
    out: guarded.print,
    err: guarded.error,
    closed: () => guarded.gone.aborted,
    gone: guarded.gone,
  };
  let input: AsyncIterable<Uint8Array> | undefined;
  const stdin = () => {
    input ??= streams.stdin();
    return input;
  };
  try {
    const code = await main(argv, io, stdin, prestarted);
    await guarded.flush();
    const failure = guarded.failure();
    if (failure === undefined) return code;
    // The report is lost (ENOSPC, EIO; a reader that left is no failure): as unreadable input,
    // whatever the bundles were, so `aaps-verify b --json > r.json && archive r.json` stops.
    io.err(`aaps-verify: cannot write to stdout: ${failure}`);
    return 2;
  } catch (e) {
    io.err(`aaps-verify: ${(e as Error)?.message ?? String(e)}`);
    return 2;
  } finally {
    await Promise.all(prestarted.map((w) => w.terminate()));
    // A read left pending (output gone while the writer was silent) must not keep the process up.
    if (input instanceof Readable) input.destroy();
  }
}
