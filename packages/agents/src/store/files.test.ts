/** Key files: a missing one names what to do for its kind of key. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentityKey } from './files.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadOrCreateIdentityKey', () => {
  const missing = join(dir, 'absent.key');

  it('a missing party identity key says to run aaps party init', () => {
    expect(() => loadOrCreateIdentityKey(missing, false)).toThrowError(
      `identity key ${missing} does not exist (run \`aaps party init\`)`,
    );
  });

  it('a missing approver key points at aaps up and --approver-key, not party init', () => {
    expect(() => loadOrCreateIdentityKey(missing, false, 'approver')).toThrowError(
      `approver key ${missing} does not exist (pass the --data-dir of the running \`aaps up\`, or --approver-key FILE)`,
    );
  });

  it('a missing gateway key points at aaps up and --gateway-key', () => {
    expect(() => loadOrCreateIdentityKey(missing, false, 'gateway')).toThrowError(/--gateway-key FILE\)$/);
  });

  it('creates the key when asked, and reads it back', () => {
    const path = join(dir, 'approvers', 'oncall.key');
    const made = loadOrCreateIdentityKey(path, true, 'approver');
    expect(loadOrCreateIdentityKey(path, false, 'approver').publicKey).toEqual(made.publicKey);
  });
});
