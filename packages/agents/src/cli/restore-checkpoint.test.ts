/**
 * `aaps party restore --checkpoint NOTE`: a party restored onto a fresh store takes a log
 * checkpoint the group signed as its record of the log, so it is not left to take the next one it
 * is shown on trust. A note not signed by the backup's group key, of another log, or naming another
 * root for a size the party recorded is refused before anything is written.
 */
import { createPrivateKey, sign as nodeSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCheckpoint } from '@aaps/evidence';
import { bytesToHex, getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { ed25519 } from '@noble/curves/ed25519.js';
import { numberToBytesLE } from '@noble/curves/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layoutCluster } from '../cluster.js';
import { rosterDigest } from '../roster.js';
import { loadOrCreateDataKey } from '../store/files.js';
import type { PartyStore } from '../store/level.js';
import { type CliIo, runPartyBackup, runPartyRestore } from './party-backup.js';
import { capture, withPartyStore } from './test-helpers/stopped-party-io.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const ORIGIN = 'aaps.test/restore-log';
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 key whose scalar is dealt as the group secret: it signs as the group does. */
function groupSigner(seed: Uint8Array) {
  const scalar = ed25519.utils.getExtendedPublicKey(seed).scalar;
  const key = createPrivateKey({ key: Buffer.concat([PKCS8, seed]), format: 'der', type: 'pkcs8' });
  return {
    secret: numberToBytesLE(scalar, 32),
    sign: async (message: Uint8Array) => new Uint8Array(nodeSign(null, message, key)),
  };
}

const group = groupSigner(randomBytes(32));
const other = groupSigner(randomBytes(32));
const dealt = trustedDealer(suite, { min: 3, max: 5 }, { secret: group.secret });

let dir: string;
let cfg: string;
let dataDir: string;
let partyId: string;
let backupFiles: string[];

function withStore<T>(f: (s: PartyStore) => Promise<T>): Promise<T> {
  return withPartyStore(dataDir, partyId, f);
}

/** A checkpoint note of `size` leaves (root: `root` byte repeated), signed by `by`, written to a file. */
async function note(size: number, root: number, by = group, origin = ORIGIN): Promise<string> {
  const text = await signCheckpoint(
    { origin, size, rootHash: new Uint8Array(32).fill(root), extensions: [] },
    { name: origin, type: 'ed25519', publicKey: dealt.publicPackage.groupPublicKey },
    by.sign,
  );
  const file = join(dir, `ckpt-${size}-${root}-${by === group ? 'group' : 'other'}-${origin.length}.txt`);
  writeFileSync(file, text);
  return file;
}

const loseStore = () => rmSync(join(dataDir, 'db'), { recursive: true, force: true });
const restore = (io: CliIo, ...extra: string[]) =>
  runPartyRestore(['--config', cfg, '--force', ...extra, ...backupFiles], {}, io);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-restore-ckpt-'));
  const layout = await layoutCluster({ dir, threshold: 3, ports: [1, 2, 3, 4, 5] });
  partyId = layout.roster.parties[1]!.id;
  cfg = layout.configPaths[partyId]!;
  dataDir = join(dir, 'parties', partyId);
  loadOrCreateDataKey(join(dataDir, 'data.key'), true);
  await withStore((s) =>
    s.saveKey({
      keyPackage: dealt.keyPackages[1]!,
      publicPackage: dealt.publicPackage,
      rosterDigest: rosterDigest(layout.roster),
      createdAt: '2026-11-25T15:00:00.000Z',
    }),
  );
  const out = join(dir, 'custodians');
  expect(await runPartyBackup(['--config', cfg, '--split', '3/5', '--out', out], {}, capture())).toBe(0);
  backupFiles = readdirSync(out)
    .sort()
    .slice(0, 3)
    .map((f) => join(out, f));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aaps party restore --checkpoint', () => {
  it('onto a fresh store: the group-signed checkpoint becomes the record the party holds the log to', async () => {
    loseStore();
    const io = capture();
    expect(await restore(io, '--checkpoint', await note(40, 7))).toBe(0);
    expect(io.lines).toEqual([
      expect.stringMatching(
        new RegExp(`; it holds the log ${ORIGIN} to tree size 40 and on \\(root ${'07'.repeat(8)}…\\)$`),
      ),
    ]);
    const { last, events, rollback } = await withStore(async (s) => ({
      last: await s.lastCheckpoint(ORIGIN),
      events: (await s.auditTrail()).map((a) => [a.event, a.detail?.tree_size]),
      // What the record is for: a smaller tree, or another root at 40, is refused from now on.
      rollback: await s.claimCheckpoint(ORIGIN, { size: 39, root: new Uint8Array(32) }, 'pin'),
    }));
    expect(last).toEqual({ size: 40, rootHex: '07'.repeat(32) });
    expect(events).toEqual([
      ['key.restored', undefined],
      ['checkpoint.restored', 40],
    ]);
    expect(rollback).toMatchObject({ ok: false, rule: 'checkpoint.rollback' });
  });

  it('a store that records the log keeps its own record; another root at its size is refused as a fork, nothing written', async () => {
    // The store of the test before holds size 40, root 07.
    const kept = capture();
    expect(await restore(kept, '--checkpoint', await note(30, 9))).toBe(0);
    expect(kept.lines[0]).toMatch(
      /; kept its own record of the log aaps\.test\/restore-log \(tree size 40\)/,
    );

    const before = await withStore((s) => s.auditTrail());
    const fork = capture();
    expect(await restore(fork, '--checkpoint', await note(40, 8))).toBe(1);
    expect(fork.errors).toEqual([
      `aaps party restore: --checkpoint: this party recorded another root for ${ORIGIN} at tree size 40: the log was forked; nothing restored`,
    ]);
    expect(await withStore((s) => s.auditTrail())).toEqual(before);
  });

  it('refuses, before writing anything, a note another key signed, one of another log, and an unreadable file', async () => {
    loseStore();
    const forged = capture();
    expect(await restore(forged, '--checkpoint', await note(50, 1, other))).toBe(1);
    expect(forged.errors).toEqual([
      expect.stringMatching(
        new RegExp(
          `^aaps party restore: --checkpoint .* is not a log checkpoint signed by the backup's group key \\(${bytesToHex(dealt.publicPackage.groupPublicKey).slice(0, 16)}…\\): `,
        ),
      ),
    ]);
    // Nothing restored: no key, no record.
    expect(await withStore(async (s) => [await s.loadKey(), await s.lastCheckpoint(ORIGIN)])).toEqual([
      undefined,
      undefined,
    ]);

    // A party configured for one log refuses a checkpoint of another.
    const foreign = capture();
    const args = ['--log-origin', 'aaps.test/another-log', '--checkpoint', await note(50, 1, group, ORIGIN)];
    expect(await restore(foreign, ...args)).toBe(1);
    expect(foreign.errors[0]).toMatch(
      /^aaps party restore: --checkpoint: this party signs checkpoints of aaps\.test\/another-log only/,
    );

    const missing = capture();
    expect(await restore(missing, '--checkpoint', join(dir, 'no-such-note'))).toBe(2);
    expect(missing.errors).toEqual([
      `aaps party restore: cannot read --checkpoint ${join(dir, 'no-such-note')}: ENOENT`,
    ]);
    expect(await withStore((s) => s.loadKey())).toBeUndefined();
  });
});
