import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  applyRefresh,
  bytesToHex,
  decodeCbor,
  encodeCbor,
  getCiphersuite,
  type KeyPackage,
  type PublicKeyPackage,
  refreshDealer,
  trustedDealer,
} from '@aaps/mpc-core';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterLayout, layoutCluster } from '../cluster.js';
import { rosterDigest } from '../roster.js';
import { loadOrCreateDataKey } from '../store/files.js';
import { PartyStore } from '../store/level.js';
import { durabilityGaps, straceWorks, traceFileCalls } from '../test-helpers/file-writes.js';
import { runPartyBackup, runPartyRestore } from './party-backup.js';
import { capture, withPartyStore } from './test-helpers/stopped-party-io.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../../dist/cli/party-backup.js')).href;

let dir: string;
let layout: ClusterLayout;
let partyId: string;
let cfg: string;
let dataDir: string;
let original: KeyPackage;
const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dealt = trustedDealer(suite, { min: 3, max: 5 });

function withStore<T>(f: (s: PartyStore) => Promise<T>): Promise<T> {
  return withPartyStore(dataDir, partyId, f);
}

const hold = (keyPackage: KeyPackage, publicPackage: PublicKeyPackage) =>
  withStore((s) =>
    s.saveKey({
      keyPackage,
      publicPackage,
      rosterDigest: rosterDigest(layout.roster),
      createdAt: '2026-11-25T15:00:00.000Z',
    }),
  );

