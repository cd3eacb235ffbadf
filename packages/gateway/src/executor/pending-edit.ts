/**
 * The GitOps executor's note of a step in progress, kept in the git directory from before the
 * step changes the working copy until it is done or undone:
 * - `apply`: the manifests an apply is editing, noted before the first is written, until the edits
 *   are committed or put back;
 * - `revert`: the revert of an incident's commit (a rollback, or an apply undoing a commit it
 *   pushed), noted before `git revert` runs, until the revert is pushed or abandoned;
 * - `drop`: the `git reset` that drops a commit that was never pushed;
 * - `catch-up`: the fast-forward of the local branch to the remote's (`git merge --ff-only`),
 *   which writes the files before it moves the branch.
 * A note found when an apply or rollback starts is from a gateway that stopped in that step
 * (applies and rollbacks of one executor run one at a time): the executor finishes or undoes it
 * (interrupted.ts). Edits and git operations without a note (someone else's) are never discarded.
 *
 * Written durably (durable-file.ts), so after a crash a note is whole or absent. The file functions
 * come from the executor, which owns the I/O (as with `working-copy.ts`).
 */
import { join } from 'node:path';
import { AapsError } from '@aaps/mpc-core';
import { type DurableFiles, removeFileDurably, removeLeftover, writeFileDurably } from './durable-file.js';

export type PendingStep = 'apply' | 'revert' | 'drop' | 'catch-up';

export interface PendingEdit {
  incident_id: string;
  proposal_digest: string;
  /** The step in progress; a note without one (written before steps were noted) is an apply's. */
  step?: PendingStep;
  /** The branch head when the step started. */
  head?: string;
  /** The incident's commit that a `revert` or `drop` undoes; the commit a `catch-up` goes to. */
  commit?: string;
  /**
   * The files the step changes (an apply's manifests, the files of the commit a revert or drop
   * undoes, the files that differ between the two ends of a catch-up), relative to the
   * repository's top directory (not the working directory).
   */
  paths: string[];
}

/** The `node:fs/promises` functions the note uses. */
export interface NoteFiles extends DurableFiles {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
}

export interface PendingEditNote {
  /** The note's path. */
  readonly file: string;
  read(): Promise<PendingEdit | undefined>;
  write(edit: PendingEdit): Promise<void>;
  clear(): Promise<void>;
  /** Removes what a write cut short by a crash left beside the note (never read). */
  removeLeftover(): Promise<void>;
}

const NAME = 'aaps-gitops-pending.json';

const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

function isPendingEdit(v: unknown): v is PendingEdit {
  const o = v as Partial<PendingEdit> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.incident_id !== 'string' ||
    typeof o.proposal_digest !== 'string' ||
    !Array.isArray(o.paths) ||
    !o.paths.every((p) => typeof p === 'string' && p !== '')
  )
    return false;
  const commit = (c: unknown) => typeof c === 'string' && COMMIT.test(c);
  if (o.head !== undefined && !commit(o.head)) return false;
  if (o.step === undefined || o.step === 'apply') return o.commit === undefined;
  // A revert or drop says which commit it undoes and where the branch was; a catch-up, where the
  // branch was and where it goes.
  return (
    (o.step === 'revert' || o.step === 'drop' || o.step === 'catch-up') && commit(o.commit) && commit(o.head)
  );
}

/** The note in git directory `gitDir` (`git rev-parse --absolute-git-dir`). */
export function pendingEditNote(gitDir: string, fs: NoteFiles): PendingEditNote {
  const file = join(gitDir, NAME);
  return {
    file,
    async read() {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (cause) {
        if ((cause as { code?: unknown }).code === 'ENOENT') return undefined;
        throw new AapsError('UNAVAILABLE', `cannot read ${file}`, { cause });
      }
      let edit: unknown;
      try {
        edit = JSON.parse(text);
      } catch {
        edit = undefined;
      }
      if (!isPendingEdit(edit)) {
        throw new AapsError(
          'INTERNAL',
          `${file} is not a note of the GitOps executor: a person must look (and remove it)`,
        );
      }
      return edit;
    },
    async write(edit) {
      await writeFileDurably(fs, file, `${JSON.stringify(edit)}\n`);
    },
    async clear() {
      await removeFileDurably(fs, file);
    },
    async removeLeftover() {
      await removeLeftover(fs, file);
    },
  };
}
