/**
 * The GitOps executor's note of an apply in progress: which manifests it is editing, kept in the
 * git directory from before the first manifest is written until the edits are committed or put
 * back. A note found when an apply or rollback starts is from a gateway that stopped mid-apply
 * (applies and rollbacks of one executor run one at a time): its manifests hold an edit that was
 * never committed, which the executor puts back as the branch head has them. Edits without a note
 * (someone else's) are never discarded: an apply refuses to write over them.
 *
 * Written durably (durable-file.ts), so after a crash, of the process or of the machine, a note is
 * whole or absent. The file functions come from the executor, which owns the I/O (as with
 * `working-copy.ts`).
 */
import { join } from 'node:path';
import { AapsError } from '@aaps/mpc-core';
import { type DurableFiles, removeFileDurably, removeLeftover, writeFileDurably } from './durable-file.js';

export interface PendingEdit {
  incident_id: string;
  proposal_digest: string;
  /** The manifests, relative to the repository's top directory (not the working directory). */
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

function isPendingEdit(v: unknown): v is PendingEdit {
  const o = v as Partial<PendingEdit> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.incident_id === 'string' &&
    typeof o.proposal_digest === 'string' &&
    Array.isArray(o.paths) &&
    o.paths.every((p) => typeof p === 'string' && p !== '')
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
