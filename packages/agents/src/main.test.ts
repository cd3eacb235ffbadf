/**
 * Party start-up, in process (`startParty`): a start that cannot listen creates nothing; a party
 * with a database never gets a new data key; a roster or policy its key or role does not fit
 * stops it with one line.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import {
  commitmentKey,
  commitToStore,
  decodeCbor,
  encodeCbor,
  getCiphersuite,
  hexToBytes,
  SecretBytes,
  trustedDealer,
  ValidationError,
} from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { PARTY_MAIN } from './cluster.js';
import { startFailureLine } from './main.js';
import { keyRosterMismatches, rosterParticipants } from './party/key-roster.js';
import { layParty } from './party/test-helpers/party-dir.js';
import { defaultPolicy } from './policy/defaults.js';
import { type Roster, rosterDigest } from './roster.js';
import { PARTY_STORE_FORMAT, PartyStore } from './store/level.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');

const partyDir = (config: Record<string, unknown> = {}) => layParty(dirs, config);

/** The party's store, opened while it is stopped. */
async function openPartyStore(p: ReturnType<typeof partyDir>) {
  const dataKey = new SecretBytes(hexToBytes(readFileSync(join(p.dir, 'data.key'), 'utf8').trim()));
  return PartyStore.open(join(p.dir, 'db'), dataKey, 'monitoring-agent');
}

/**
 * Start once (creating the data key and database), store a dealt 3-of-5 key made under
 * `set.roster`, stop. `legacy`: stored as before keys recorded which party holds which participant.
 */
async function withStoredKey(p: ReturnType<typeof partyDir>, opts: { legacy?: boolean } = {}) {
  await (await p.start()).close();
  const dealt = trustedDealer(suite, { min: 3, max: 5 });
  const store = await openPartyStore(p);
  await store.saveKey({
    keyPackage: dealt.keyPackages[0]!,
    publicPackage: dealt.publicPackage,
    rosterDigest: rosterDigest(p.set.roster),
    createdAt: '2026-01-01T00:00:00.000Z',
    ...(opts.legacy ? {} : { participants: rosterParticipants(p.set.roster) }),
  });
  await store.close();
  return dealt;
}

/** `roster` with quality assurance (the veto holder, index 4) and audit (index 5) swapped. */
const swapVetoHolder = (roster: Roster): Roster => ({
  ...roster,
  parties: roster.parties.map((x) =>
    x.role === 'quality-assurance' ? { ...x, index: 5 } : x.role === 'audit' ? { ...x, index: 4 } : x,
  ),
});

function occupy(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen(0, host, () => resolve((s.address() as { port: number }).port));
  });
}

const events = (lines: string[], event: string) =>
  lines.map((l) => JSON.parse(l) as { event: string; note?: string }).filter((l) => l.event === event);

describe('a start that cannot listen', () => {
  it('a busy port: one line naming the address and the reason, and nothing created on disk', async () => {
    const p = partyDir();
    const port = await occupy();
    const failed = p.start(['--port', String(port)]);
    await expect(failed).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    expect(startFailureLine(await failed.catch((e: unknown) => e))).toBe(
      `aaps party: cannot listen on 127.0.0.1:${port}: EADDRINUSE`,
    );
    expect(existsSync(join(p.dir, 'data.key'))).toBe(false);
    expect(existsSync(join(p.dir, 'db'))).toBe(false);
  });

  it('an unresolvable host: one line, nothing created', async () => {
    const p = partyDir({ host: 'no-such-host.invalid' });
    await expect(p.start()).rejects.toThrow(
      /^cannot listen on no-such-host\.invalid:0: (ENOTFOUND|EAI_AGAIN)$/,
    );
    expect(existsSync(join(p.dir, 'data.key'))).toBe(false);
    expect(existsSync(join(p.dir, 'db'))).toBe(false);
  });
});

