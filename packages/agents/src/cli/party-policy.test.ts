import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARTY_MAIN } from '../cluster.js';
import { PARTY_ROLES } from '../policy/roles.js';
import { runPartyPolicy } from './party-policy.js';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
};
const shipped = (role: string) =>
  readFileSync(join(import.meta.dirname, '..', '..', 'policies', `${role}.json`), 'utf8');

describe('aaps party policy --role ROLE', () => {
  it.each(PARTY_ROLES)('prints the shipped policies/%s.json, byte for byte', (role) => {
    const o = io();
    expect(runPartyPolicy(['--role', role], o.io)).toBe(0);
    expect(`${o.out.join('\n')}\n`).toBe(shipped(role));
    expect(o.err).toEqual([]);
  });

  it('refuses an unknown role, a missing --role and a stray argument (exit 2, one line naming the roles)', () => {
    for (const argv of [
      ['--role', 'finance'],
      ['--role', 'maintenance'],
      [],
      ['--role', 'audit', 'extra'],
      ['--role'],
    ]) {
      const o = io();
      expect(runPartyPolicy(argv, o.io)).toBe(2);
      expect(o.out).toEqual([]);
      expect(o.err).toHaveLength(1);
    }
    const o = io();
    runPartyPolicy(['--role=finance'], o.io);
    expect(o.err[0]).toContain('quality-assurance');
    // maintenance is no party's role (the gateway's executor): as party init and the roster say.
    const m = io();
    runPartyPolicy(['--role', 'maintenance'], m.io);
    expect(m.err[0]).toContain("maintenance is the gateway's executor, not a party");
  });

  it('is a subcommand of the party binary: `aaps party policy --role=strategy > policy.json`', () => {
    const r = spawnSync(process.execPath, [PARTY_MAIN, 'policy', '--role=strategy'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect({ code: r.status, out: r.stdout, err: r.stderr }).toEqual({
      code: 0,
      out: shipped('strategy'),
      err: '',
    });
  });
});
