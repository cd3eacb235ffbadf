/**
 * `public-package.json` is the gateway's group key of record: the first DKG saves it and every
 * later start checks the parties against it. It is renamed into place (whole or not at all); it
 * must also be on disk before it is relied on: the new file synced before the rename, and its
 * directory synced after, or a power loss can bring back no file or an empty one. Checked on the
 * system calls a real process makes (`strace`), where it runs.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { durabilityGaps, straceWorks, traceFileCalls } from '../../agents/src/test-helpers/file-writes.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../dist/coordinator-http.js')).href;
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'public-package-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('saving the group key of record', () => {
  it.skipIf(!straceWorks)(
    'syncs public-package.json before renaming it into place and its directory after, the first save and a later one',
    () => {
      const save = `import { writeSavedPublicPackage } from ${JSON.stringify(DIST)};
writeSavedPublicPackage(${JSON.stringify(dir)}, { group_public_key: 'first' });
writeSavedPublicPackage(${JSON.stringify(dir)}, { group_public_key: 'second' });`;
      const calls = traceFileCalls(save);
      const path = join(dir, 'public-package.json');
      expect(calls.filter((c) => c.call === 'rename' && c.to === path)).toHaveLength(2);
      expect(durabilityGaps(calls, path, dir)).toEqual([]);
    },
  );
});