describe('the data key', () => {
  it('a first start (no database yet) creates it; later starts reuse it', async () => {
    const p = partyDir();
    const first = await p.start();
    expect(first.port).toBeGreaterThan(0);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    await first.close();
    const key = readFileSync(join(p.dir, 'data.key'), 'utf8');
    await (await p.start()).close();
    expect(readFileSync(join(p.dir, 'data.key'), 'utf8')).toBe(key);
  });

  it('the database directory is owner only (0700), made so or tightened at start', async () => {
    // From the secrets review: a standalone party (not `aaps up`) left LevelDB's 0755.
    const p = partyDir();
    await (await p.start()).close();
    const db = join(p.dir, 'db');
    expect(statSync(db).mode & 0o777).toBe(0o700);
    chmodSync(db, 0o755);
    await (await p.start()).close();
    expect(statSync(db).mode & 0o777).toBe(0o700);
  });

  it('missing while the database exists: refused, naming the file, and no new key is written', async () => {
    const p = partyDir();
    await withStoredKey(p);
    rmSync(join(p.dir, 'data.key'));
    await expect(p.start()).rejects.toThrow(
      `data key ${join(p.dir, 'data.key')} does not exist, but this party's database ${join(p.dir, 'db')} does`,
    );
    expect(existsSync(join(p.dir, 'data.key'))).toBe(false);
    // A wrong --data-key-file path is the same case.
    await expect(p.start(['--data-key-file', join(p.dir, 'elsewhere.key')])).rejects.toThrow(
      /data key .*elsewhere\.key does not exist, but this party's database/,
    );
    expect(existsSync(join(p.dir, 'elsewhere.key'))).toBe(false);
  });

  it('another data key: the share does not decrypt, and the message names a different data key', async () => {
    const p = partyDir();
    await withStoredKey(p);
    const port = await occupy();
    await new Promise((r) => servers.pop()?.close(r));
    writeFileSync(join(p.dir, 'other.key'), `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    await expect(
      p.start(['--data-key-file', join(p.dir, 'other.key'), '--port', String(port)]),
    ).rejects.toThrow(
      /does not decrypt under the data key .*other\.key: most likely it was stored under a different data key/,
    );
    // The failed start released its port.
    await new Promise((r) => setTimeout(r, 10));
    const again = createServer();
    servers.push(again);
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
  });
});

describe('one party process per data directory', () => {
  it('a second start is told another process uses the data directory, naming the pid its party.pid gives', async () => {
    const p = partyDir();
    const pidFile = join(p.dir, 'party.pid');
    // Left by a party that was killed: replaced, not obeyed (LevelDB's lock is what excludes).
    writeFileSync(pidFile, '4194304\n');
    const first = await p.start();
    try {
      // The running party names itself beside its database.
      expect(readFileSync(pidFile, 'utf8')).toBe(`${process.pid}\n`);
      // Another process (the party binary) on the same directory, another port.
      const r = spawnSync(
        process.execPath,
        [PARTY_MAIN, '--config', join(p.dir, 'party.json'), '--port', '0'],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: { PATH: process.env.PATH ?? '' },
        },
      );
      expect({ code: r.status, err: r.stderr }).toEqual({
        code: 2,
        err:
          `aaps party: another party process (pid ${process.pid}, ${pidFile}) is using the data directory ${p.dir}: ` +
          `its database ${join(p.dir, 'db')} is locked; stop it first, or give this party another data directory\n`,
      });
      // Its pid file was not touched by the refused start.
      expect(readFileSync(pidFile, 'utf8')).toBe(`${process.pid}\n`);
      // In the same process (no other pid to name), the line still says what holds the directory.
      await expect(p.start()).rejects.toThrow(
        `another process is using the data directory ${p.dir}: its database ${join(p.dir, 'db')} is locked (another party process, or \`aaps party backup\` or \`restore\`)`,
      );
    } finally {
      await first.close();
    }
    // Stopped, it takes its pid file away.
    expect(existsSync(pidFile)).toBe(false);
  });
});

describe('a damaged key record', () => {
  it('one that no longer decodes: one line naming the database, that it is damaged, and the restore', async () => {
    const p = partyDir();
    await withStoredKey(p);
    const db = new Level<string, Uint8Array>(join(p.dir, 'db'), { valueEncoding: 'view' });
    await db.open();
    const record = decodeCbor((await db.get('key/current'))!) as Record<string, unknown>;
    await db.put('key/current', encodeCbor({ ...record, participants: [['monitoring-agent', 7]] }));
    await db.close();
    const failure = await p.start().then(
      () => expect.unreachable('the start should fail'),
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ValidationError);
    expect(startFailureLine(failure)).toBe(
      `aaps party: the key record in ${join(p.dir, 'db')} cannot be read: stored key: participants: ` +
        "expected [party id, identifier] pairs; the database is damaged: stop here and restore this party's " +
        "key from its custodians' backup files (`aaps party restore --force`, docs/sealing.md), or the " +
        'whole data directory from a copy',
    );
  });
});

describe('a store of a later format', () => {
  it('is refused with one line naming the database and both formats, and left as it was', async () => {
    const p = partyDir();
    await withStoredKey(p);
    const db = new Level<string, Uint8Array>(join(p.dir, 'db'), { valueEncoding: 'view' });
    await db.open();
    await db.put('format', new TextEncoder().encode(String(PARTY_STORE_FORMAT + 1)));
    await db.close();
    const failure = await p.start().then(
      () => expect.unreachable('the start should fail'),
      (e: unknown) => e,
    );
    expect(startFailureLine(failure)).toBe(
      `aaps party: party store at ${join(p.dir, 'db')} is format ${PARTY_STORE_FORMAT + 1}, but this build of ` +
        `aaps reads format ${PARTY_STORE_FORMAT}: run the version of aaps that wrote it, or a later one`,
    );
    await db.open();
    expect(new TextDecoder().decode(await db.get('format'))).toBe(String(PARTY_STORE_FORMAT + 1));
    expect(await db.get('key/current')).toBeDefined();
    await db.close();
  });
});

