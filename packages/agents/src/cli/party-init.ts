/**
 * `aaps party init --id ID --role ROLE --data-dir DIR [--department D] [--host H] [--port P]
 * [--roster FILE] [--policy FILE] [--log-origin ORIGIN] [--url URL]`: creates the party's identity key (0600)
 * and data key, writes its config file, and prints the roster entry the operator adds to the
 * shared roster (the roster is the trust root and is distributed out of band) on stdout, alone, so
 * it pipes into `jq`; what it did goes to stderr. Exit 0, or one readable line and exit 2.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bytesToHex } from '@aaps/mpc-core';
import { isLogOrigin } from '../config.js';
import { missingValue, splitFlag } from '../flag-arg.js';
import { readPolicyFile } from '../policy/policy-file.js';
import { isPartyRole } from '../policy/roles.js';
import { isPartyUrl, PARTY_ROLE_EXPECTED } from '../roster.js';
import { loadOrCreateDataKey, loadOrCreateIdentityKey, writeJsonFile } from '../store/files.js';
import type { CliIo } from './party-backup.js';

const USAGE =
  'usage: aaps party init --id ID --role ROLE --data-dir DIR [--department D] [--host 127.0.0.1] [--port 7100] [--roster FILE] [--policy FILE] [--log-origin ORIGIN] [--url http://ADDRESS:PORT]';

const OPTIONS = [
  'id',
  'role',
  'data-dir',
  'department',
  'host',
  'port',
  'roster',
  'policy',
  'log-origin',
  'url',
];

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function runPartyInit(argv: readonly string[], io: CliIo = stdio): number {
  const opts: Record<string, string> = {};
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = splitFlag(a);
    if (flag === undefined || !OPTIONS.includes(flag.name)) {
      io.err(`aaps party init: unexpected ${JSON.stringify(a)}; ${USAGE}`);
      return 2;
    }
    if (flag.inline === undefined && missingValue(argv[i + 1])) {
      io.err(`aaps party init: --${flag.name} needs a value; ${USAGE}`);
      return 2;
    }
    opts[flag.name] = flag.inline ?? argv[++i]!;
  }
  const id = opts.id ?? '';
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(id)) {
    io.err(`aaps party init: --id must be a lower-case id; ${USAGE}`);
    return 2;
  }
  if (!isPartyRole(opts.role)) {
    const given = opts.role === undefined ? 'is required:' : `${JSON.stringify(opts.role)}:`;
    io.err(`aaps party init: --role ${given} ${PARTY_ROLE_EXPECTED}`);
    return 2;
  }
  if (!opts['data-dir']) {
    io.err(`aaps party init: --data-dir is required; ${USAGE}`);
    return 2;
  }
  const port = Number(opts.port ?? 7100);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    io.err('aaps party init: --port must be 1..65535');
    return 2;
  }
  const origin = opts['log-origin'];
  if (origin !== undefined && !isLogOrigin(origin)) {
    io.err(
      'aaps party init: --log-origin must be a checkpoint origin line (printable ASCII, 1 to 256 characters)',
    );
    return 2;
  }
  const host = opts.host ?? '127.0.0.1';
  // The roster entry's URL is where the gateway reaches this party: by default its listen address,
  // which for a wildcard (every interface) names no host at all.
  const url = opts.url ?? `http://${host}:${port}`;
  if (opts.url === undefined && ['0.0.0.0', '::', '[::]'].includes(host)) {
    io.err(
      `aaps party init: --host ${host} listens on every address; give --url http://ADDRESS:${port}, where the gateway reaches this party`,
    );
    return 2;
  }
  if (!isPartyUrl(url)) {
    io.err('aaps party init: --url must be an http:// URL (parties speak plain HTTP)');
    return 2;
  }
  const dir = resolve(opts['data-dir']);
  const configPath = join(dir, 'party.json');
  if (existsSync(configPath)) {
    io.err(`aaps party init: ${configPath} exists; this party is already initialised`);
    return 2;
  }
  // The policy read as the party's start will read it, before anything is written: a missing file
  // or another role's policy would only show at that start, after the roster entry went out.
  if (opts.policy !== undefined) {
    try {
      readPolicyFile(resolve(opts.policy), opts.role, `${id} is ${opts.role} (--role)`);
    } catch (e) {
      io.err(`aaps party init: --policy: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  try {
    const key = loadOrCreateIdentityKey(join(dir, 'identity.key'), true);
    loadOrCreateDataKey(join(dir, 'data.key'), true);
    writeJsonFile(configPath, {
      id,
      host,
      port,
      data_dir: '.',
      roster: opts.roster ?? 'roster.json',
      // A policy path given here is taken from the current directory, as the user typed it.
      ...(opts.policy === undefined ? {} : { policy: resolve(opts.policy) }),
      ...(origin === undefined ? {} : { log_origin: origin }),
    });
    io.err(
      `party ${id}: identity key ${join(dir, 'identity.key')} (0600), data key ${join(dir, 'data.key')} (0600), config ${configPath}`,
    );
    io.err('add this entry to the roster (set "index" to its FROST participant number):');
    io.out(
      JSON.stringify({
        id,
        role: opts.role,
        department: opts.department ?? opts.role,
        url,
        identity_key: bytesToHex(key.publicKey),
        index: 0,
      }),
    );
    return 0;
  } catch (e) {
    io.err(`aaps party init: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}
