/**
 * Which approver `aaps approve`, `aaps unseal` and `aaps approver init` act as, and that approver's
 * key file. The id names a file (`<data-dir>/approvers/<id>.key`) and is what the signed approval
 * or request names, so it is checked against the roster's spelling of ids before either is used:
 * `../x` would write or read outside the data directory, `Alice` is a signer no roster can hold.
 */
import { join, resolve } from 'node:path';
import { isRosterId, loadOrCreateIdentityKey } from '@aaps/agents';
import type { IdentityKey } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { printable } from './terminal-text.js';
import { UsageError } from './usage-error.js';

/** The approver id (`--approver`, else the first of `--approvers`); a `UsageError` when none or misspelled. */
export function approverId(config: GatewayConfig, command: string): string {
  const id = config.approver ?? config.approvers[0];
  if (id === undefined) throw new UsageError(`${command}: --approver ID is required`);
  if (!isRosterId(id))
    throw new UsageError(
      `${command}: --approver ${printable(JSON.stringify(id))} is not a roster id (lower-case letters, digits and -, starting with a letter, at most 63 characters)`,
    );
  return id;
}

/** The approver's key file: `keyFile`, else `--approver-key`, else `<data-dir>/approvers/<id>.key`. */
export function approverKeyPath(config: GatewayConfig, id: string, keyFile?: string): string {
  return keyFile ?? config.approverKey ?? join(resolve(config.dataDir), 'approvers', `${id}.key`);
}

/**
 * Where an approver pins the deployment's trusted root, `<data-dir>/approvers/trusted_root.json`:
 * `aaps unseal` holds every bundle to it (unless given `--trusted-root FILE`).
 */
export function pinnedTrustedRootPath(config: GatewayConfig): string {
  return join(resolve(config.dataDir), 'approvers', 'trusted_root.json');
}

/**
 * The approver's key from `path`. A file that is missing, unreadable, readable by others or not a
 * key is a file the command was given (or pointed at with `--data-dir`): a `UsageError` naming it.
 */
export function loadApproverKey(path: string): IdentityKey {
  try {
    return loadOrCreateIdentityKey(path, false, 'approver');
  } catch (e) {
    // A file system error's message names its code and the path; a key that is not hex does not.
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    throw new UsageError(why.includes(path) ? why : `approver key ${path}: ${why}`, { cause: e });
  }
}