describe('the roster a stored key depends on', () => {
  it('another threshold: refused with one line naming both', async () => {
    const p = partyDir();
    await withStoredKey(p);
    p.writeRoster({ ...p.set.roster, threshold: { min: 4, max: 5 } });
    await expect(p.start()).rejects.toThrow(/^roster threshold 4-of-5 differs from the key's 3-of-5: /);
  });

  it("another index for this party: refused, naming the roster's index and the key's participant", async () => {
    const p = partyDir();
    await withStoredKey(p);
    const parties = p.set.roster.parties.map((x, i) => ({
      ...x,
      index: i === 0 ? 2 : i === 1 ? 1 : x.index,
    }));
    p.writeRoster({ ...p.set.roster, parties });
    await expect(p.start()).rejects.toThrow(
      /^monitoring-agent's roster index 2 differs from the key's participant 1; problem-solver-agent's roster index 1 differs from the key's participant 2: /,
    );
  });

  it('two other parties swapped (the veto holder and audit): refused, naming each with both indexes', async () => {
    const p = partyDir();
    await withStoredKey(p);
    p.writeRoster(swapVetoHolder(p.set.roster));
    await expect(p.start()).rejects.toThrow(
      /^quality-assurance-agent's roster index 5 differs from the key's participant 4; audit-agent's roster index 4 differs from the key's participant 5: /,
    );
  });

  it('a key stored before keys recorded their participants: fits the roster it starts with, which it records', async () => {
    const p = partyDir();
    await withStoredKey(p, { legacy: true });
    const swapped = swapVetoHolder(p.set.roster);
    p.writeRoster(swapped);
    // Taken to be the roster the key was made under (an upgrade keeps working)...
    await (await p.start()).close();
    expect(events(p.lines, 'keys.participants_recorded')).toHaveLength(1);
    const store = await openPartyStore(p);
    expect((await store.loadKey())!.participants).toEqual(rosterParticipants(swapped));
    await store.close();
    // ...and from then on a renumbering is refused.
    p.writeRoster(p.set.roster);
    await expect(p.start()).rejects.toThrow(
      /^quality-assurance-agent's roster index 4 differs from the key's participant 5; /,
    );
  });

  it('more parties, another ciphersuite: refused', async () => {
    const p = partyDir();
    const dealt = await withStoredKey(p);
    const sixth = { ...p.set.roster.parties[4]!, id: 'extra', index: 6, identity_key: 'cd'.repeat(32) };
    const six: Roster = {
      ...p.set.roster,
      threshold: { min: 4, max: 6 },
      parties: [...p.set.roster.parties, sixth],
    };
    const stored = {
      keyPackage: dealt.keyPackages[0]!,
      publicPackage: dealt.publicPackage,
      rosterDigest: '',
      createdAt: '',
    };
    expect(keyRosterMismatches(stored, six, six.parties[0]!)).toEqual([
      "roster threshold 4-of-6 differs from the key's 3-of-5",
      "the roster's 6 parties differ from the key's 5 verifying shares",
    ]);
    p.writeRoster(six);
    await expect(p.start()).rejects.toThrow(
      /the roster's 6 parties differ from the key's 5 verifying shares/,
    );
    p.writeRoster({ ...p.set.roster, ciphersuite: 'FROST-secp256k1-SHA256-v1' });
    await expect(p.start()).rejects.toThrow(
      /^roster ciphersuite FROST-secp256k1-SHA256-v1 differs from the key's FROST-ED25519-SHA512-v1: /,
    );
  });

  it('with allow_key_replace on, a mismatch only warns (a re-key under the new roster is under way)', async () => {
    const p = partyDir();
    await withStoredKey(p);
    p.writeRoster({ ...p.set.roster, threshold: { min: 4, max: 5 } });
    await (await p.start(['--allow-key-replace', 'true'])).close();
    expect(events(p.lines, 'keys.roster_mismatch')).toHaveLength(1);
    p.writeRoster(swapVetoHolder(p.set.roster));
    await (await p.start(['--allow-key-replace', 'true'])).close();
    expect(events(p.lines, 'keys.roster_mismatch')).toHaveLength(2);
    expect(events(p.lines, 'keys.roster_mismatch')[1]!.note).toMatch(
      /^quality-assurance-agent's roster index 5/,
    );
  });

  it('only URLs changed: starts, and warns once that the roster changed', async () => {
    const p = partyDir();
    await withStoredKey(p);
    await (await p.start()).close();
    expect(events(p.lines, 'roster.changed')).toHaveLength(0);
    const moved: Roster = {
      ...p.set.roster,
      parties: p.set.roster.parties.map((x) => ({ ...x, url: x.url.replace('.test', '.example') })),
    };
    p.writeRoster(moved);
    const running = await p.start();
    const health = (await (await fetch(`${running.url}/healthz`)).json()) as { has_key: boolean };
    expect(health.has_key).toBe(true);
    await running.close();
    const changed = events(p.lines, 'roster.changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]!.note).toBe(
      `roster changed since the key was made: ${rosterDigest(p.set.roster)} -> ${rosterDigest(moved)}`,
    );
  });
});

describe('the policy', () => {
  it("a policy for another role is refused at start-up; one for the party's role starts", async () => {
    const p = partyDir({ policy: 'policy.json' });
    writeFileSync(join(p.dir, 'policy.json'), JSON.stringify(defaultPolicy('audit')));
    await expect(p.start()).rejects.toThrow(
      `policy ${join(p.dir, 'policy.json')} is for role audit, but monitoring-agent is monitoring in the roster`,
    );
    expect(existsSync(join(p.dir, 'data.key'))).toBe(false);
    writeFileSync(join(p.dir, 'policy.json'), JSON.stringify(defaultPolicy('monitoring')));
    await (await p.start()).close();
  });
});

describe('drop_nonces_at_start (a store restored from a copy)', () => {
  /**
   * From the secrets review: a copy of the party's store (a file backup, a VM snapshot) holds the
   * nonces issued before it was taken, and restored it hands out again one the party used after
   * the copy: two shares under one nonce pair give away the signing share. Kept across a restart
   * by default (a nonce survives a crash and signs once); with the option, a start expires them all.
   */
  async function restoredAfterUse(p: ReturnType<typeof partyDir>) {
    const dealt = await withStoredKey(p);
    let store = await openPartyStore(p);
    const [c] = await commitToStore(suite, dealt.keyPackages[0]!, store, 1);
    await store.close();
    const db = join(p.dir, 'db');
    cpSync(db, join(p.dir, 'db-copy'), { recursive: true });
    store = await openPartyStore(p);
    (await store.consume(commitmentKey(c!))).hiding.wipe(); // signed once
    await store.close();
    rmSync(db, { recursive: true, force: true });
    cpSync(join(p.dir, 'db-copy'), db, { recursive: true });
    return commitmentKey(c!);
  }
  const consumeAfterStart = async (p: ReturnType<typeof partyDir>, key: string, argv: string[]) => {
    await (await p.start(argv)).close();
    const store = await openPartyStore(p);
    try {
      return await store.consume(key).then(
        (n) => {
          n.hiding.wipe();
          return 'handed out';
        },
        (e: { code?: string }) => e.code,
      );
    } finally {
      await store.close();
    }
  };

  it('by default a restored copy hands out a nonce used after the copy (the hazard the option is for)', async () => {
    const p = partyDir();
    const key = await restoredAfterUse(p);
    expect(await consumeAfterStart(p, key, [])).toBe('handed out');
  });

  it('with it, the start expires every stored nonce before serving', async () => {
    const p = partyDir();
    const key = await restoredAfterUse(p);
    expect(await consumeAfterStart(p, key, ['--drop-nonces-at-start', 'true'])).toBe('UNKNOWN_NONCE');
    expect(p.lines.map((l) => JSON.parse(l) as { event: string; count?: number })).toContainEqual(
      expect.objectContaining({ event: 'nonces.dropped_at_start', count: 1 }),
    );
  });
});

describe('connections', () => {
  it('a half-sent request is answered 408 and closed within the 10 s header deadline; a kept-alive client idle past it is still served', async () => {
    const p = partyDir();
    const party = await p.start();
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const health = () =>
        new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
          const req = get(`${party.url}/healthz`, { agent }, (res) => {
            res.resume();
            res.once('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
          });
          req.on('error', reject);
        });
      expect(await health()).toEqual({ status: 200, reused: false });
      const started = Date.now();
      const answer = await new Promise<{ text: string; after: number }>((resolve) => {
        let text = '';
        const s = connect(party.port, '127.0.0.1', () => s.write('G'));
        s.on('data', (d) => {
          text += d.toString('latin1');
        });
        s.on('error', () => undefined);
        s.once('close', () => resolve({ text, after: Date.now() - started }));
      });
      expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer.after).toBeGreaterThanOrEqual(9_000);
      expect(answer.after).toBeLessThan(13_000);
      expect(await health()).toEqual({ status: 200, reused: true });
      agent.destroy();
    } finally {
      await party.close();
    }
  });
});
