/**
 * `aaps keys`: the group key and each party's verifying share (`GET /v1/keys`); `aaps keys
 * refresh`: a proactive share refresh through the running gateway (`POST /v1/keys/refresh`);
 * `aaps keys repair [PARTY...]`: parties' shares repaired onto the gateway's key package (`POST
 * /v1/keys/repair`). Each prints what it did and needs the gateway running; refresh and repair
 * need an admin token.
 */
import type { GatewayConfig } from '../config.js';
import type { KeyRefreshResult, KeyRepairResult, KeysInfo } from '../coordinator.js';
import { readJson } from './answer.js';
import { takeOwnFlags } from './own-flags.js';
import { printError, reach, type SubmitIo } from './submit.js';
import { printable } from './terminal-text.js';
import { UsageError } from './usage-error.js';

/** A short form of a hex value for a table: its first 16 characters. */
const short = (hex: string) => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The fields of `v` (at `path`) that are not strings, as dot paths. */
function notStrings(v: Fields, path: string, names: readonly string[]): string[] {
  return names.filter((n) => typeof v[n] !== 'string').map((n) => `${path}${n}`);
}

/** Each party of a list, checked by `check`; the list itself when it is none. */
function eachParty(list: unknown, path: string, check: (p: Fields, at: string) => string[]): string[] {
  if (!Array.isArray(list)) return [path];
  return list.flatMap((p, i) => (isObject(p) ? check(p, `${path}[${i}].`) : [`${path}[${i}]`]));
}

/** `path` when `list` is not a list of strings. */
const strings = (list: unknown, path: string): string[] =>
  Array.isArray(list) && list.every((x) => typeof x === 'string') ? [] : [path];

/** What of a `GET /v1/keys` answer is not as this command prints it (dot paths; none: it is). */
function keysDocumentProblems(v: unknown): string[] {
  if (!isObject(v)) return ['(the whole answer)'];
  const t = v['threshold'];
  return [
    ...notStrings(v, '', ['group_public_key', 'ciphersuite']),
    ...(isObject(t) && isCount(t['min']) && isCount(t['max']) ? [] : ['threshold']),
    ...eachParty(v['parties'], 'parties', (p, at) => notStrings(p, at, ['id', 'url', 'verifying_share'])),
  ];
}

/**
 * What of a key refresh or repair answer is not as these commands print it: the fields both
 * have (`group_public_key`, `took_ms`, `steps`, `repaired`), then `lists` (lists of strings).
 */
function keyChangeProblems(v: Fields, lists: readonly string[]): string[] {
  return [
    ...notStrings(v, '', ['group_public_key']),
    ...(typeof v['took_ms'] === 'number' && Number.isFinite(v['took_ms']) ? [] : ['took_ms']),
    ...['steps', 'repaired', ...lists].flatMap((name) => strings(v[name], name)),
  ];
}

/** What of a `POST /v1/keys/refresh` answer is not as this command prints it. */
function refreshResultProblems(v: unknown): string[] {
  if (!isObject(v)) return ['(the whole answer)'];
  return [
    ...keyChangeProblems(v, []),
    ...eachParty(v['parties'], 'parties', (p, at) =>
      notStrings(p, at, ['id', 'previous_verifying_share', 'verifying_share']),
    ),
  ];
}

/** What of a `POST /v1/keys/repair` answer is not as this command prints it. */
function repairResultProblems(v: unknown): string[] {
  return isObject(v) ? keyChangeProblems(v, ['up_to_date']) : ['(the whole answer)'];
}

/**
 * The JSON body of a successful answer of the shape `problems` accepts; otherwise one line naming
 * `what` failed and why (the gateway's refusal, or the fields of an answer that is not `kind`),
 * and undefined.
 */
async function answered(
  io: SubmitIo,
  res: Response,
  what: string,
  kind: string,
  problems: (v: unknown) => string[],
): Promise<unknown> {
  const got = await readJson(res);
  if (!got.ok) {
    printError(io, `aaps: ${what}: ${got.failure}`);
    return undefined;
  }
  const bad = problems(got.body);
  if (bad.length === 0) return got.body;
  const fields = bad.length > 4 ? `${bad.slice(0, 4).join(', ')}, ...` : bad.join(', ');
  printError(io, `aaps: ${what}: the gateway's answer is not ${kind}: ${fields}`);
  return undefined;
}

/** `aaps keys`' own flag: `--reason TEXT` (what `refresh` logs); the rest is for the config parser. */
export function takeReasonFlag(argv: readonly string[]): { rest: string[]; reason?: string } {
  let f: ReturnType<typeof takeOwnFlags>;
  try {
    f = takeOwnFlags(argv, { values: ['reason'] });
  } catch (e) {
    throw new UsageError(`keys: ${e instanceof Error ? e.message : String(e)}`);
  }
  const reason = f.values.get('reason');
  if (reason !== undefined) {
    if (reason.length > 500) throw new UsageError('keys: --reason: at most 500 characters');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (/[\u0000-\u001f\u007f]/.test(reason))
      throw new UsageError('keys: --reason: one line, no control characters');
  }
  return { rest: f.rest, ...(reason === undefined ? {} : { reason }) };
}

