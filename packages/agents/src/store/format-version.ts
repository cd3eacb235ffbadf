/**
 * The format version a LevelDB store records under one key, so that a build never reads (or
 * half-writes) a store laid out by a later one, and a later build knows what it must migrate.
 * A new (empty) store is stamped with the current format; a store from before stores were
 * versioned (data, no stamp) is format 1, the layout they all had, and is stamped so. The party store and the
 * gateway store each keep their own.
 */
import { AapsError } from '@aaps/mpc-core';

/** What {@link claimStoreFormat} needs of a database: one key read and written, and whether it holds any. */
export interface FormatDatabase {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array, options?: { sync?: boolean }): Promise<void>;
  keys(options: { limit: number }): { all(): Promise<string[]> };
}

/** The layout every store had before stores recorded one. */
const UNSTAMPED_FORMAT = 1;

export interface StoreFormat {
  /** The key the version is kept under. */
  key: string;
  /** The format this build writes and reads. */
  current: number;
  /** What the store is, for errors: `party store at /path`. */
  what: string;
}

/** The version a store records: a decimal integer from 1, as text. */
function parseVersion(bytes: Uint8Array): number | undefined {
  const text = new TextDecoder().decode(bytes);
  return /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : undefined;
}

/**
 * Check the store's format against this build's, stamping a new or pre-version store, and return
 * the store's format (a build whose format is later than it migrates the store, then stamps it).
 * Throws `AapsError('UNSUPPORTED_VERSION')` with one line naming the store and both versions when
 * the store is of a later format (or its stamp is unreadable); nothing is written then.
 */
export async function claimStoreFormat(db: FormatDatabase, format: StoreFormat): Promise<number> {
  const stamp = await db.get(format.key);
  if (stamp === undefined) {
    const empty = (await db.keys({ limit: 1 }).all()).length === 0;
    const version = empty ? format.current : UNSTAMPED_FORMAT;
    await db.put(format.key, new TextEncoder().encode(String(version)), { sync: true });
    return version;
  }
  const version = parseVersion(stamp);
  if (version === undefined) {
    throw new AapsError(
      'UNSUPPORTED_VERSION',
      `${format.what} has an unreadable format stamp (${format.key}): it is damaged or not an aaps store; restore it from a backup`,
    );
  }
  if (version > format.current) {
    throw new AapsError(
      'UNSUPPORTED_VERSION',
      `${format.what} is format ${version}, but this build of aaps reads format ${format.current}: run the version of aaps that wrote it, or a later one`,
    );
  }
  return version;
}
