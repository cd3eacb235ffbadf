/**
 * `aaps log audit`: check the running gateway's transparency log as an auditor would, without
 * trusting the gateway. It reads the latest checkpoint and checks its k-of-n signature and origin
 * against a trusted root the auditor holds (`--trusted-root FILE`, else the one pinned at
 * `<data-dir>/audit/trusted_root.json`; with neither it refuses, a usage error: an audit against
 * the keys the audited gateway serves passes a gateway that lies about its keys;
 * `--trust-served-root` takes the served ones by name, with a warning); walks every entry up to
 * the checkpoint's size (`GET /v1/log/entries`), checks each one's leaf hash and evidence id, and
 * hashes them into the tree, whose root must be the checkpoint's (a `MerkleFrontier`: memory that
 * grows with the log2 of the log's size, not with its size); and, given a checkpoint kept from an
 * earlier audit (`--checkpoint`), checks that the log still holds it: the same root at its size
 * (anything else is a fork or a rewrite). `--save FILE` keeps the new checkpoint for the next
 * audit. Its files are checked before the gateway is asked: a trusted root that is missing or none,
 * a `--checkpoint` that is no checkpoint note, or a `--save` that cannot be written, is a usage
 * error. A log with no checkpoint yet (a fresh system) is said to be empty, exit 0, unless a
 * checkpoint was kept.
 *
 * Exit codes as every client command: 0 the log checks out (or is empty), 1 it does not (one line
 * saying where) or the gateway cannot be read, 2 usage.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileDurably } from '@aaps/agents';
import {
  evidenceIdOfLeaf,
  hashLeaf,
  MerkleFrontier,
  type NoteKey,
  openCheckpoint,
  parseCheckpoint,
  parseJsonRefusingRepeats,
  parseSignedNote,
  parseTrustedRoot,
  type SignedCheckpoint,
} from '@aaps/evidence';
import { bytesToHex } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { readJson } from './answer.js';
import { takeOwnFlags } from './own-flags.js';
import { printError, reach, type SubmitIo } from './submit.js';
import { printable } from './terminal-text.js';
import { checkTrustedRootFile } from './trusted-root-file.js';
import { UsageError } from './usage-error.js';

/** Entries asked for at a time (the gateway's page limit). */
const PAGE = 1000;
/** A progress line every this many entries, for a long walk. */
const PROGRESS_EVERY = 10_000;

export interface LogAuditFlags {
  /** A `trusted_root.json` of the auditor's own; else the one pinned in the data directory. */
  readonly trustedRoot?: string;
  /**
   * `--trust-served-root`: the gateway's own `GET /v1/trusted-root` is taken (a gateway that lies
   * about its keys then passes), with a warning. Refused with `trustedRoot`.
   */
  readonly trustServedRoot?: boolean;
  /** A checkpoint (signed note) kept from an earlier audit. */
  readonly checkpoint?: string;
  /** Where to keep this audit's checkpoint. */
  readonly save?: string;
}

/** `aaps log audit`'s own flags; the rest is for the config parser. */
export function takeLogAuditFlags(argv: readonly string[]): { rest: string[]; flags: LogAuditFlags } {
  let f: ReturnType<typeof takeOwnFlags>;
  try {
    f = takeOwnFlags(argv, {
      switches: ['trust-served-root'],
      values: ['trusted-root', 'checkpoint', 'save'],
    });
  } catch (e) {
    throw new UsageError(`log audit: ${e instanceof Error ? e.message : String(e)}`);
  }
  const flags: { trustedRoot?: string; trustServedRoot?: boolean; checkpoint?: string; save?: string } = {};
  const root = f.values.get('trusted-root');
  const kept = f.values.get('checkpoint');
  const save = f.values.get('save');
  if (root !== undefined) flags.trustedRoot = root;
  if (f.switches.has('trust-served-root')) flags.trustServedRoot = true;
  if (kept !== undefined) flags.checkpoint = kept;
  if (save !== undefined) flags.save = save;
  return { rest: f.rest, flags };
}

/** `1 entry`, `2 entries`. */
const nEntries = (n: number) => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** An audit's failing finding: one line, exit 1. */
class AuditFailure extends Error {}

/** A gateway answer that is no success, with its status. */
class GetFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Get = (path: string, text?: boolean) => Promise<unknown>;