export async function runKeys(
  args: readonly string[],
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
  reason?: string,
): Promise<number> {
  const [sub, ...extra] = args;
  if (extra.length > 0 && sub !== 'repair') throw new UsageError(`keys: unexpected argument ${extra[0]}`);
  const auth = { authorization: `Bearer ${token}` };
  if (reason !== undefined && sub !== 'refresh' && sub !== 'repair')
    throw new UsageError('keys: --reason goes with refresh or repair');
  if (sub === undefined) {
    const res = await reach(io, config.url, '/v1/keys', { headers: auth });
    const keys = (await answered(io, res, 'cannot read the keys', 'a keys document', keysDocumentProblems)) as
      | KeysInfo
      | undefined;
    if (keys === undefined) return 1;
    io.print(
      printable(
        `group key ${keys.group_public_key} (${keys.ciphersuite}, ${keys.threshold.min}-of-${keys.threshold.max})`,
      ),
    );
    // Columns as wide as the longest id and URL, so long department ids stay aligned.
    const parties = keys.parties.map((p) => ({
      id: printable(p.id),
      url: printable(p.url),
      share: printable(p.verifying_share),
    }));
    const idWidth = Math.max(18, ...parties.map((p) => p.id.length));
    const urlWidth = Math.max(26, ...parties.map((p) => p.url.length));
    for (const p of parties)
      io.print(`  ${p.id.padEnd(idWidth)} ${p.url.padEnd(urlWidth)} verifying share ${p.share}`);
    return 0;
  }
  if (sub === 'repair') return repair(extra, config, auth, io, reason);
  if (sub !== 'refresh')
    throw new UsageError(`keys: unknown subcommand ${sub} (expected refresh, repair, or none)`);
  if (reason === undefined)
    throw new UsageError('keys refresh: --reason TEXT is required (why: a schedule, a host exposed, ...)');
  io.print(`refreshing every party's key share through ${config.url} (signings wait meanwhile)`);
  const res = await reach(io, config.url, '/v1/keys/refresh', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  const out = (await answered(io, res, 'refresh failed', 'a key refresh result', refreshResultProblems)) as
    | KeyRefreshResult
    | undefined;
  if (out === undefined) return 1;
  for (const line of out.steps) io.print(`  ${printable(line)}`);
  const idWidth = Math.max(18, ...out.parties.map((p) => printable(p.id).length));
  for (const p of out.parties) {
    io.print(
      `  ${printable(p.id).padEnd(idWidth)} verifying share ${printable(short(p.previous_verifying_share))} -> ${printable(short(p.verifying_share))}`,
    );
  }
  const repaired = out.repaired.length > 0 ? `; repaired ${out.repaired.join(', ')}` : '';
  io.print(
    printable(
      `refreshed ${out.parties.length} shares in ${(out.took_ms / 1000).toFixed(1)} s${repaired}; group key unchanged ${out.group_public_key}`,
    ),
  );
  io.print(
    'key-share backups from before this refresh restore an old share: take new ones (aaps party backup); a party restored from an old one is repaired by aaps keys repair PARTY, or by the next refresh',
  );
  return 0;
}

/** `aaps keys repair [PARTY...] --reason TEXT`: 0 once every party named (or found behind) holds the package. */
async function repair(
  parties: readonly string[],
  config: GatewayConfig,
  auth: Record<string, string>,
  io: SubmitIo,
  reason: string | undefined,
): Promise<number> {
  const flag = parties.find((p) => p.startsWith('-'));
  if (flag !== undefined) throw new UsageError(`keys repair: unknown flag ${flag}`);
  if (reason === undefined)
    throw new UsageError("keys repair: --reason TEXT is required (why: a party's disk replaced, ...)");
  const which = parties.length > 0 ? parties.join(', ') : "every party not on the gateway's key package";
  io.print(`repairing the key shares of ${which} through ${config.url} (signings go on meanwhile)`);
  const res = await reach(io, config.url, '/v1/keys/repair', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ reason, ...(parties.length > 0 ? { parties } : {}) }),
  });
  const out = (await answered(io, res, 'repair failed', 'a key repair result', repairResultProblems)) as
    | KeyRepairResult
    | undefined;
  if (out === undefined) return 1;
  for (const line of out.steps) io.print(`  ${printable(line)}`);
  const repaired = out.repaired.length > 0 ? `repaired ${out.repaired.join(', ')}` : 'nothing to repair';
  const current = out.up_to_date.length > 0 ? `; already on the package: ${out.up_to_date.join(', ')}` : '';
  io.print(
    printable(
      `${repaired} in ${(out.took_ms / 1000).toFixed(1)} s${current}; group key and verifying shares unchanged ${out.group_public_key}`,
    ),
  );
  return 0;
}
