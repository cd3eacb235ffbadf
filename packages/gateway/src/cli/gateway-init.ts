/**
 * The first steps of a deployment on separate hosts, each run where its key is to live:
 * - `aaps gateway init`, on the gateway's host: creates the gateway's identity key (0600), or
 *   reuses it, and prints the roster to complete (the gateway filled in, a place for the parties'
 *   entries from `aaps party init` and the approvers' from `aaps approver init`);
 * - `aaps approver init --approver ID`, on the approver's own machine: creates that human
 *   approver's key and prints its roster entry. An approver's key never sits on the gateway's
 *   host: one who took the gateway could otherwise sign human approvals and unseal requests.
 * The roster is the trust root: the operator completes it and gives every party and the gateway
 * the same file. Nothing here talks to a party.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { bytesToHex } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { approverId, approverKeyPath, pinnedTrustedRootPath } from './approver-key.js';

export interface InitIo {
  /** What a script reads: the roster or the roster entry (stdout), alone, so it pipes into `jq`. */
  print(line: string): void;
  /** What it did and what to do with it, for a person (stderr). */
  say(line: string): void;
}

/** Create (or reuse) a key at `path` and say which; returns its public key as hex. */
function keyAt(path: string, kind: 'gateway' | 'approver', label: string, io: InitIo): string {
  const existed = existsSync(path);
  const key = loadOrCreateIdentityKey(path, true, kind);
  io.say(`${label}: ${existed ? 'reusing' : 'created'} ${path} (0600)`);
  return bytesToHex(key.publicKey);
}

export function runGatewayInit(config: GatewayConfig, io: InitIo): number {
  const dataDir = resolve(config.dataDir);
  const path = config.gatewayKey ?? join(dataDir, 'gateway', 'identity.key');
  const gatewayKey = keyAt(path, 'gateway', 'gateway', io);
  const n = config.parties;
  const roster = {
    version: 1,
    ciphersuite: config.ciphersuite,
    threshold: { min: config.threshold, max: n },
    gateway: { id: 'gateway', identity_key: gatewayKey },
    parties: [`<the ${n} entries \`aaps party init\` printed, each with its "index" 1..${n}>`],
    approvers: ['<each entry `aaps approver init` printed on its approver’s own machine (may be none)>'],
  };
  io.say(`the roster (save it as ${join(dataDir, 'roster.json')} and give every party the same file;`);
  io.say(`"threshold.max" is the number of parties):`);
  io.print(JSON.stringify(roster, null, 2));
  return 0;
}

/**
 * `aaps approver init`: the id is checked against the roster's spelling before anything is made
 * (it names the key file, and the roster refuses any other spelling).
 */
export function runApproverInit(config: GatewayConfig, io: InitIo): number {
  const id = approverId(config, 'approver init');
  const path = approverKeyPath(config, id);
  const identityKey = keyAt(path, 'approver', `approver ${id}`, io);
  io.say('add this entry to the roster\'s "approvers":');
  io.print(JSON.stringify({ id, identity_key: identityKey }));
  io.say(
    `before \`aaps unseal\`, pin the deployment's trusted root (GET /v1/trusted-root, its group key checked with the operator) as ${pinnedTrustedRootPath(config)} (chmod 600: a root others can write is refused)`,
  );
  return 0;
}
