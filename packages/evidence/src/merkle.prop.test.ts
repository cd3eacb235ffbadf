import { createHash } from 'node:crypto';
import { VerificationError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MemoryMerkleTree,
  MerkleFrontier,
  NodeHashMemo,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

// An independent, deliberately naive reading of RFC 9162 §2.1: recursive MTH, PATH and PROOF over
// the leaf list, with its own hashing.
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const k = (n: number) => {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
};
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
  const s = k(d.length);
  return sha(Uint8Array.of(1), mth(d.slice(0, s)), mth(d.slice(s)));
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s
    ? [...path(m, d.slice(0, s)), mth(d.slice(s))]
    : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s
    ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))]
    : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}
const hex = (list: Uint8Array[]) => list.map((b) => Buffer.from(b).toString('hex'));

const leavesArb = fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 150 });

function build(leaves: Uint8Array[]): MemoryMerkleTree {
  const t = new MemoryMerkleTree();
  for (const l of leaves) t.append(l);
  return t;
}

function checkOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    return e.check;
  }
}

describe('incremental tree vs the naive RFC 9162 definitions', () => {
  it('roots of every prefix equal MTH', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const t = build(leaves);
        for (let n = 0; n <= leaves.length; n++) {
          expect(Buffer.from(t.root(n)).toString('hex')).toBe(
            Buffer.from(mth(leaves.slice(0, n))).toString('hex'),
          );
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a frontier read leaf by leaf has the root of every prefix (MTH)', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const f = new MerkleFrontier();
        expect(Buffer.from(f.root()).toString('hex')).toBe(Buffer.from(mth([])).toString('hex'));
        for (let n = 1; n <= leaves.length; n++) {
          expect(f.append(leaves[n - 1]!)).toBe(n - 1);
          expect(f.size).toBe(n);
          expect(Buffer.from(f.root()).toString('hex')).toBe(
            Buffer.from(mth(leaves.slice(0, n))).toString('hex'),
          );
        }
      }),
      { numRuns: 60 },
    );
  });

  it('inclusion proofs equal PATH and verify', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), (leaves, a, b) => {
        const t = build(leaves);
        const n = (a % leaves.length) + 1;
        const m = b % n;
        const proof = t.inclusionProof(m, n);
        expect(hex(proof)).toEqual(hex(path(m, leaves.slice(0, n))));
        const leafHash = sha(Uint8Array.of(0), leaves[m]!);
        verifyInclusion(leafHash, m, n, proof, mth(leaves.slice(0, n)));
      }),
      { numRuns: 300 },
    );
  });

  it('consistency proofs equal PROOF and verify', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), (leaves, a, b) => {
        const t = build(leaves);
        const n = (a % leaves.length) + 1;
        const m = (b % n) + 1;
        const proof = t.consistencyProof(m, n);
        expect(hex(proof)).toEqual(hex(m === n ? [] : subproof(m, leaves.slice(0, n), true)));
        verifyConsistency(m, n, proof, mth(leaves.slice(0, m)), mth(leaves.slice(0, n)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile proofs', () => {
  const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const junk = fc.oneof(
    hash,
    fc.uint8Array({ maxLength: 40 }),
    fc.constant(null),
    fc.string(),
    fc.integer(),
    fc.constant(undefined),
  );
  const size = fc.oneof(
    fc.integer({ min: -3, max: 70 }),
    fc.constant(2 ** 53),
    fc.double(),
    fc.constant(Number.NaN),
  );

  it('never crash: any garbage is a VerificationError naming log.inclusion', () => {
    fc.assert(
      fc.property(
        hash,
        size,
        size,
        fc.oneof(fc.array(junk, { maxLength: 70 }), junk),
        junk,
        (leaf, i, n, proof, root) => {
          const check = checkOf(() =>
            verifyInclusion(leaf, i as number, n as number, proof, root as Uint8Array),
          );
          // Random data can only pass by finding a SHA-256 preimage.
          expect(check).toBe('log.inclusion');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never crash: any garbage is a VerificationError naming log.consistency', () => {
    fc.assert(
      fc.property(
        size,
        size,
        fc.oneof(fc.array(junk, { maxLength: 70 }), junk),
        hash,
        hash,
        (m, n, proof, r1, r2) => {
          const check = checkOf(() => verifyConsistency(m as number, n as number, proof, r1, r2));
          expect(check).toBe('log.consistency');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a real proof with any one hash bit flipped fails', () => {
    fc.assert(
      fc.property(
        leavesArb,
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 255 }),
        (leaves, a, b, which, bit) => {
          const t = build(leaves);
          const n = (a % leaves.length) + 1;
          const m = b % n;
          const proof = t.inclusionProof(m, n);
          fc.pre(proof.length > 0);
          const bad = proof.map((h) => h.slice());
          const target = bad[which % bad.length]!;
          target[bit % 32]! ^= 1 << (bit % 8);
          const leafHash = sha(Uint8Array.of(0), leaves[m]!);
          expect(checkOf(() => verifyInclusion(leafHash, m, n, bad, t.root(n)))).toBe('log.inclusion');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('node hash memo', () => {
  it('changes no verdict: every leaf of a tree, then any tampered proof, under one shared memo', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), fc.nat({ max: 255 }), (leaves, a, which, bit) => {
        const t = build(leaves);
        const n = (a % leaves.length) + 1;
        const root = t.root(n);
        const memo = new NodeHashMemo();
        const leafHash = (m: number) => sha(Uint8Array.of(0), leaves[m]!);
        // Warm the memo with every leaf's path, twice (the second pass is served from it).
        for (let pass = 0; pass < 2; pass++) {
          for (let m = 0; m < n; m++) verifyInclusion(leafHash(m), m, n, t.inclusionProof(m, n), root, memo);
        }
        const m = which % n;
        const proof = t.inclusionProof(m, n);
        // A flipped bit in the leaf or in any proof hash still fails with the memo warm.
        const badLeaf = leafHash(m);
        badLeaf[bit % 32]! ^= 1 << (bit % 8);
        expect(checkOf(() => verifyInclusion(badLeaf, m, n, proof, root, memo))).toBe('log.inclusion');
        if (proof.length > 0) {
          const bad = proof.map((h) => h.slice());
          bad[bit % bad.length]![bit % 32]! ^= 1 << (bit % 8);
          expect(checkOf(() => verifyInclusion(leafHash(m), m, n, bad, root, memo))).toBe('log.inclusion');
        }
        // Any claimed position gets the verdict it gets without the memo.
        const other = bit % n;
        const verdict = (memo?: NodeHashMemo) =>
          checkOf(() => verifyInclusion(leafHash(m), other, n, proof, root, memo));
        expect(verdict(memo)).toBe(verdict());
      }),
      { numRuns: 150 },
    );
  });

  it('keeps its own copies: changing arrays after a check does not change later verdicts', () => {
    const leaves = Array.from({ length: 9 }, (_, i) => Uint8Array.of(i));
    const t = build(leaves);
    const root = t.root(9);
    const memo = new NodeHashMemo();
    const leafHash = sha(Uint8Array.of(0), leaves[4]!);
    // Buffers, whose slice() is a view: the memo must copy them all the same.
    const proof = t.inclusionProof(4, 9).map((h) => Buffer.from(h));
    const computed = rootFromInclusionProof(leafHash, 4, 9, proof, memo);
    expect(hex([computed])).toEqual(hex([root]));
    computed.fill(0);
    for (const h of proof) h.fill(7);
    // The changed proof first: a memo holding views of it would now take it for the good one.
    expect(checkOf(() => verifyInclusion(leafHash, 4, 9, proof, root, memo))).toBe('log.inclusion');
    expect(checkOf(() => verifyInclusion(leafHash, 4, 9, t.inclusionProof(4, 9), root, memo))).toBe(
      undefined,
    );
  });
});
