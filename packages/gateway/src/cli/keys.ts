/**
 * `aaps keys`: the group key and each party's verifying share (`GET /v1/keys`); `aaps keys
 * refresh`: a proactive share refresh through the running gateway (`POST /v1/keys/refresh`),
 * printing what it did. Both need the gateway running; refresh needs an admin token.
 */
import type { GatewayConfig } from '../config.js';
import type { KeyRefreshResult, KeysInfo } from '../coordinator.js';
import { readJson } from './answer.js';
import { takeOwnFlags } from './own-flags.js';
import { printError, reach, type SubmitIo } from './submit.js';
import { UsageError } from './usage-error.js';

/** A short form of a hex value for a table: its first 16 characters. */
const short = (hex: string) => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);

/** The JSON body of a successful answer; otherwise one line naming `what` failed and why, and undefined. */
async function answered(io: SubmitIo, res: Response, what: string): Promise<unknown> {
  const got = await readJson(res);
  if (got.ok) return got.body;
  printError(io, `aaps: ${what}: ${got.failure}`);
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
  if (extra.length > 0) throw new UsageError(`keys: unexpected argument ${extra[0]}`);
  const auth = { authorization: `Bearer ${token}` };
  if (reason !== undefined && sub !== 'refresh') throw new UsageError('keys: --reason goes with refresh');
  if (sub === undefined) {
    const res = await reach(io, config.url, '/v1/keys', { headers: auth });
    const keys = (await answered(io, res, 'cannot read the keys')) as KeysInfo | undefined;
    if (keys === undefined) return 1;
    io.print(
      `group key ${keys.group_public_key} (${keys.ciphersuite}, ${keys.threshold.min}-of-${keys.threshold.max})`,
    );
    // Columns as wide as the longest id and URL, so long department ids stay aligned.
    const idWidth = Math.max(18, ...keys.parties.map((p) => p.id.length));
    const urlWidth = Math.max(26, ...keys.parties.map((p) => p.url.length));
    for (const p of keys.parties)
      io.print(`  ${p.id.padEnd(idWidth)} ${p.url.padEnd(urlWidth)} verifying share ${p.verifying_share}`);
    return 0;
  }
  if (sub !== 'refresh') throw new UsageError(`keys: unknown subcommand ${sub} (expected refresh, or none)`);
  if (reason === undefined)
    throw new UsageError('keys refresh: --reason TEXT is required (why: a schedule, a host exposed, ...)');
  io.print(`refreshing every party's key share through ${config.url} (signings wait meanwhile)`);
  const res = await reach(io, config.url, '/v1/keys/refresh', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  const out = (await answered(io, res, 'refresh failed')) as KeyRefreshResult | undefined;
  if (out === undefined) return 1;
  for (const line of out.steps) io.print(`  ${line}`);
  const idWidth = Math.max(18, ...out.parties.map((p) => p.id.length));
  for (const p of out.parties) {
    io.print(
      `  ${p.id.padEnd(idWidth)} verifying share ${short(p.previous_verifying_share)} -> ${short(p.verifying_share)}`,
    );
  }
  const repaired = out.repaired.length > 0 ? `; repaired ${out.repaired.join(', ')}` : '';
  io.print(
    `refreshed ${out.parties.length} shares in ${(out.took_ms / 1000).toFixed(1)} s${repaired}; group key unchanged ${out.group_public_key}`,
  );
  io.print(
    'key-share backups from before this refresh restore an old share: take new ones (aaps party backup); a party restored from an old one is repaired by the next refresh',
  );
  return 0;
}
