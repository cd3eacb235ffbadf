/**
 * `aaps unseal --out FILE` puts opened secrets in FILE once: the unseal request is spent (logged,
 * released) when it is posted, so a FILE a power loss takes back is values lost. The new file is
 * synced before it is renamed over FILE; the rename must be synced too (FILE's directory), before
 * the command reports the values written. Checked on the system calls a real process makes
 * (`strace`), where it runs.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { durabilityGaps, straceWorks, traceFileCalls } from '../../../agents/src/test-helpers/file-writes.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../../dist/cli/secret-file.js')).href;
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'unseal-out-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aaps unseal --out FILE', () => {
  it.skipIf(!straceWorks)('syncs the opened values and then the rename over FILE (its directory)', () => {
    const path = join(dir, 'opened.json');
    const calls = traceFileCalls(`import { prepareSecretFile } from ${JSON.stringify(DIST)};
prepareSecretFile(${JSON.stringify(path)}).commit('{"opened": true}\\n');`);
    expect(durabilityGaps(calls, path, dir)).toEqual([]);
  });
});
