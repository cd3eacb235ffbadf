/**
 * The data directory's lock file (`aaps-up.pid`) names its holder. A start that finds it refuses
 * when the process it names runs, and takes over a file that names none (a holder that died). The
 * file must therefore never be seen without its pid while its holder is alive: a start that reads
 * it between its creation and the pid's write takes a live holder for a dead one, removes its lock
 * and runs beside it on the same stores and ports.
 *
 * The window is made wide and the order fixed without mocks: the first holder runs under `strace`,
 * which delays its writes to the lock file by seconds (`inject=write:delay_enter`); the second
 * start runs once the file exists.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { straceWorks } from '../../../agents/src/test-helpers/file-writes.js';
import { lockDataDir } from './data-dir-lock.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../../dist/cli/data-dir-lock.js')).href;
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'aaps-lock-race-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the data directory lock, taken by two starts at once', () => {
  it.skipIf(!straceWorks)(
    'a start that finds the lock file of a live holder still writing its pid refuses; it never runs beside it',
    async () => {
      const lockFile = join(dir, 'aaps-up.pid');
      const source = `import { lockDataDir } from ${JSON.stringify(DIST)};
lockDataDir(${JSON.stringify(dir)});
setTimeout(() => {}, 8000);`;
      // Its command line names aaps (the directory and the last argument), as a running `aaps up`'s does.
      const first: ChildProcess = spawn(
        'strace',
        [
          '-qq',
          '-f',
          '-o',
          '/dev/null',
          '-P',
          lockFile,
          '-e',
          'trace=write',
          '-e',
          'inject=write:delay_enter=4000000',
          process.execPath,
          '--input-type=module',
          '-e',
          source,
          'aaps',
        ],
        { stdio: 'ignore' },
      );
      try {
        for (let waited = 0; !existsSync(lockFile); waited += 10) {
          if (waited > 20_000) throw new Error('the first start never made its lock file');
          await new Promise((r) => setTimeout(r, 10));
        }
        let second: ReturnType<typeof lockDataDir> | undefined;
        try {
          expect(() => {
            second = lockDataDir(dir);
          }).toThrow(/^another aaps \(pid \d+\) is using /);
        } finally {
          second?.release();
        }
      } finally {
        first.kill('SIGKILL');
        await new Promise((r) => first.once('exit', r));
      }
    },
  );
});
