import { createHash } from 'node:crypto';
import { ValidationError, VerificationError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  hashLeaf,
  MemoryMerkleTree,
  MerkleFrontier,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

// The eight leaves of the RFC 6962 / Certificate Transparency reference test tree.
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
// Roots of its prefixes of sizes 1..8 (certificate-transparency reference data).
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

function tree(leaves: string[]): MemoryMerkleTree {
  const t = new MemoryMerkleTree();
  for (const l of leaves) t.append(bytes(l));
  return t;
}

describe('RFC 9162 Merkle tree', () => {
  it('hashes the empty tree as SHA-256 of nothing', () => {
    expect(hex(EMPTY_ROOT)).toBe(createHash('sha256').digest('hex'));
    expect(hex(new MemoryMerkleTree().root())).toBe(hex(EMPTY_ROOT));
  });

  it('matches the Certificate Transparency reference roots for sizes 1..8', () => {
    const t = tree(CT_LEAVES);
    CT_ROOTS.forEach((root, i) => {
      expect(hex(t.root(i + 1))).toBe(root);
    });
  });

  it('gives inclusion and consistency proofs that verify for every pair in the reference tree', () => {
    const t = tree(CT_LEAVES);
    for (let n = 1; n <= 8; n++) {
      for (let m = 0; m < n; m++) {
        verifyInclusion(
          hashLeaf(bytes(CT_LEAVES[m]!)),
          m,
          n,
          t.inclusionProof(m, n),
          bytes(CT_ROOTS[n - 1]!),
        );
      }
      for (let m = 1; m <= n; m++) {
        verifyConsistency(m, n, t.consistencyProof(m, n), bytes(CT_ROOTS[m - 1]!), bytes(CT_ROOTS[n - 1]!));
      }
    }
  });

  it('rejects a proof for the wrong index, size or root with log.inclusion', () => {
    const t = tree(CT_LEAVES);
    const leaf = hashLeaf(bytes(CT_LEAVES[2]!));
    const proof = t.inclusionProof(2, 8);
    const root = t.root(8);
    const attempts: Array<() => void> = [
      () => verifyInclusion(leaf, 3, 8, proof, root),
      () => verifyInclusion(leaf, 2, 3, proof, root),
      () => verifyInclusion(leaf, 2, 8, proof, t.root(7)),
      () => verifyInclusion(leaf, 2, 8, proof.slice(1), root),
      () => verifyInclusion(leaf, 2, 8, [...proof, root], root),
      () => verifyInclusion(leaf, 8, 8, proof, root),
      () => verifyInclusion(leaf, -1, 8, proof, root),
      () => verifyInclusion(leaf, 2, 2 ** 60, proof, root),
      () => verifyInclusion(leaf, 2, 8, [new Uint8Array(31), ...proof.slice(1)], root),
      () => verifyInclusion(leaf, 2, 8, 'not a proof', root),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(VerificationError);
      try {
        attempt();
      } catch (e) {
        expect((e as VerificationError).check).toBe('log.inclusion');
      }
    }
  });

  it('refuses two roots for one size and wrong consistency proofs with log.consistency', () => {
    const t = tree(CT_LEAVES);
    const cases: Array<() => void> = [
      () => verifyConsistency(8, 8, [], t.root(8), t.root(7)),
      () => verifyConsistency(3, 8, [], t.root(3), t.root(8)),
      () => verifyConsistency(3, 8, t.consistencyProof(3, 8), t.root(4), t.root(8)),
      () => verifyConsistency(3, 8, t.consistencyProof(3, 7), t.root(3), t.root(8)),
      () => verifyConsistency(8, 3, [], t.root(8), t.root(3)),
      () => verifyConsistency(0, 3, [], t.root(3), t.root(3)),
    ];
    for (const c of cases) {
      try {
        c();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(VerificationError);
        expect((e as VerificationError).check).toBe('log.consistency');
      }
    }
    verifyConsistency(0, 3, [], EMPTY_ROOT, t.root(3));
  });

  it('computes the root a proof leads to', () => {
    const t = tree(CT_LEAVES);
    expect(hex(rootFromInclusionProof(hashLeaf(bytes('')), 0, 5, t.inclusionProof(0, 5)))).toBe(CT_ROOTS[4]);
  });
});

describe('merkle verification: "any hostile input" is a VerificationError (merkle.ts header)', () => {
  const tree = new MemoryMerkleTree();
  for (let i = 0; i < 8; i++) tree.append(Uint8Array.of(i));
  const root = tree.root();

  it('verifyInclusion with a proof that has a hole', () => {
    const proof = tree.inclusionProof(3);
    fc.assert(
      fc.property(fc.nat(proof.length - 1), (hole) => {
        const holed = [...proof];
        delete holed[hole];
        let error: unknown;
        try {
          verifyInclusion(hashLeaf(Uint8Array.of(3)), 3, 8, holed, root);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(VerificationError);
        expect((error as VerificationError).check).toBe('log.inclusion');
      }),
      { numRuns: 20 },
    );
  });

  it('verifyConsistency with a proof that has a hole', () => {
    const proof = tree.consistencyProof(3, 8);
    const first = tree.root(3);
    fc.assert(
      fc.property(fc.nat(proof.length - 1), (hole) => {
        const holed = [...proof];
        delete holed[hole];
        let error: unknown;
        try {
          verifyConsistency(3, 8, holed, first, root);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(VerificationError);
        expect((error as VerificationError).check).toBe('log.consistency');
      }),
      { numRuns: 20 },
    );
  });
});

describe('MerkleFrontier', () => {
  it('refuses a leaf hash that is not 32 bytes, and is unchanged by the refusal', () => {
    const f = new MerkleFrontier();
    f.append(new Uint8Array([1]));
    const root = f.root();
    for (const bad of [new Uint8Array(31), new Uint8Array(33), 'ab'.repeat(32) as unknown as Uint8Array]) {
      expect(() => f.appendLeafHash(bad)).toThrow(ValidationError);
    }
    expect(f.size).toBe(1);
    expect(f.root()).toEqual(root);
  });
});
