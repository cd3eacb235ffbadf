/**
 * The party's files: its identity key and at-rest encryption key, both created with mode 0600.
 * Secrets are read into `SecretBytes` and never printed.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { findDuplicate } from '@aaps/evidence';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  type IdentityKey,
  identityPublicKey,
  SecretBytes,
  ValidationError,
} from '@aaps/mpc-core';
import { randomBytes } from '@noble/hashes/utils.js';

function writeSecretFile(path: string, contents: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, contents, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

function readSecretHex(path: string, what: string): SecretBytes {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new ValidationError(
      'FORBIDDEN',
      `${what} ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      [path],
    );
  }
  const hex = readFileSync(path, 'utf8').trim();
  return new SecretBytes(hexToBytes(hex, what, 32));
}

/** Whose identity key a file holds: it decides what a missing file's error suggests. */
export type IdentityKeyKind = 'party' | 'approver' | 'gateway';

const MISSING_KEY: Record<IdentityKeyKind, { what: string; hint: string }> = {
  party: { what: 'identity key', hint: 'run `aaps party init`' },
  approver: {
    what: 'approver key',
    hint: 'pass the --data-dir of the running `aaps up`, or --approver-key FILE',
  },
  gateway: {
    what: 'gateway key',
    hint: 'pass the --data-dir of the `aaps up` that made it, or --gateway-key FILE',
  },
};

/**
 * Load the identity key at `path`, or create it (0600) when `create` is set; `kind` says whose key
 * it is, for the hint when it is missing.
 */
export function loadOrCreateIdentityKey(
  path: string,
  create: boolean,
  kind: IdentityKeyKind = 'party',
): IdentityKey {
  if (!existsSync(path)) {
    if (!create) {
      const { what, hint } = MISSING_KEY[kind];
      throw new ValidationError('NOT_FOUND', `${what} ${path} does not exist (${hint})`, [path]);
    }
    const key = generateIdentityKey();
    writeSecretFile(path, `${bytesToHex(key.secretKey.expose())}\n`);
    return key;
  }
  const secretKey = readSecretHex(path, 'identity key');
  return { secretKey, publicKey: identityPublicKey(secretKey) };
}

/** Load the 32-byte at-rest key from `path`, or create it (0600) when `create` is set. */
/**
 * Create a new 32-byte at-rest key at `path` (0600), or return undefined when the file exists
 * already (another start may have just made it): a caller that gets a key knows it wrote the file.
 */
export function createDataKey(path: string): SecretBytes | undefined {
  const k = randomBytes(32);
  try {
    writeSecretFile(path, `${bytesToHex(k)}\n`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw e;
  }
  return new SecretBytes(k);
}

export function loadOrCreateDataKey(path: string, create: boolean): SecretBytes {
  if (!existsSync(path)) {
    if (!create) throw new ValidationError('NOT_FOUND', `data key ${path} does not exist`, [path]);
    const k = randomBytes(32);
    writeSecretFile(path, `${bytesToHex(k)}\n`);
    return new SecretBytes(k);
  }
  return readSecretHex(path, 'data key');
}

/**
 * A JSON file a party is configured by (its config, roster, policy). A key given twice is refused,
 * naming its dot path: `JSON.parse` would keep the last silently, so an old line left below an
 * edit (a narrowed `allow` followed by the wide one) would win unseen.
 */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ValidationError('NOT_FOUND', `${what} ${path} cannot be read`, [path], { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', `${what} ${path} is not valid JSON`, [path], { cause });
  }
  const duplicate = findDuplicate(text);
  if (duplicate !== undefined) {
    throw new ValidationError(
      'DECODE_FAILED',
      `${what} ${path}: ${duplicate.path} is given twice (say it once: JSON keeps only the last)`,
      [duplicate.path],
    );
  }
  return value;
}

export function writeJsonFile(path: string, value: unknown, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode });
}