/** The log's size as `GET /v1/log/entries` answers it (a number, or the answer is refused). */
async function logSize(get: Get, from: number): Promise<number | undefined> {
  const page = (await get(`/v1/log/entries?start=${from}&count=1`)) as { log_size?: unknown } | null;
  return typeof page?.log_size === 'number' ? page.log_size : undefined;
}

/**
 * The latest signed checkpoint, or `undefined` when the log has none yet: the gateway answers the
 * checkpoint 404 and its entries route answers (so the 404 is the log's, not a wrong URL's).
 */
async function latestCheckpoint(get: Get): Promise<string | undefined> {
  try {
    return (await get('/v1/log/checkpoint', true)) as string;
  } catch (e) {
    if (!(e instanceof GetFailure) || e.status !== 404) throw e;
    if ((await logSize(get, 0).catch(() => undefined)) === undefined) throw e;
    return undefined;
  }
}

/**
 * A log with no signed checkpoint yet (a fresh system): nothing to check, exit 0, said in one
 * line with the entries appended and not yet signed, if any; nothing is saved. A checkpoint kept
 * from an earlier audit that checks out under the trusted keys makes it a log that went back
 * (exit 1).
 */
async function emptyLog(
  io: SubmitIo,
  get: Get,
  trust: { logKeys: NoteKey[]; origin: string },
  kept: string | undefined,
  flags: LogAuditFlags,
): Promise<number> {
  if (kept !== undefined) {
    const before = openTrusted(kept, trust.logKeys, trust.origin, `--checkpoint ${flags.checkpoint}`);
    throw new AuditFailure(
      `the log went back: the gateway has no checkpoint (an empty log), the one kept is of size ${before.size}`,
    );
  }
  const size = (await logSize(get, 0)) ?? 0;
  const unsigned = size > 0 ? `; ${nEntries(size)} appended, not yet under a signed checkpoint` : '';
  const saved = flags.save === undefined ? '' : `; nothing saved to ${printable(flags.save)}`;
  io.print(
    `log ${printable(trust.origin)}: empty, no signed checkpoint yet: nothing to check${unsigned}${saved}`,
  );
  return 0;
}

interface Entry {
  leaf_index: number;
  body: string;
  leaf_hash: string;
  evidence_id: string;
}

function readFileOr(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`log audit: ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/**
 * The kept checkpoint's text, once it is known to be a checkpoint note (its form; its signature is
 * checked against the trusted keys after the walk): a file that is none is a usage error, as
 * `aaps-verify --checkpoint` refuses it, not a finding about the log.
 */
function readKeptCheckpoint(path: string): string {
  const note = readFileOr(path, '--checkpoint');
  try {
    parseCheckpoint(parseSignedNote(note).text);
  } catch (e) {
    throw new UsageError(
      `log audit: --checkpoint ${path} is not a signed checkpoint note: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return note;
}

/**
 * That `--save PATH` can be written, before the walk: PATH is no directory and its directory
 * exists and takes new files (the checkpoint is written beside PATH and renamed over it).
 */
function checkSaveTarget(path: string): void {
  const refuse = (why: string) => new UsageError(`log audit: --save ${path}: ${why}`);
  try {
    if (statSync(path).isDirectory())
      throw refuse('is a directory (name the file to keep the checkpoint in)');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw refuse(code ?? String(e));
  }
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory()) throw refuse(`${dir} is not a directory`);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw refuse(`cannot write in ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/**
 * Where an auditor pins the deployment's trusted root, `<data-dir>/audit/trusted_root.json`:
 * `aaps log audit` holds the log to it (unless given `--trusted-root FILE`). An auditor's, beside
 * (not in) an approver's `<data-dir>/approvers/`: another role, often on another machine.
 */
export function pinnedAuditRootPath(config: GatewayConfig): string {
  return join(resolve(config.dataDir), 'audit', 'trusted_root.json');
}

type Trust = { logKeys: NoteKey[]; origin: string; threshold: { min: number; max: number } };

/**
 * The trusted root file a run holds the log to: `--trusted-root FILE`, else the one pinned in the
 * data directory (with the words that name it in errors); none only for `--trust-served-root`. A
 * `UsageError` when there is none, before the gateway is asked anything.
 */
function trustedRootFile(
  config: GatewayConfig,
  flags: LogAuditFlags,
): { path: string; label: string } | undefined {
  if (flags.trustedRoot !== undefined && flags.trustServedRoot === true)
    throw new UsageError('log audit: --trusted-root FILE and --trust-served-root exclude each other');
  if (flags.trustedRoot !== undefined) return { path: flags.trustedRoot, label: '--trusted-root' };
  if (flags.trustServedRoot === true) return undefined;
  const pinned = pinnedAuditRootPath(config);
  if (existsSync(pinned)) return { path: pinned, label: 'the trusted root pinned at' };
  throw new UsageError(
    `log audit: no trusted root: pin your deployment's (GET /v1/trusted-root, its group key checked with the operator) at ${printable(pinned)}, or pass --trusted-root FILE`,
  );
}

