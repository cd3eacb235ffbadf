/**
 * What the backup and restore tests share: a `CliIo` that keeps what the command printed, and a
 * stopped party's store opened under its own data key for the length of one call.
 */
import { join } from 'node:path';
import { loadOrCreateDataKey } from '../../store/files.js';
import { PartyStore } from '../../store/level.js';
import type { CliIo } from '../party-backup.js';

/** A `CliIo` keeping stdout lines in `lines` and stderr lines in `errors`. */
export function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

/** Run `f` on party `partyId`'s store in `dataDir` (its `db/` and `data.key`), closed after. */
export async function withPartyStore<T>(
  dataDir: string,
  partyId: string,
  f: (s: PartyStore) => Promise<T>,
): Promise<T> {
  const store = await PartyStore.open(
    join(dataDir, 'db'),
    loadOrCreateDataKey(join(dataDir, 'data.key'), false),
    partyId,
  );
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}
