/**
 * The admin token `aaps up` makes on a first start (`api-token`, 0600) is what every client of the
 * deployment presents: it must be on disk, whole, before the start goes on, or a power loss soon
 * after leaves an empty file that the next start refuses (a token under 16 characters), whose only
 * way out is a new admin token. Made beside the target, synced, linked into place, and its
 * directory synced: checked on the system calls a real process makes (`strace`), where it runs.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { durabilityGaps, straceWorks, traceFileCalls } from '../../../agents/src/test-helpers/file-writes.js';
import { ensureToken } from './up.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../../dist/cli/up.js')).href;
const root = realpathSync(mkdtempSync(join(tmpdir(), 'api-token-durable-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the first start's admin token", () => {
  it.skipIf(!straceWorks)('is synced before it is put in place, and its directory after', () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const calls = traceFileCalls(`import { ensureToken } from ${JSON.stringify(DIST)};
ensureToken(${JSON.stringify(dir)}, undefined);`);
    expect(durabilityGaps(calls, join(dir, 'api-token'), dir)).toEqual([]);
  });

  it('is made 0600 once and read back by the next start', () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const first = ensureToken(dir, undefined);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'api-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'api-token'), 'utf8')).toBe(`${first.token}\n`);
    expect(ensureToken(dir, undefined)).toMatchObject({ token: first.token, created: false, mode: 0o600 });
  });
});
