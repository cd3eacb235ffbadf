/**
 * Checkpoint rule laws on real Merkle trees: a tree that extends the last one signed, with its real
 * consistency proof, is signed; the same proof with any byte flipped, or another root for either
 * tree, is refused; a smaller tree is refused as a rollback whatever it carries.
 */
import { MemoryMerkleTree } from '@aaps/evidence';
import { bytesToHex } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideCheckpoint } from './checkpoint-rule.js';

/** A tree of 1..64 random leaves and two sizes `first <= second` of it. */
const extension = fc
  .array(fc.uint8Array({ minLength: 0, maxLength: 8 }), { minLength: 1, maxLength: 64 })
  .chain((leaves) =>
    fc.tuple(fc.nat({ max: leaves.length }), fc.nat({ max: leaves.length })).map(([a, b]) => {
      const tree = new MemoryMerkleTree();
      for (const leaf of leaves) tree.append(leaf);
      return { tree, first: Math.min(a, b), second: Math.max(a, b) };
    }),
  );

/** `bytes` with the bits `mask` (not 0) flipped at `at` (modulo the length). */
const flip = (bytes: Uint8Array, at: number, mask: number) => {
  const out = new Uint8Array(bytes);
  out[at % out.length]! ^= mask;
  return out;
};

describe('checkpoint rule laws', () => {
  it('signs any extension of the tree it signed that carries its real consistency proof', () => {
    fc.assert(
      fc.property(extension, ({ tree, first, second }) => {
        const last = { size: first, rootHex: bytesToHex(tree.root(first)) };
        const hashes = tree.consistencyProof(first, second);
        expect(
          decideCheckpoint(last, {
            size: second,
            root: tree.root(second),
            consistency: [{ from: first, hashes }],
          }),
        ).toEqual({
          ok: true,
        });
      }),
    );
  });

  it('refuses the extension with any byte of its proof flipped', () => {
    fc.assert(
      fc.property(
        extension.filter(({ first, second }) => first > 0 && first < second),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ tree, first, second }, which, at, mask) => {
          const last = { size: first, rootHex: bytesToHex(tree.root(first)) };
          const hashes = tree.consistencyProof(first, second);
          const i = which % hashes.length;
          hashes[i] = flip(hashes[i]!, at, mask);
          const decision = decideCheckpoint(last, {
            size: second,
            root: tree.root(second),
            consistency: [{ from: first, hashes }],
          });
          expect(decision).toMatchObject({ ok: false, rule: 'checkpoint.inconsistent', signed_size: first });
        },
      ),
    );
  });

  it('refuses another root for the new tree (a fork at the same size), or for the tree it signed', () => {
    fc.assert(
      fc.property(
        // Every tree extends the empty one, whatever its root: that is no refusal.
        extension.filter(({ first }) => first > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        ({ tree, first, second }, at, mask, newRoot) => {
          const hashes = tree.consistencyProof(first, second);
          const signedRoot = newRoot ? tree.root(first) : flip(tree.root(first), at, mask);
          const root = newRoot ? flip(tree.root(second), at, mask) : tree.root(second);
          const decision = decideCheckpoint(
            { size: first, rootHex: bytesToHex(signedRoot) },
            { size: second, root, consistency: [{ from: first, hashes }] },
          );
          const rule = first === second ? 'checkpoint.fork' : 'checkpoint.inconsistent';
          expect(decision).toMatchObject({ ok: false, rule, signed_size: first });
        },
      ),
    );
  });

  it('refuses a smaller tree as checkpoint.rollback, whatever proofs it carries', () => {
    fc.assert(
      fc.property(
        extension.filter(({ first, second }) => first < second),
        ({ tree, first, second }) => {
          const last = { size: second, rootHex: bytesToHex(tree.root(second)) };
          const consistency = [{ from: second, hashes: tree.consistencyProof(first, second) }];
          expect(decideCheckpoint(last, { size: first, root: tree.root(first), consistency })).toMatchObject({
            ok: false,
            rule: 'checkpoint.rollback',
            signed_size: second,
          });
        },
      ),
    );
  });
});
