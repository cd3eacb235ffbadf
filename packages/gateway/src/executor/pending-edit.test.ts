/**
 * The GitOps executor's pending note on the real file system: whole and parseable after every
 * write, nothing left beside it, a temporary file from a crash never read and removable, and a
 * note that says less than its step needs refused.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PendingEdit, pendingEditNote } from './pending-edit.js';

let gitDir: string;
const NOTE = 'aaps-gitops-pending.json';
const note = () => pendingEditNote(gitDir, { readFile, open, rename, rm });
const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);

beforeEach(() => {
  gitDir = mkdtempSync(join(tmpdir(), 'aaps-pending-'));
});
afterEach(() => rmSync(gitDir, { recursive: true, force: true }));

describe('pending edit note', () => {
  it('is whole and parseable after each write, with nothing left beside it; clear removes it', async () => {
    const steps: PendingEdit[] = [
      { incident_id: 'inc-1', proposal_digest: 'd1', step: 'apply', head: C1, paths: ['shop/q.json'] },
      {
        incident_id: 'inc-1',
        proposal_digest: 'd1',
        step: 'revert',
        head: C2,
        commit: C1,
        paths: ['shop/q.json'],
      },
      {
        incident_id: 'inc-2',
        proposal_digest: 'd2',
        step: 'drop',
        head: C2,
        commit: C2,
        paths: ['a.json', 'b.json'],
      },
      {
        incident_id: 'inc-3',
        proposal_digest: 'd3',
        step: 'catch-up',
        head: C1,
        commit: C2,
        paths: ['shop/new.json', 'shop/q.json'],
      },
    ];
    const n = note();
    expect(n.file).toBe(join(gitDir, NOTE));
    for (const edit of steps) {
      await n.write(edit);
      expect(JSON.parse(readFileSync(n.file, 'utf8'))).toEqual(edit);
      expect(await n.read()).toEqual(edit);
      expect(readdirSync(gitDir)).toEqual([NOTE]);
    }
    await n.clear();
    expect(await n.read()).toBeUndefined();
    expect(readdirSync(gitDir)).toEqual([]);
  });

  it('a temporary file a crash left mid-write is never read, and removeLeftover removes it', async () => {
    writeFileSync(join(gitDir, `${NOTE}.tmp`), '{"incident_id": "inc-half');
    const n = note();
    expect(await n.read()).toBeUndefined();
    const edit: PendingEdit = { incident_id: 'inc-1', proposal_digest: 'd1', paths: ['q.json'] };
    await n.write(edit);
    writeFileSync(join(gitDir, `${NOTE}.tmp`), '{"incident_id": "inc-half');
    expect(await n.read()).toEqual(edit);
    await n.removeLeftover();
    expect(readdirSync(gitDir)).toEqual([NOTE]);
  });

  it("refuses a note that does not say what its step needs: it is not the executor's", async () => {
    const bad = [
      { incident_id: 'i', proposal_digest: 'd', step: 'revert', head: C1, paths: [] },
      { incident_id: 'i', proposal_digest: 'd', step: 'drop', commit: C1, paths: [] },
      { incident_id: 'i', proposal_digest: 'd', step: 'catch-up', head: C1, paths: [] },
      { incident_id: 'i', proposal_digest: 'd', step: 'apply', head: 'HEAD', paths: [] },
      { incident_id: 'i', proposal_digest: 'd', step: 'rebase', head: C1, commit: C1, paths: [] },
    ];
    for (const v of bad) {
      writeFileSync(join(gitDir, NOTE), JSON.stringify(v));
      await expect(note().read(), JSON.stringify(v)).rejects.toMatchObject({ code: 'INTERNAL' });
    }
  });
});
