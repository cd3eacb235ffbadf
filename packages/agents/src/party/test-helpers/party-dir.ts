/**
 * Test-only: party 0 (`monitoring-agent`, index 1) of a fresh five-party roster, laid out in a new
 * directory as `aaps up` lays out a party (identity key, roster, config; no data key), for tests
 * that start the party process in process (`startParty`). `config` adds or overrides config
 * members (`policy: 'policy.json'`, ...); `rosterText` writes the roster file as given.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '@aaps/mpc-core';
import { startParty } from '../../main.js';
import type { Roster } from '../../roster.js';
import { fiveParties } from './five-parties.js';

export function layParty(dirs: string[], config: Record<string, unknown> = {}, rosterText?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-party-'));
  dirs.push(dir);
  const set = fiveParties();
  writeFileSync(join(dir, 'identity.key'), `${bytesToHex(set.keys[0]!.secretKey.expose())}\n`, {
    mode: 0o600,
  });
  const writeRoster = (roster: Roster) =>
    writeFileSync(join(dir, 'roster.json'), JSON.stringify(roster, null, 2));
  if (rosterText === undefined) writeRoster(set.roster);
  else writeFileSync(join(dir, 'roster.json'), rosterText);
  const configPath = join(dir, 'party.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      id: 'monitoring-agent',
      host: '127.0.0.1',
      port: 0,
      data_dir: '.',
      roster: 'roster.json',
      ...config,
    }),
  );
  const lines: string[] = [];
  const start = (argv: readonly string[] = []) =>
    startParty(
      ['--config', configPath, ...argv],
      {},
      { write: (l) => void lines.push(l), dealingPads: false },
    );
  return { dir, set, writeRoster, start, lines };
}
