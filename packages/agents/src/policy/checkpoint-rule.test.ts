/**
 * The checkpoint rule by example: trust on first use, the same checkpoint again, and each refusal
 * (`checkpoint.rollback`, `.fork`, `.behind`, `.inconsistent`) naming the size last signed.
 */
import { MemoryMerkleTree } from '@aaps/evidence';
import { bytesToHex, utf8 } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { decideCheckpoint, type ProposedCheckpoint, type WitnessedCheckpoint } from './checkpoint-rule.js';

const log = new MemoryMerkleTree();
for (let i = 0; i < 16; i++) log.append(utf8(`leaf ${i}`));

/** The log's checkpoint of `size`, with its real consistency proofs from `from`. */
const logAt = (size: number, ...from: number[]): ProposedCheckpoint => ({
  size,
  root: log.root(size),
  consistency: from.map((f) => ({ from: f, hashes: log.consistencyProof(f, size) })),
});
const signed = (size: number): WitnessedCheckpoint => ({ size, rootHex: bytesToHex(log.root(size)) });
const other = new Uint8Array(32).fill(7);

describe('decideCheckpoint', () => {
  it('signs the first checkpoint of an origin, proofs or none (trust on first use)', () => {
    expect(decideCheckpoint(undefined, logAt(5))).toEqual({ ok: true });
    expect(decideCheckpoint(undefined, { size: 9, root: other })).toEqual({ ok: true });
  });

  it('signs the checkpoint it signed last again, with no proof', () => {
    expect(decideCheckpoint(signed(8), logAt(8))).toEqual({ ok: true });
  });

  it('signs a larger tree with a consistency proof from the size it signed, among others', () => {
    expect(decideCheckpoint(signed(6), logAt(13, 3, 6, 10))).toEqual({ ok: true });
  });

  it('refuses a smaller tree size as checkpoint.rollback, even with a proof', () => {
    expect(decideCheckpoint(signed(8), logAt(7))).toMatchObject({
      ok: false,
      rule: 'checkpoint.rollback',
      signed_size: 8,
    });
  });

  it('refuses another root at the size it signed as checkpoint.fork', () => {
    expect(decideCheckpoint(signed(8), { size: 8, root: other })).toMatchObject({
      ok: false,
      rule: 'checkpoint.fork',
      signed_size: 8,
    });
  });

  it('refuses a larger tree with no proof from the size it signed as checkpoint.behind', () => {
    expect(decideCheckpoint(signed(8), logAt(12))).toMatchObject({
      ok: false,
      rule: 'checkpoint.behind',
      signed_size: 8,
    });
    expect(decideCheckpoint(signed(8), logAt(12, 4, 10))).toMatchObject({ rule: 'checkpoint.behind' });
  });

  it('refuses a larger tree whose proof does not lead from the root it signed as checkpoint.inconsistent', () => {
    const refusal = { ok: false, rule: 'checkpoint.inconsistent', signed_size: 8 };
    // Another root for the new tree, a proof of another pair of sizes, no hashes at all.
    expect(decideCheckpoint(signed(8), { ...logAt(12, 8), root: other })).toMatchObject(refusal);
    const wrongPair = { from: 8, hashes: log.consistencyProof(4, 12) };
    expect(decideCheckpoint(signed(8), { ...logAt(12), consistency: [wrongPair] })).toMatchObject(refusal);
    expect(
      decideCheckpoint(signed(8), { ...logAt(12), consistency: [{ from: 8, hashes: [] }] }),
    ).toMatchObject(refusal);
    // The party signed another tree of size 8 than the one this log's proof starts from.
    const forked = { size: 8, rootHex: bytesToHex(other) };
    expect(decideCheckpoint(forked, logAt(12, 8))).toMatchObject(refusal);
  });
});
