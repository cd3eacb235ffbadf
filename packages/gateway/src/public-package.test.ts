/** The gateway's saved public key package is used only if it is whole and fits the roster. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster } from '@aaps/agents';
import { getCiphersuite, PublicKeyPackageCodec, trustedDealer, ValidationError } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { readSavedPublicPackage } from './coordinator-http.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-pubpkg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const file = join(dir, 'public-package.json');
const packageJson = (min: number, max: number) =>
  PublicKeyPackageCodec.toJSON(suite.id, trustedDealer(suite, { min, max }).publicPackage);

describe('readSavedPublicPackage', async () => {
  const { roster } = await layoutCluster({ dir: join(dir, 'cluster'), threshold: 3 });

  it('none saved: undefined (the gateway then asks the parties); one that fits: its JSON', () => {
    expect(readSavedPublicPackage(dir, roster)).toBeUndefined();
    const json = packageJson(3, 5);
    writeFileSync(file, JSON.stringify(json));
    expect(readSavedPublicPackage(dir, roster)).toEqual(json);
  });

  it.each([
    [
      'a truncated file',
      () => JSON.stringify(packageJson(3, 5)).slice(0, 50),
      'not a FROST-ED25519-SHA512-v1',
    ],
    [
      // The group key of record twice: JSON.parse keeps the last, a first-wins reader the other.
      'a key given twice',
      () =>
        JSON.stringify(packageJson(3, 5)).replace(
          '"groupPublicKey":',
          `"groupPublicKey":"${'11'.repeat(32)}","groupPublicKey":`,
        ),
      'body.groupPublicKey is given twice in one object (JSON parsers differ on which one counts)',
    ],
    [
      'another threshold',
      () => JSON.stringify(packageJson(2, 5)),
      "threshold 2-of-5 is not the roster's 3-of-5",
    ],
    [
      'another number of parties',
      () => JSON.stringify(packageJson(3, 4)),
      "threshold 3-of-4 is not the roster's 3-of-5",
    ],
  ])('%s: refused with one line saying what to do', (_name, text, why) => {
    writeFileSync(file, text());
    let error: unknown;
    try {
      readSavedPublicPackage(dir, roster);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).toContain('remove it to read the key from the parties again');
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });
});
