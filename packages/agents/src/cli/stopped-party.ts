/**
 * What the party's offline commands (`aaps party backup`, `restore`, `audit`) share: its config
 * read as the party reads it, its data key, and its LevelDB opened while the party is stopped
 * (a running party holds LevelDB's lock, and the refusal names it by the pid it wrote).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { hexToBytes, SecretBytes } from '@aaps/mpc-core';
import { type PartyConfig, parsePartyArgs, resolvePartyConfig } from '../config.js';
import { loadOrCreateDataKey, prepareStoreDir, readJsonFile } from '../store/files.js';
import { isStoreLocked, PartyStore } from '../store/level.js';
import { AAPS_UP_PID_FILE, PARTY_PID_FILE, parentPid, pidFileHolder } from '../store/pid-file.js';

/** The operation was refused (the party runs, no database): the commands exit 1. */
export class Refused extends Error {}

/** The party's config from its flags, environment and `--config` file, as the party resolves it. */
export function loadPartyConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): PartyConfig {
  const args = parsePartyArgs(argv, env);
  const file = args.config ? readJsonFile(args.config, 'party config') : undefined;
  return resolvePartyConfig(file, args, args.config ? dirname(resolve(args.config)) : process.cwd());
}

/** The party's data key: `AAPS_PARTY_DATA_KEY`, else its file (made when `create`). */
export function loadPartyDataKey(config: PartyConfig, create: boolean): SecretBytes {
  return config.dataKeyHex !== undefined
    ? new SecretBytes(hexToBytes(config.dataKeyHex, 'AAPS_PARTY_DATA_KEY', 32))
    : loadOrCreateDataKey(config.dataKeyPath, create);
}

/**
 * Open a stopped party's store with the data key `dataKey` gives (asked for once the database is
 * known to be there). With `mustExist`, no database is {@link Refused}; otherwise one
 * is made, owner only (0700) as the party's own start makes it, and removed again if it cannot be
 * opened. A running party's lock is {@link Refused}, naming its pid when it wrote one.
 */
export async function openStoppedPartyStore(
  config: PartyConfig,
  dataKey: () => SecretBytes,
  mustExist: boolean,
): Promise<PartyStore> {
  const path = join(config.dataDir, 'db');
  if (mustExist && !existsSync(path))
    throw new Refused(`party ${config.id} has no database at ${path} (wrong --config or data dir?)`);
  const key = dataKey();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const created = prepareStoreDir(path);
  try {
    return await PartyStore.open(path, key, config.id);
  } catch (e) {
    if (created) rmSync(path, { recursive: true, force: true });
    if (isStoreLocked(e)) throw new Refused(runningPartyRefusal(config, path));
    throw e;
  }
}

/**
 * The `aaps up` that runs the party whose process is `holder`, by its pid: `aaps up` lays a party
 * out in `<its data dir>/parties/<id>` and writes its pid to `<its data dir>/aaps-up.pid`; the party
 * runs under it if that pid is the party process's parent (or the process itself: `aaps up
 * --local`). `false`: it does not; undefined: it cannot be told (no pid file, or no /proc to read
 * the parent from).
 */
export function aapsUpOf(holder: number | undefined, dataDir: string): number | false | undefined {
  const parties = dirname(resolve(dataDir));
  if (basename(parties) !== 'parties') return false;
  let up = Number.NaN;
  try {
    up = Number.parseInt(readFileSync(join(dirname(parties), AAPS_UP_PID_FILE), 'utf8'), 10);
  } catch {
    return false; // no `aaps up` holds the directory: it writes this file while it runs
  }
  if (holder === undefined || !Number.isSafeInteger(up)) return undefined;
  if (holder === up) return up;
  const parent = parentPid(holder);
  if (parent === undefined) return undefined;
  return parent === up ? up : false;
}

/**
 * The refusal for a party whose database another process holds. A party `aaps up` runs is stopped
 * by stopping `aaps up`: it starts a party that stops again within a second or so.
 */
function runningPartyRefusal(config: PartyConfig, db: string): string {
  const holder = pidFileHolder(join(config.dataDir, PARTY_PID_FILE));
  const pid = holder === undefined ? '' : `pid ${holder}, `;
  const up = aapsUpOf(holder, config.dataDir);
  const locked = `its database ${db} is locked`;
  if (up === false)
    return `party ${config.id} is running (${pid}${locked}): stop the party process, run this again, then start it`;
  if (up === undefined)
    return `party ${config.id} is running (${pid}${locked}): stop the party process (if \`aaps up\` runs it, stop \`aaps up\` instead: it restarts a stopped party), run this again, then start it`;
  return `party ${config.id} is running under \`aaps up\` (${pid}${locked}): stop that \`aaps up\` (pid ${up}: it restarts a party stopped alone), run this again, then start \`aaps up\` again`;
}