/** The log keys, origin and threshold of a trusted root; `fail` makes the error for one that is none. */
function trustOf(root: unknown, fail: (why: string) => Error): Trust {
  try {
    const keys = parseTrustedRoot(root);
    return { logKeys: keys.logKeys, origin: keys.origin, threshold: keys.threshold };
  } catch (e) {
    throw fail(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The auditor's trusted root from `file`: a `UsageError` naming it when it is unreadable, none, or
 * one others can change (`checkTrustedRootFile`).
 */
function fileTrust(file: { path: string; label: string }): Trust {
  checkTrustedRootFile(file.path, `log audit: ${file.label}`);
  const what = `log audit: ${file.label} ${printable(file.path)}`;
  // A key given twice: JSON.parse keeps the last, another reader of the file the first, so the
  // root would name two log keys or origins.
  const read = parseJsonRefusingRepeats(readFileOr(file.path, file.label));
  if ('notJson' in read) throw new UsageError(`${what}: not JSON`);
  if ('repeated' in read) throw new UsageError(`${what}: ${read.repeated.problem}`);
  return trustOf(read.value, (why) => new UsageError(`${what}: ${printable(why)}`));
}

/** `--trust-served-root`: the gateway's own trusted root, taken as it is. */
async function servedTrust(get: (path: string) => Promise<unknown>): Promise<Trust> {
  const root = await get('/v1/trusted-root');
  return trustOf(root, (why) => new AuditFailure(`the gateway's trusted root: ${why}`));
}

/** Open a signed checkpoint under the log keys, of the trusted origin; `what` names it in errors. */
function openTrusted(note: string, logKeys: NoteKey[], origin: string, what: string): SignedCheckpoint {
  let cp: SignedCheckpoint;
  try {
    cp = openCheckpoint(note, logKeys);
  } catch (e) {
    throw new AuditFailure(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (cp.origin !== origin)
    throw new AuditFailure(`${what} is of log ${printable(cp.origin)}, not ${printable(origin)}`);
  return cp;
}

/** Check one entry as served, and return its leaf bytes. */
function leafOf(entry: Entry, index: number): Uint8Array {
  if (entry?.leaf_index !== index)
    throw new AuditFailure(`entry ${index}: the gateway answered leaf_index ${String(entry?.leaf_index)}`);
  const leaf = typeof entry.body === 'string' ? new Uint8Array(Buffer.from(entry.body, 'base64')) : undefined;
  if (leaf === undefined || Buffer.from(leaf).toString('base64') !== entry.body)
    throw new AuditFailure(`entry ${index}: body is not base64`);
  if (entry.leaf_hash !== bytesToHex(hashLeaf(leaf)))
    throw new AuditFailure(`entry ${index}: leaf_hash is not the hash of its body`);
  if (entry.evidence_id !== evidenceIdOfLeaf(leaf))
    throw new AuditFailure(`entry ${index}: evidence_id is not the SHA-256 of its body`);
  return leaf;
}

/**
 * Write `text` to `path` through a new file renamed over it, synced (`writeFileDurably`), so a
 * reader never sees half of it and a crash or power loss leaves the old checkpoint or the new one.
 */
function saveAtomically(path: string, text: string): void {
  try {
    writeFileDurably(path, text, 0o644);
  } catch (e) {
    throw new Error(
      `cannot save the checkpoint to ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

export async function runLogAudit(
  args: readonly string[],
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
  flags: LogAuditFlags,
): Promise<number> {
  const [sub, ...extra] = args;
  if (sub !== 'audit') throw new UsageError(`log: unknown subcommand ${sub ?? '(none)'} (expected audit)`);
  if (extra.length > 0) throw new UsageError(`log audit: unexpected argument ${extra[0]}`);
  // What this command was given is checked before the gateway is asked anything.
  const kept = flags.checkpoint === undefined ? undefined : readKeptCheckpoint(flags.checkpoint);
  if (flags.save !== undefined) checkSaveTarget(flags.save);
  const rootFile = trustedRootFile(config, flags);
  const fromFile = rootFile === undefined ? undefined : fileTrust(rootFile);
  if (fromFile === undefined)
    printError(
      io,
      'aaps: warning: --trust-served-root: the log keys the gateway serves are taken as they are; a gateway that lies about its keys passes this audit',
    );
  const headers = { authorization: `Bearer ${token}` };
  const get = async (path: string, text = false): Promise<unknown> => {
    const res = await reach(io, config.url, path, { headers });
    if (text && res.ok) return res.text();
    const got = await readJson(res);
    if (!got.ok) throw new GetFailure(`GET ${path.split('?')[0]}: ${got.failure}`, got.status);
    return got.body;
  };
  try {
    const trust = fromFile ?? (await servedTrust(get));
    const note = await latestCheckpoint(get);
    if (note === undefined) return await emptyLog(io, get, trust, kept, flags);
    const latest = openTrusted(note, trust.logKeys, trust.origin, 'the latest checkpoint');
    const before =
      kept === undefined
        ? undefined
        : openTrusted(kept, trust.logKeys, trust.origin, `--checkpoint ${flags.checkpoint}`);
    if (before !== undefined && before.size > latest.size)
      throw new AuditFailure(
        `the log went back: its checkpoint is of size ${latest.size}, the one kept of ${before.size}`,
      );
    // The root at the kept checkpoint's size, taken on the way (the empty tree's, for size 0).
    const tree = new MerkleFrontier();
    let rootAtKept = before?.size === 0 ? tree.root() : undefined;
    while (tree.size < latest.size) {
      const from = tree.size;
      const count = Math.min(PAGE, latest.size - from);
      const page = (await get(`/v1/log/entries?start=${from}&count=${count}`)) as { entries?: Entry[] };
      const entries = Array.isArray(page?.entries) ? page.entries : [];
      if (entries.length === 0)
        throw new AuditFailure(
          `the log serves no entry at ${from}, below its checkpoint's size ${latest.size}`,
        );
      for (const entry of entries.slice(0, count)) {
        tree.append(leafOf(entry, tree.size));
        if (tree.size === before?.size) rootAtKept = tree.root();
      }
      if (Math.floor(tree.size / PROGRESS_EVERY) > Math.floor(from / PROGRESS_EVERY))
        io.print(`log: ${tree.size} of ${nEntries(latest.size)} checked`);
    }
    if (bytesToHex(tree.root()) !== bytesToHex(latest.rootHash))
      throw new AuditFailure(
        `the ${nEntries(latest.size)} served ${latest.size === 1 ? 'hashes' : 'hash'} to another root than the checkpoint's: the log served is not the log signed`,
      );
    if (before !== undefined) {
      if (bytesToHex(rootAtKept!) !== bytesToHex(before.rootHash))
        throw new AuditFailure(
          `the log no longer holds the checkpoint kept (size ${before.size}): ${before.size === 1 ? 'its first entry hashes' : `its first ${nEntries(before.size)} hash`} to another root (a fork or a rewrite)`,
        );
      io.print(
        `log: extends the checkpoint kept (size ${before.size}) by ${nEntries(latest.size - before.size)}`,
      );
    }
    // Entries appended since (a checkpoint is signed shortly after each append): said, not judged,
    // so a stalled signer shows here as a tail that stays.
    const after = ((await logSize(get, latest.size)) ?? latest.size) - latest.size;
    if (after > 0)
      io.print(`log: ${nEntries(after)} after the checkpoint, not yet under a signed checkpoint`);
    if (flags.save !== undefined) saveAtomically(flags.save, note);
    io.print(
      `log ${printable(latest.origin)}: ${nEntries(latest.size)} ${latest.size === 1 ? 'hashes' : 'hash'} to the root its checkpoint signs (${trust.threshold.min}-of-${trust.threshold.max} group key)${flags.save === undefined ? '' : `; checkpoint saved to ${printable(flags.save)}`}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    printError(
      io,
      `aaps: log audit: ${e instanceof AuditFailure ? 'FAILED: ' : ''}${e instanceof Error ? e.message : String(e)}`,
    );
    return 1;
  }
}
