import {
  AapsError,
  CIPHERSUITE_IDS,
  getCiphersuite,
  KeyPackageCodec,
  ProtocolError,
  trustedDealer,
  ValidationError,
} from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backupFileToJson, parseBackupFile } from './backup-file.js';
import { restoreBackup } from './restore.js';
import { splitBackup } from './split.js';

const dealers = Object.fromEntries(
  CIPHERSUITE_IDS.map((id) => [id, trustedDealer(getCiphersuite(id), { min: 2, max: 3 })]),
);

describe('backup laws', () => {
  it('for every suite, any k of m files in any order restore the package; any k-1 restore nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CIPHERSUITE_IDS),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 2, max: 6 }).chain((m) =>
          fc.tuple(
            fc.constant(m),
            fc.integer({ min: 2, max: m }),
            fc.shuffledSubarray(
              Array.from({ length: m }, (_, i) => i),
              { minLength: m },
            ),
          ),
        ),
        async (suite, which, [m, k, order]) => {
          const d = dealers[suite]!;
          const kp = d.keyPackages[which]!;
          const bytes = KeyPackageCodec.encode(kp.suite, kp);
          const files = await splitBackup(bytes, {
            k,
            m,
            partyId: 'maintenance',
            groupPublicKey: kp.groupPublicKey,
            verifyingShare: kp.verifyingShare,
            publicPackage: d.publicPackage,
            createdAt: '2026-11-25T16:00:00.000Z',
          });
          const inputs = order.map((i) => ({
            name: `file-${i + 1}`,
            json: JSON.parse(JSON.stringify(backupFileToJson(files[i]!))),
          }));
          const r = await restoreBackup(inputs.slice(0, k));
          expect(Buffer.from(r.keyPackageBytes).equals(Buffer.from(bytes))).toBe(true);
          await expect(restoreBackup(inputs.slice(0, k - 1))).rejects.toSatisfy(
            (e) => e instanceof ProtocolError && e.code === 'QUORUM_UNREACHABLE',
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('hostile files are refused with a typed error, never a crash', async () => {
    const d = dealers['FROST-ED25519-SHA512-v1']!;
    const kp = d.keyPackages[0]!;
    const files = await splitBackup(KeyPackageCodec.encode(kp.suite, kp), {
      k: 2,
      m: 3,
      partyId: 'maintenance',
      groupPublicKey: kp.groupPublicKey,
      verifyingShare: kp.verifyingShare,
      publicPackage: d.publicPackage,
      createdAt: '2026-11-25T16:00:00.000Z',
    });
    const good = files.map((f) => backupFileToJson(f));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc
            .tuple(fc.constantFrom(...Object.keys(good[0]!)), fc.jsonValue())
            .map(([k, v]) => ({ ...good[0]!, [k]: v })),
        ),
        async (junk) => {
          try {
            parseBackupFile(junk, 'junk.json');
          } catch (e) {
            expect(e).toBeInstanceOf(ValidationError);
          }
          try {
            await restoreBackup([
              { name: 'junk.json', json: junk },
              { name: 'b.json', json: good[1] },
              { name: 'c.json', json: good[2] },
            ]);
          } catch (e) {
            expect(e).toBeInstanceOf(AapsError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