const heldVerifyingShare = async () =>
  bytesToHex((await withStore((s) => s.loadKey()))!.keyPackage.verifyingShare);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-backup-'));
  layout = await layoutCluster({ dir, threshold: 3, ports: [1, 2, 3, 4, 5] });
  partyId = layout.roster.parties[1]!.id;
  cfg = layout.configPaths[partyId]!;
  dataDir = join(dir, 'parties', partyId);
  original = dealt.keyPackages[1]!;
  loadOrCreateDataKey(join(dataDir, 'data.key'), true);
  await withStore((s) =>
    s.saveKey({
      keyPackage: original,
      publicPackage: dealt.publicPackage,
      rosterDigest: rosterDigest(layout.roster),
      createdAt: '2026-11-25T15:00:00.000Z',
    }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Hold the original share, back it up (two of three files kept, in `name`), and refresh the
 * group's sharing: the backup's share is then another sharing of the same group key than `fresh`.
 */
async function backupThenRefresh(name: string) {
  await hold(original, dealt.publicPackage);
  const out = join(dir, name);
  expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', out], {}, capture())).toBe(0);
  const old = readdirSync(out)
    .sort()
    .slice(0, 2)
    .map((f) => join(out, f));
  return { old, fresh: refreshed() };
}

/** This party's share after a refresh of the group's sharing (same group key). */
function refreshed() {
  const zero = refreshDealer(
    suite,
    dealt.publicPackage,
    dealt.keyPackages.map((k) => k.identifier),
  );
  return applyRefresh(suite, original, dealt.publicPackage, zero.shares[1]!);
}

describe('aaps party backup / restore', () => {
  it('backs up to m files (0600), restores from any k into a fresh store, checked', async () => {
    const out = join(dir, 'custodians');
    const io = capture();
    expect(await runPartyBackup(['--config', cfg, '--split', '3/5', '--out', out], {}, io)).toBe(0);
    const files = readdirSync(out).sort();
    expect(files.length).toBe(5);
    for (const f of files) {
      expect(statSync(join(out, f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(out, f), 'utf8')).not.toContain(bytesToHex(original.signingShare.expose()));
    }
    expect(io.lines.slice(1)).toEqual(files.map((f) => join(out, f)));
    const audit = await withStore((s) => s.auditTrail());
    expect(audit.map((a) => a.event)).toContain('key.backup');

    // lose the store, then restore from files 5, 2 and 4
    rmSync(join(dataDir, 'db'), { recursive: true, force: true });
    const rio = capture();
    const pick = [4, 1, 3].map((i) => join(out, files[i]!));
    expect(await runPartyRestore(['--config', cfg, ...pick], {}, rio)).toBe(0);
    // The store it makes is owner only before LevelDB writes into it, as the party's own start makes it.
    expect(statSync(join(dataDir, 'db')).mode & 0o777).toBe(0o700);
    expect((await withStore((s) => s.auditTrail())).map((a) => [a.event, a.detail?.nonces_dropped])).toEqual([
      ['key.restored', 0],
    ]);
    const back = await withStore((s) => s.loadKey());
    expect(back).toBeDefined();
    expect(bytesToHex(back!.keyPackage.signingShare.expose())).toBe(
      bytesToHex(original.signingShare.expose()),
    );
    expect(back!.keyPackage.verifyingShare).toEqual(original.verifyingShare);
    expect(back!.publicPackage).toEqual(dealt.publicPackage);
    expect(back!.rosterDigest).toBe(rosterDigest(layout.roster));

    // no LevelDB file holds the signing share in the clear
    const share = Buffer.from(original.signingShare.expose());
    for (const f of readdirSync(join(dataDir, 'db')))
      expect(readFileSync(join(dataDir, 'db', f)).includes(share), f).toBe(false);

    // a key is there now: refused without --force, accepted with it
    expect(await runPartyRestore(['--config', cfg, ...pick], {}, capture())).toBe(1);
    expect(await runPartyRestore(['--config', cfg, '--force', ...pick], {}, capture())).toBe(0);
    // expected keys from elsewhere are checked
    const wrong = bytesToHex(dealt.keyPackages[0]!.verifyingShare);
    expect(
      await runPartyRestore(
        ['--config', cfg, '--force', '--expect-verifying-share', wrong, ...pick],
        {},
        capture(),
      ),
    ).toBe(1);
    const gk = bytesToHex(dealt.publicPackage.groupPublicKey);
    expect(
      await runPartyRestore(['--config', cfg, '--force', '--expect-group-key', gk, ...pick], {}, capture()),
    ).toBe(0);
  });

  it('refuses a short or mixed set (exit 1) and unreadable input (exit 2), in one line', async () => {
    const a = join(dir, 'set-a');
    const b = join(dir, 'set-b');
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', a], {}, capture())).toBe(0);
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', b], {}, capture())).toBe(0);
    const fa = readdirSync(a).map((f) => join(a, f));
    const fb = readdirSync(b).map((f) => join(b, f));
    const short = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', fa[0]!], {}, short)).toBe(1);
    expect(short.errors.length).toBe(1);
    const mixed = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', fa[0]!, fa[1]!, fb[2]!], {}, mixed)).toBe(1);
    expect(mixed.errors.length).toBe(1);
    expect(mixed.errors[0]).toContain(fb[2]!);
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, 'not json');
    expect(await runPartyRestore(['--config', cfg, '--force', fa[0]!, junk], {}, capture())).toBe(2);
    expect(
      await runPartyRestore(['--config', cfg, '--force', join(dir, 'missing.json')], {}, capture()),
    ).toBe(2);
  });

  it('refuses a backup file that gives a key twice (exit 2), in one line naming the file and the key', async () => {
    const out = join(dir, 'set-twice');
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', out], {}, capture())).toBe(0);
    const [first, second] = readdirSync(out)
      .sort()
      .map((f) => join(out, f));
    // A share first that JSON.parse drops (it keeps the last, the real one); a custodian or a
    // first-wins reader of the file sees the other.
    writeFileSync(second!, readFileSync(second!, 'utf8').replace('{', `{"share":"${'00'.repeat(33)}",`));
    const io = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', first!, second!], {}, io)).toBe(2);
    expect(io.errors).toEqual([
      `aaps party restore: backup file ${second}: share is given twice in one object (JSON parsers differ on which one counts)`,
    ]);
  });

  it('says the party must be stopped when its database is locked, and checks its usage', async () => {
    const io = capture();
    const code = await withStore(() =>
      runPartyBackup(['--config', cfg, '--split', '2/3', '--out', join(dir, 'x')], {}, io),
    );
    expect(code).toBe(1);
    expect(io.errors.length).toBe(1);
    for (const argv of [
      ['--config', cfg, '--out', join(dir, 'y')],
      ['--config', cfg, '--split', '1/3', '--out', join(dir, 'y')],
      ['--config', cfg, '--split', '3/2', '--out', join(dir, 'y')],
      ['--config', cfg, '--split', '2/3'],
      ['--split', '2/3', '--out', join(dir, 'y')],
    ]) {
      const u = capture();
      expect(await runPartyBackup(argv, {}, u)).toBe(2);
      expect(u.errors.length).toBe(1);
      expect(u.errors[0]).not.toContain('\n');
    }
    expect(await runPartyRestore(['--config', cfg], {}, capture())).toBe(2);
    // A value that is a flag is missing: `--out --config F` writes nowhere called "--config".
    const missing = capture();
    expect(await runPartyBackup(['--split', '2/3', '--out', '--config', cfg], {}, missing)).toBe(2);
    expect(missing.errors[0]).toMatch(/--out needs a value/);
  });

  it('--help: the usage on stdout, exit 0, nothing opened', async () => {
    for (const [run, usage] of [
      [runPartyBackup, 'usage: aaps party backup '],
      [runPartyRestore, 'usage: aaps party restore '],
    ] as const) {
      const io = capture();
      expect(await run(['--config', join(dir, 'nowhere.json'), '--help'], {}, io)).toBe(0);
      expect(io.lines).toHaveLength(1);
      expect(io.lines[0]).toContain(usage);
      expect(io.errors).toEqual([]);
    }
  });

  it('refuses to back up a party that has no key yet', async () => {
    const other = layout.roster.parties[2]!.id;
    const otherDir = join(dir, 'parties', other);
    const store = await PartyStore.open(
      join(otherDir, 'db'),
      loadOrCreateDataKey(join(otherDir, 'data.key'), true),
      other,
    );
    await store.close();
    const io = capture();
    expect(
      await runPartyBackup(
        ['--config', layout.configPaths[other]!, '--split', '2/3', '--out', join(dir, 'z')],
        {},
        io,
      ),
    ).toBe(1);
    expect(io.errors.length).toBe(1);
  });

  it('--force puts an older sharing or another group key over a held key only when told what the backup holds', async () => {
    // A backup, then the group refreshes: this party now holds another sharing of the same key.
    const { old, fresh } = await backupThenRefresh('before-refresh');
    await hold(fresh.keyPackage, fresh.publicPackage);
    const freshHex = bytesToHex(fresh.keyPackage.verifyingShare);
    const oldHex = bytesToHex(original.verifyingShare);

    const refused = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', ...old], {}, refused)).toBe(1);
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors[0]).toContain(`--expect-verifying-share ${oldHex}`);
    expect(refused.errors[0]).toMatch(/another sharing of this group key/);
    expect(await heldVerifyingShare()).toBe(freshHex);

    const meant = capture();
    expect(
      await runPartyRestore(
        ['--config', cfg, '--force', '--expect-verifying-share', oldHex, ...old],
        {},
        meant,
      ),
    ).toBe(0);
    expect(await heldVerifyingShare()).toBe(oldHex);

    // A share of another group key held: the backup replaces it only with --expect-group-key.
    const other = trustedDealer(suite, { min: 3, max: 5 });
    await hold(other.keyPackages[1]!, other.publicPackage);
    const foreign = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', ...old], {}, foreign)).toBe(1);
    const gk = bytesToHex(dealt.publicPackage.groupPublicKey);
    expect(foreign.errors[0]).toContain(`--expect-group-key ${gk}`);
    expect(await heldVerifyingShare()).toBe(bytesToHex(other.keyPackages[1]!.verifyingShare));
    expect(
      await runPartyRestore(['--config', cfg, '--force', '--expect-group-key', gk, ...old], {}, capture()),
    ).toBe(0);
    expect(await heldVerifyingShare()).toBe(oldHex);
  });

  it('--force restores over a key record that no longer decodes (the remedy the party names at start)', async () => {
    await hold(original, dealt.publicPackage);
    const out = join(dir, 'before-damage');
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', out], {}, capture())).toBe(0);
    const set = readdirSync(out)
      .sort()
      .slice(0, 2)
      .map((f) => join(out, f));
    const db = new Level<string, Uint8Array>(join(dataDir, 'db'), { valueEncoding: 'view' });
    await db.open();
    const record = decodeCbor((await db.get('key/current'))!) as Record<string, unknown>;
    await db.put('key/current', encodeCbor({ ...record, participants: [['x', 7]] }));
    await db.close();
    await expect(withStore((s) => s.loadKey())).rejects.toThrow(/participants/);

    const refused = capture();
    expect(await runPartyRestore(['--config', cfg, ...set], {}, refused)).toBe(1);
    expect(refused.errors[0]).toMatch(/already has a key; pass --force/);
    expect(await runPartyRestore(['--config', cfg, '--force', ...set], {}, capture())).toBe(0);
    expect(await heldVerifyingShare()).toBe(bytesToHex(original.verifyingShare));
  });

  it('onto a fresh store: a backup from before a refresh is refused with the remedy, and one nothing checked is restored with a warning', async () => {
    const { old, fresh } = await backupThenRefresh('before-refresh-fresh');
    const current = bytesToHex(fresh.keyPackage.verifyingShare);
    const oldHex = bytesToHex(original.verifyingShare);
    const lose = () => rmSync(join(dataDir, 'db'), { recursive: true, force: true });

    // The operator checks it against GET /v1/keys: refused, saying why and what to do instead.
    lose();
    const stale = capture();
    expect(
      await runPartyRestore(['--config', cfg, '--expect-verifying-share', current, ...old], {}, stale),
    ).toBe(1);
    expect(stale.errors).toHaveLength(1);
    expect(stale.errors[0]).toContain('(--expect-verifying-share)');
    expect(stale.errors[0]).toMatch(/another sharing of it, from before a refresh/);
    expect(stale.errors[0]).toContain(`run \`aaps keys repair ${partyId} --reason TEXT\` on the gateway`);
    expect(stale.errors[0]).toContain('[backup.verifying-share]');
    expect(stale.lines).toEqual([]);
    expect(await withStore((s) => s.loadKey())).toBeUndefined();

    // Without a flag nothing can tell: restored (exit 0), with one warning line saying how to check.
    lose();
    const unchecked = capture();
    expect(await runPartyRestore(['--config', cfg, ...old], {}, unchecked)).toBe(0);
    expect(unchecked.lines).toHaveLength(1);
    expect(unchecked.errors).toHaveLength(1);
    expect(unchecked.errors[0]).toMatch(/^aaps party restore: warning: nothing checked this backup/);
    expect(unchecked.errors[0]).toContain('a backup taken before a key refresh');
    expect(unchecked.errors[0]).toContain('the party cannot sign');
    expect(unchecked.errors[0]).toContain(`its verifying share is ${oldHex}`);
    expect(unchecked.errors[0]).toContain('GET /v1/keys');
    expect(unchecked.errors[0]).toContain('--expect-verifying-share');
    expect(await heldVerifyingShare()).toBe(oldHex);

    // Checked (the backup is the group's current sharing here): no warning.
    lose();
    const checked = capture();
    expect(
      await runPartyRestore(['--config', cfg, '--expect-verifying-share', oldHex, ...old], {}, checked),
    ).toBe(0);
    expect(checked.errors).toEqual([]);
    // A key held and compared (--force over the same sharing): no warning either.
    const compared = capture();
    expect(await runPartyRestore(['--config', cfg, '--force', ...old], {}, compared)).toBe(0);
    expect(compared.errors).toEqual([]);
  });

  it('refuses to back up while a refreshed share is pending (not yet committed), writing nothing', async () => {
    await hold(original, dealt.publicPackage);
    const next = refreshed();
    await withStore((s) =>
      s.savePendingKey({
        key: {
          keyPackage: next.keyPackage,
          publicPackage: next.publicPackage,
          rosterDigest: rosterDigest(layout.roster),
          createdAt: '2026-11-26T15:00:00.000Z',
        },
        meta: {
          protocol: 'refresh',
          session: 'refresh-q4',
          packageDigest: 'cd'.repeat(32),
          replaces: null,
          statement: {} as never,
        },
      }),
    );
    const out = join(dir, 'while-pending');
    const io = capture();
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', out], {}, io)).toBe(1);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toContain(
      'holds a refreshed share not yet committed (pending from refresh session refresh-q4)',
    );
    expect(io.errors[0]).toContain('back up then');
    expect(io.lines).toEqual([]);
    expect(existsSync(out)).toBe(false);
    expect((await withStore((s) => s.auditTrail())).map((a) => a.event)).not.toContain('key.backup');
    // Once the commit lands (or the pending share is dropped) the backup runs.
    await withStore((s) => s.dropPendingKey());
    expect(await runPartyBackup(['--config', cfg, '--split', '2/3', '--out', out], {}, capture())).toBe(0);
  });
});

describe('the backup files on disk', () => {
  // A backup is the key share's way back: its files must survive a power loss once the command
  // said it wrote them (and the audit trail recorded `key.backup`). Checked on the system calls a
  // real process makes (`strace`), where it runs.
  it.skipIf(!straceWorks)(
    'writes each file whole and durably: synced, then put in place, then its directory synced',
    () => {
      const out = join(realpathSync(dir), 'durable');
      const args = ['--config', cfg, '--split', '2/3', '--out', out];
      const calls = traceFileCalls(`import { runPartyBackup } from ${JSON.stringify(DIST)};
const code = await runPartyBackup(${JSON.stringify(args)}, {}, { out: () => {}, err: (l) => console.error(l) });
process.exit(code);`);
      const files = readdirSync(out);
      expect(files).toHaveLength(3);
      for (const f of files) expect(durabilityGaps(calls, join(out, f), out)).toEqual([]);
    },
  );
});
