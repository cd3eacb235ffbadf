import { createHash, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { VerificationError } from '@aaps/mpc-core';
import { schnorr } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import {
  assertNoFork,
  type Checkpoint,
  formatCheckpoint,
  type NoteKey,
  noteKeyId,
  noteVerifierKey,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  signNote,
  verifyNote,
} from './checkpoint.js';
import { makeEd25519Key } from './test-helpers/fixtures.js';

// golang.org/x/mod/sumdb/note's documented example (note.go, note_test.go): keys and signed note.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const goKey: NoteKey = {
  name: 'PeterNeumann',
  type: 'ed25519',
  publicKey: new Uint8Array(Buffer.from(GO_VKEY.split('+')[2]!, 'base64').subarray(1)),
};

function checkOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    return e.check;
  }
}

describe('C2SP signed notes', () => {
  it('computes the key id as SHA-256(name || 0x0A || 0x01 || key)[:4], as Go does', () => {
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('PeterNeumann\n'), Buffer.from([1]), goKey.publicKey]))
      .digest()
      .subarray(0, 4);
    expect(Buffer.from(noteKeyId(goKey)).toString('hex')).toBe(expected.toString('hex'));
    expect(noteVerifierKey(goKey)).toBe(GO_VKEY);
  });

  it("verifies Go's example note and signs it byte for byte", async () => {
    expect(verifyNote(GO_NOTE, [goKey]).text).toBe(GO_TEXT);
    const seed = Buffer.from(GO_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1);
    const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const priv = createPrivateKey({ key: Buffer.concat([prefix, seed]), format: 'der', type: 'pkcs8' });
    const note = await signNote(GO_TEXT, goKey, async (m) => new Uint8Array(nodeSign(null, m, priv)));
    expect(note).toBe(GO_NOTE);
  });

  it('ignores unknown keys, rejects a failing known key and requires one known key', async () => {
    const a = makeEd25519Key();
    const b = makeEd25519Key();
    const keyA: NoteKey = { name: 'a.example/log', type: 'ed25519', publicKey: a.publicKey };
    const keyB: NoteKey = { name: 'b.example/log', type: 'ed25519', publicKey: b.publicKey };
    const text = 'a.example/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    const signedA = await signNote(text, keyA, a.sign);
    const signedB = await signNote(text, keyB, b.sign);
    const both = signedA + signedB.slice(signedB.lastIndexOf('\n\n') + 2);
    expect(verifyNote(both, [keyB]).key).toBe(keyB);
    expect(checkOf(() => verifyNote(signedA, [keyB]))).toBe('log.checkpoint');
    // Key B's name and id on a signature by A: a known key that fails rejects the note.
    const forged = signedA.replace(/— a\.example\/log (\S+)/, (_m, sig: string) => {
      const raw = Buffer.from(sig, 'base64');
      Buffer.from(noteKeyId(keyB)).copy(raw, 0);
      return `— b.example/log ${raw.toString('base64')}`;
    });
    expect(checkOf(() => verifyNote(forged, [keyA, keyB]))).toBe('log.checkpoint');
  });

  it('rejects malformed notes with log.checkpoint, never a crash', () => {
    const bad = [
      '',
      'no signatures\n',
      `${GO_TEXT}\n`,
      `${GO_TEXT}\n— PeterNeumann\n`,
      `${GO_TEXT}\n— PeterNeumann !!!\n`,
      `${GO_TEXT}\n-- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      GO_NOTE.replace('problem,', 'problem\u0007'),
      GO_NOTE.slice(0, -1),
      GO_NOTE.replace('x08go', 'x08gp'),
    ];
    for (const note of bad) expect(checkOf(() => verifyNote(note, [goKey]))).toBe('log.checkpoint');
  });
});

describe('tlog checkpoints', () => {
  const cp: Checkpoint = {
    origin: 'aaps.test/log',
    size: 42,
    rootHash: new Uint8Array(32).fill(7),
    extensions: [],
  };

  it('formats the C2SP body and parses it back', () => {
    const text = formatCheckpoint(cp);
    expect(text).toBe(`aaps.test/log\n42\n${Buffer.alloc(32, 7).toString('base64')}\n`);
    expect(parseCheckpoint(text)).toEqual(cp);
  });

  it('rejects non-canonical sizes and roots', () => {
    const root = Buffer.alloc(32, 7).toString('base64');
    for (const text of [
      `o\n042\n${root}\n`,
      `o\n-1\n${root}\n`,
      `o\n1\n${Buffer.alloc(31).toString('base64')}\n`,
      `o\n1\n${root}`,
      `\n1\n${root}\n`,
      `o\n1e3\n${root}\n`,
    ]) {
      expect(checkOf(() => parseCheckpoint(text))).toBe('log.checkpoint');
    }
  });

  it('signs and opens an Ed25519 checkpoint', async () => {
    const k = makeEd25519Key();
    const key: NoteKey = { name: 'aaps.test/log', type: 'ed25519', publicKey: k.publicKey };
    const note = await signCheckpoint(cp, key, k.sign);
    const opened = openCheckpoint(note, [key]);
    expect(opened.size).toBe(42);
    expect(opened.rootHash).toEqual(cp.rootHash);
  });

  it('signs and opens a BIP-340 checkpoint under the 0xff type', async () => {
    const secret = schnorr.utils.randomSecretKey();
    const key: NoteKey = { name: 'aaps.test/log', type: 'bip340', publicKey: schnorr.getPublicKey(secret) };
    const note = await signCheckpoint(cp, key, async (m) => schnorr.sign(m, secret));
    expect(openCheckpoint(note, [key]).size).toBe(42);
    const ed: NoteKey = { ...key, type: 'ed25519' };
    expect(Buffer.from(noteKeyId(ed)).equals(Buffer.from(noteKeyId(key)))).toBe(false);
  });

  it('calls two checkpoints of one size with different roots a fork', () => {
    expect(checkOf(() => assertNoFork(cp, { ...cp, rootHash: new Uint8Array(32) }))).toBe('log.consistency');
    assertNoFork(cp, { ...cp });
    assertNoFork(cp, { ...cp, size: 43, rootHash: new Uint8Array(32) });
  });
});
