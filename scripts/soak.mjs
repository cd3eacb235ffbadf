#!/usr/bin/env node
/**
 * `npm run soak`: the long versions of the fault suites (`test/fault`), one file at a time so the
 * figures of one suite are not skewed by another's load. Each suite writes
 * `test/fault/results/<suite>.soak.json` and regenerates `docs/RELIABILITY.md`.
 *
 *   npm run soak                                  # every suite
 *   npm run soak -- test/fault/crash.fault.test.ts  # one suite
 *   FAULT_SEED=7 npm run soak                     # another seed
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = process.argv.slice(2);
const child = spawn(
  process.execPath,
  [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    ...(files.length ? files : ['test/fault']),
    '--no-file-parallelism',
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, SOAK: '1' } },
);
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
