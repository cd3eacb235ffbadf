/**
 * `aaps approver init --approver ID` takes only an id spelled as the roster's (lower-case letters,
 * digits and -: packages/agents/src/roster.ts): the id names the key file (an id with "/" or ".."
 * would write it outside <data-dir>/approvers/), and the roster refuses any other spelling, so an
 * entry printed for one could never be used. `aaps approve` and `aaps unseal` check it the same way.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCapture } from './test-helpers/run-capture.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-approver-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('aaps approver init --approver ID', () => {
  it.each([['Alice'], ['alice smith'], ['../../escaped']])(
    '%j (not a roster id): exit 2, one line, no key written, no entry printed',
    async (id) => {
      const dataDir = join(root, `d-${Math.random().toString(36).slice(2)}`, 'data');
      const r = await runCapture(['approver', 'init', '--approver', id, '--data-dir', dataDir]);
      expect(r.out).toBe('');
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toContain('is not a roster id');
      expect(existsSync(join(dataDir, '..'))).toBe(false);
    },
  );

  it('a roster id: the key is made under <data-dir>/approvers/ and its entry printed', async () => {
    const dataDir = join(root, 'ok', 'data');
    const r = await runCapture(['approver', 'init', '--approver', 'alice-2', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dataDir, 'approvers', 'alice-2.key'))).toBe(true);
    expect(JSON.parse(r.out)).toMatchObject({ id: 'alice-2' });
  });

  it.each([[['approve', 'inc-1']], [['unseal', 'a'.repeat(64), '--reason', 'rotate the leaked password']]])(
    '%j with --approver ../x: exit 2 before any key is read',
    async (argv) => {
      const r = await runCapture([
        ...argv,
        '--approver',
        '../x',
        '--url',
        'http://127.0.0.1:9',
        '--api-token',
        't'.repeat(40),
      ]);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([expect.stringContaining('--approver "../x" is not a roster id')]);
    },
  );
});
