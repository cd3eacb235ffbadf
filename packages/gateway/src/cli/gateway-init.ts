/**
 * `aaps gateway init`: the first step of a deployment on separate hosts. It creates the gateway's
 * identity key (0600) and one key per `--approvers` id, or reuses those that exist, and prints the
 * roster they go into: the gateway and approver entries filled in, a place for each party's entry
 * (printed by `aaps party init` on its own host). The roster is the trust root: the operator
 * completes it and gives every party and the gateway the same file. Nothing here talks to a party.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { bytesToHex } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';

export interface InitIo {
  print(line: string): void;
}

export function runGatewayInit(config0: GatewayConfig, io: InitIo): number {
  const dataDir = resolve(config0.dataDir);
  const keyLine = (what: string, path: string) => {
    const existed = existsSync(path);
    const key = loadOrCreateIdentityKey(path, true, what === 'gateway' ? 'gateway' : 'approver');
    io.print(`${what}: ${existed ? 'reusing' : 'created'} ${path} (0600)`);
    return bytesToHex(key.publicKey);
  };
  const gatewayKey = keyLine('gateway', config0.gatewayKey ?? join(dataDir, 'gateway', 'identity.key'));
  const approvers = config0.approvers.map((id) => ({
    id,
    identity_key: keyLine(`approver ${id}`, join(dataDir, 'approvers', `${id}.key`)),
  }));
  const n = config0.parties;
  const roster = {
    version: 1,
    ciphersuite: config0.ciphersuite,
    threshold: { min: config0.threshold, max: n },
    gateway: { id: 'gateway', identity_key: gatewayKey },
    parties: [`<the ${n} entries \`aaps party init\` printed, each with its "index" 1..${n}>`],
    approvers,
  };
  io.print(`the roster (save it as ${join(dataDir, 'roster.json')} and give every party the same file;`);
  io.print(`"threshold.max" is the number of parties):`);
  io.print(JSON.stringify(roster, null, 2));
  return 0;
}
