/**
 * What the party's offline commands (`aaps party backup`, `restore`, `audit`) share: its config
 * read as the party reads it, its data key, and its LevelDB opened while the party is stopped
 * (a running party holds LevelDB's lock, and the refusal names it by the pid it wrote).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hexToBytes, SecretBytes } from '@aaps/mpc-core';
import { type PartyConfig, parsePartyArgs, resolvePartyConfig } from '../config.js';
import { loadOrCreateDataKey, prepareStoreDir, readJsonFile } from '../store/files.js';
import { isStoreLocked, PartyStore } from '../store/level.js';
import { PARTY_PID_FILE, pidFileHolder } from '../store/pid-file.js';

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
    if (isStoreLocked(e)) {
      const holder = pidFileHolder(join(config.dataDir, PARTY_PID_FILE));
      const pid = holder === undefined ? '' : `pid ${holder}, `;
      throw new Refused(
        `party ${config.id} is running (${pid}its database ${path} is locked): stop the party process, run this again, then start it`,
      );
    }
    throw e;
  }
}
