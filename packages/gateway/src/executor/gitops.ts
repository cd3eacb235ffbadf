/**
 * The GitOps executor: applies the change to the manifests in a git working copy and commits it
 * (optionally pushing), with a message naming the incident, the proposal digest, the signers and
 * the evidence references. Manifests are JSON files at `<namespace>/<kind>/<name>.json` (kubectl
 * and Argo CD read JSON manifests as they read YAML), regular files inside the repository: a
 * symbolic link is refused, as it could point anywhere on the gateway's host.
 *
 * With a remote, the remote branch is the truth: an apply first fast-forwards the local branch to
 * it (and refuses to commit on top of local commits the remote lacks), and a commit that was not
 * pushed does not stay on the local branch. A failed apply leaves nothing: before the push it
 * resets the branch and files to where they were; after a push that landed (asked of the remote
 * when the push reports a failure) it reverts and pushes the revert.
 *
 * Only what the parties signed is committed. An apply refuses a manifest with changes not
 * committed (nothing of its own: see below), and an edit signed against a value the manifest no
 * longer holds (a quota's `current_hard`, an image rollback's `from_image`): it never writes over
 * a change it was not shown.
 *
 * A change pinned to a Git revision (`restore`: a ConfigMap re-rendered from the revision Argo CD
 * last deployed, the head being what failed) replaces the manifest with its own file as committed
 * at that revision, read from this working copy; the revision must be a full commit id (read as an
 * object, never as a ref of that name) the working copy holds, and the file a regular JSON file
 * there. It never parses the file at the head, which is the broken one.
 *
 * Rollback reverts the incident's commit (and pushes the revert). Without `applied` (an apply
 * that failed, or a gateway that stopped during execution) it finds the commit by the incident id
 * and proposal digest in its message; it answers done only when the change is not, or no longer,
 * on the branch. A revert that does not apply cleanly is abandoned, so the working copy stays
 * usable. Applies and rollbacks of one executor run one at a time. Each step that changes the
 * working copy is noted in the git directory first (pending-edit.ts, written durably): an apply's
 * manifest edits until they are committed or put back, a revert until it is pushed or abandoned, a
 * drop (`git reset`) until it is done. So the next apply or rollback after a gateway stopped in one
 * finishes or undoes it before anything else (interrupted.ts): edits put back as the branch head
 * has them, a half-made revert abandoned and made again by the rollback. A git operation in
 * progress that no note explains (someone else's revert, merge, rebase...) is refused, untouched.
 */
import { execFile } from 'node:child_process';
import { lstat, open, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import { AapsError, isAapsError, ValidationError } from '@aaps/mpc-core';
import { recoverInterrupted } from './interrupted.js';
import { type PendingEdit, pendingEditNote } from './pending-edit.js';
import {
  applyFieldOps,
  type ChangePlan,
  type FieldOp,
  fieldName,
  holdsSignedValue,
  planChange,
  type ResourceChange,
  readField,
} from './plan.js';
import type { AppliedChange, ExecutionOrderPayload, Executor, PostCheck, RollbackOutcome } from './types.js';
import { openWorkingCopy, revertLine, serialQueue, shownRemote as showRemote } from './working-copy.js';

export interface GitopsOptions {
  /** The git working copy holding the manifests. */
  repoDir: string;
  /** Push to this remote after committing (default: no push). */
  remote?: string;
  branch?: string;
  author?: { name: string; email: string };
  /** Time limit for each push, fetch and remote query (default two minutes). */
  networkTimeoutMs?: number;
  /**
   * How long an apply or rollback waits for a git command still running in the working copy
   * (its `index.lock`) before it refuses (default five seconds).
   */
  lockWaitMs?: number;
  now: () => Date;
}

export function manifestPath(change: Pick<ResourceChange, 'namespace' | 'kind' | 'name'>): string {
  return join(change.namespace === '' ? '_cluster' : change.namespace, change.kind, `${change.name}.json`);
}

/**
 * `text` as one line of a commit message: with a line break or another control character in it,
 * JSON-quoted (escaped), so that signed text (a source's `version` is any text) writes no lines of
 * its own: rollback and recovery read `Incident:`, `Proposal-Digest:` and `This reverts commit`
 * lines from messages on the branch.
 */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
  return /[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(text) ? JSON.stringify(text) : text;
}

/** The lines of a commit message that name `order`'s incident and proposal (rollback finds them). */
function orderLines(order: ExecutionOrderPayload): [incident: string, digest: string] {
  return [`Incident: ${order.incident_id}`, `Proposal-Digest: ${order.proposal.proposal_digest}`];
}

export function commitMessage(order: ExecutionOrderPayload, summary: string): string {
  const p = order.proposal;
  return [
    `aaps: ${oneLine(p.action)} ${oneLine(p.target)} (incident ${oneLine(order.incident_id)})`,
    '',
    oneLine(summary),
    '',
    `Incident: ${oneLine(order.incident_id)}`,
    `Proposal-Digest: ${oneLine(p.proposal_digest)}`,
    `Approved-By: ${oneLine(order.approval.signers.join(', '))}`,
    `Approval-Signature: ${oneLine(`${order.approval.ciphersuite}:${order.approval.signature}`)}`,
    ...p.evidence_refs.map((r) => `Evidence: ${oneLine(r)}`),
    `Evidence-Bundle: /v1/incidents/${oneLine(order.incident_id)} (evidence_id once sealed)`,
  ].join('\n');
}

/** A manifest as read before the apply edited it, to put back if the apply fails. */
interface Original {
  rel: string;
  abs: string;
  text: string;
}

export function createGitopsExecutor(opts: GitopsOptions): Executor {
  const repo = resolve(opts.repoDir);
  const branch = opts.branch ?? 'main';
  const remote = opts.remote;
  /** The remote as messages name it: a URL without its user and password (a token, maybe). */
  const shownRemote = remote === undefined ? undefined : showRemote(remote);
  const wc = openWorkingCopy({
    dir: repo,
    author: opts.author ?? { name: 'aaps-maintenance', email: 'maintenance@aaps.invalid' },
    networkTimeoutMs: opts.networkTimeoutMs ?? 120_000,
    execFile: promisify(execFile),
  });
  const { git } = wc;
  // Two git commands at once in one working copy fail on `index.lock`, and an apply's steps must
  // not interleave with another apply's or a rollback's.
  const oneAtATime = serialQueue();

  /** The manifest's path, refused unless it is a regular file at that very path in the repository. */
  const manifestFile = async (change: ResourceChange) => {
    const rel = manifestPath(change);
    const abs = resolve(repo, rel);
    if (!abs.startsWith(repo + sep)) {
      throw new ValidationError('INVALID_ARGUMENT', 'target: resolves outside the repository', ['target']);
    }
    let link = false;
    let file = false;
    let where = '';
    try {
      const stat = await lstat(abs);
      link = stat.isSymbolicLink();
      file = stat.isFile();
      // A directory on the way that is a symbolic link moves the file elsewhere, maybe outside.
      where = await realpath(dirname(abs));
    } catch (cause) {
      throw new ValidationError('NOT_FOUND', `manifest ${rel} is missing or not JSON`, [rel], { cause });
    }
    if (link || where !== join(await realpath(repo), dirname(rel))) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `manifest ${rel} is, or lies under, a symbolic link: refusing to write through it`,
        [rel],
      );
    }
    if (!file) throw new ValidationError('NOT_FOUND', `manifest ${rel} is not a file`, [rel]);
    return { rel, abs };
  };

  /**
   * The text of manifest `rel` as committed at `change.restore.revision`. Refuses a revision that is
   * not the full id of a commit in this working copy (a short one could name a tag or branch, or
   * another commit later), a source path other than the manifest's own, and a path that is no
   * regular file at that revision. `rel` is relative to the working directory, as `ls-tree` reads
   * it; the file is read by the object id `ls-tree` names.
   */
  const textAtRevision = async (change: ResourceChange, rel: string): Promise<string> => {
    const { revision, path } = change.restore!;
    if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(revision)) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `source.revision ${JSON.stringify(revision)} is not a commit id (a full one, 40 or 64 hex digits): gitops reads a pinned manifest only at a commit`,
        ['proposal.parameters.source.revision'],
      );
    }
    if (normalize(path) !== rel) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `source.path ${JSON.stringify(path)} is not ${rel}, the manifest of ${change.resource}: gitops re-renders a manifest only from its own file`,
        ['proposal.parameters.source.path'],
      );
    }
    // A full id is read as an object id, never a ref; the repository's own id length must match.
    const type = await git('cat-file', '-t', revision).catch(() => undefined);
    const commit =
      type === 'commit'
        ? await git('rev-parse', '--verify', '--quiet', `${revision}^{commit}`).catch(() => undefined)
        : undefined;
    if (commit !== revision) {
      throw new ValidationError(
        'NOT_FOUND',
        `revision ${revision} is not in the working copy${shownRemote === undefined ? '' : ` (nor on ${shownRemote} ${branch})`}, or is no commit: cannot read ${rel} at it`,
        ['proposal.parameters.source.revision'],
      );
    }
    // `<mode> <type> <object>\t<path>`: only a regular file (not a link, a directory or a submodule).
    const entry = await git('ls-tree', commit, '--', rel);
    const blob = /^100(?:644|755) blob ([0-9a-f]{40,64})\t[^\n]*$/.exec(entry)?.[1];
    if (blob === undefined) {
      throw new ValidationError(
        'NOT_FOUND',
        `manifest ${rel} is ${entry === '' ? 'missing' : 'not a regular file'} at revision ${revision}`,
        [rel],
      );
    }
    return git('cat-file', 'blob', blob);
  };

  /** `rel` (relative to the working directory) relative to the repository's top directory. */
  const fromTop = (prefix: string, rel: string) => `${prefix}${rel.split(sep).join('/')}`;

  /**
   * Refuses (`CONFLICT`) when any of `files` has changes not committed: staged, unstaged or
   * untracked. Each is named as `name`, and read at `top`, its path from the top directory.
   */
  const refuseUncommitted = async (files: readonly { name: string; top: string }[]) => {
    const status = await git(
      'status',
      '--porcelain',
      '-z',
      '--no-renames',
      '--untracked-files=all',
      '--',
      ...files.map((f) => `:(top,literal)${f.top}`),
    );
    if (status === '') return;
    // `XY <path>` entries (the first one's X may be trimmed away), paths from the top directory.
    const entries = status.split('\0');
    const dirty = files.filter((f) => entries.some((e) => e.endsWith(` ${f.top}`)));
    const named = (dirty.length > 0 ? dirty : files).map((f) => f.name);
    throw new AapsError(
      'CONFLICT',
      `${named.join(', ')} ${named.length === 1 ? 'has' : 'have'} changes not committed in the working copy, made by no execution: an execution commits only what the parties signed, so a person commits or discards them first`,
    );
  };

  /**
   * Refuses (`CONFLICT`) a revert while the index holds staged changes of other files: `git
   * revert` will not run over them, and abandoning it (`reset --merge`) would unstage them.
   */
  const refuseStagedElsewhere = async (commit: string) => {
    const staged = (await git('diff', '--cached', '--name-only', '-z')).split('\0').filter((f) => f !== '');
    if (staged.length === 0) return;
    throw new AapsError(
      'CONFLICT',
      `cannot revert ${commit}: ${staged.join(', ')} ${staged.length === 1 ? 'is' : 'are'} staged in the working copy's index, by no execution: a person commits or unstages ${staged.length === 1 ? 'it' : 'them'} first`,
    );
  };

  const gitDir = () => git('rev-parse', '--absolute-git-dir');
  /** The note of the step in progress (an apply's edit, a revert, a drop), in the git directory. */
  const pendingNote = async () => pendingEditNote(await gitDir(), { readFile, open, rename, rm });

  /**
   * Settles what a gateway that stopped mid-apply or mid-rollback left in the working copy: the
   * noted step's edit or git operation is finished or undone, anyone else's git operation in
   * progress refused (interrupted.ts). Says what it did; undefined when nothing was left.
   */
  const recover = async (): Promise<string | undefined> =>
    recoverInterrupted({
      repo,
      gitDir: await gitDir(),
      git,
      note: await pendingNote(),
      hasRemote: remote !== undefined,
      exists: (path) =>
        lstat(path).then(
          () => true,
          () => false,
        ),
      readFile,
      lockWaitMs: opts.lockWaitMs ?? 5000,
    });

  /** Notes `step` of `order`'s incident before it changes the working copy; the note, to clear. */
  const noteStep = async (
    order: ExecutionOrderPayload,
    step: Omit<PendingEdit, 'incident_id' | 'proposal_digest'>,
  ) => {
    const note = await pendingNote();
    await note.write({
      incident_id: order.incident_id,
      proposal_digest: order.proposal.proposal_digest,
      ...step,
    });
    return note;
  };

  /** The files `commit` changes, from the repository's top directory. */
  const filesOf = async (commit: string) =>
    (await git('diff-tree', '--no-commit-id', '--name-only', '-r', '-z', commit))
      .split('\0')
      .filter((p) => p !== '');

  /** Refuses (`CONFLICT`) an edit signed against a value `manifest` no longer holds. */
  const refuseUnsigned = (manifest: unknown, rel: string, op: FieldOp) => {
    if (op.was === undefined || holdsSignedValue(manifest, op)) return;
    const now = readField(manifest, op.path);
    const shown = now === undefined ? 'absent' : typeof now === 'string' ? now : 'not a string';
    throw new AapsError(
      'CONFLICT',
      `manifest ${rel}: ${fieldName(op.path)} is ${shown}, not ${op.was.value} as the parties signed: refusing to set it to ${op.value} over a change they were not shown`,
    );
  };

  /**
   * The newest commit in `range` whose message holds each of `wanted` as a line of its own
   * (`--grep` matches substrings: "inc-1" in "inc-10", a revert line quoted inside another line).
   */
  const newestWithLines = async (wanted: readonly string[], range: string): Promise<string | undefined> => {
    const out = await git(
      'log',
      '-z',
      '--format=%H%n%B',
      '--fixed-strings',
      '--all-match',
      ...wanted.map((line) => `--grep=${line}`),
      range,
    );
    for (const entry of out.split('\0')) {
      const [id = '', ...lines] = entry.trim().split('\n');
      if (wanted.every((line) => lines.includes(line))) return id;
    }
    return undefined;
  };

  /** The newest commit on the branch whose message names this incident and proposal. */
  const findCommit = (order: ExecutionOrderPayload): Promise<string | undefined> =>
    newestWithLines(orderLines(order), 'HEAD');

  /** Whether the message of `commit` (a commit id) names `order`'s incident and proposal, as lines. */
  const isCommitOf = async (order: ExecutionOrderPayload, commit: string): Promise<boolean> => {
    const lines = (await git('log', '-1', '--format=%B', commit).catch(() => '')).split('\n');
    return orderLines(order).every((line) => lines.includes(line));
  };

  /**
   * The newest commit after `commit` on the branch whose message holds, as a line of its own, the
   * line `git revert` writes (`This reverts commit <id>.`): not a mention inside another line.
   */
  const findRevert = (commit: string): Promise<string | undefined> =>
    newestWithLines([revertLine(commit)], `${commit}..HEAD`);

  /**
   * With a remote: fast-forwards the local branch to the remote's when it is behind, and returns
   * the remote head (undefined without a remote, or when the remote has no such branch yet). The
   * fast-forward writes the files before it moves the branch, so it is noted for `order`'s
   * incident first: a gateway killed in between leaves files ahead of the branch, which the next
   * step puts back (interrupted.ts) before it catches up again.
   */
  const catchUp = async (order: ExecutionOrderPayload): Promise<string | undefined> => {
    if (remote === undefined) return undefined;
    const head = await wc.remoteHead(remote, branch);
    if (head === undefined) return undefined;
    const local = await git('rev-parse', 'HEAD');
    if (local === head || !(await wc.isAncestor(local, head))) return head;
    const paths = (await git('diff', '--name-only', '--no-renames', '-z', local, head))
      .split('\0')
      .filter((p) => p !== '');
    const note = await noteStep(order, { step: 'catch-up', head: local, commit: head, paths });
    try {
      await git('merge', '--ff-only', '--quiet', head);
    } catch (e) {
      // Refused (a person's edit in its way: git wrote nothing) or failed part-way: settle the
      // note now, as the next step would, so that it names no stop that did not happen.
      await recover().catch(() => undefined);
      throw e;
    }
    await note.clear();
    return head;
  };

  /**
   * Pushes `commit` to the remote branch. When git reports a failure (a refusal, a time limit, a
   * connection lost after the remote took it), asks the remote whether the commit landed: returns
   * normally if it did, rethrows if it did not, and throws `UNAVAILABLE` if the remote cannot say.
   */
  const publish = async (commit: string): Promise<void> => {
    if (remote === undefined) return;
    try {
      await git('push', '--quiet', remote, `${commit}:refs/heads/${branch}`);
    } catch (failure) {
      let landed: boolean;
      try {
        const head = await wc.remoteHead(remote, branch);
        landed = head !== undefined && (await wc.isAncestor(commit, head));
      } catch (cause) {
        throw new AapsError(
          'UNAVAILABLE',
          `git push of ${commit} failed and ${shownRemote} cannot be read to tell whether it landed`,
          { cause },
        );
      }
      if (!landed) throw failure;
    }
  };

  /** Puts the branch, the index and the manifests back as they were at `base` (nothing was pushed). */
  const restore = async (base: string, originals: readonly Original[]) => {
    if ((await git('rev-parse', 'HEAD')) !== base) await git('reset', '--quiet', '--keep', base);
    if (originals.length === 0) return;
    await git('reset', '--quiet', base, '--', ...originals.map((o) => o.rel));
    for (const o of originals) await writeFile(o.abs, o.text);
  };

  /**
   * Reverts `commit` of `order`'s incident and pushes the revert; a revert that fails is abandoned.
   * Noted from before `git revert` until it is pushed or abandoned, so that a gateway stopped in
   * between has it settled by the next apply or rollback. Returns the revert.
   */
  const revert = async (order: ExecutionOrderPayload, commit: string): Promise<string> => {
    const before = await git('rev-parse', 'HEAD');
    const paths = await filesOf(commit);
    // The next step puts the noted files back: none may hold someone else's edit.
    await refuseUncommitted(paths.map((p) => ({ name: p, top: p })));
    await refuseStagedElsewhere(commit);
    const note = await noteStep(order, { step: 'revert', head: before, commit, paths });
    try {
      await git('revert', '--no-edit', commit);
    } catch (cause) {
      const clean = await git('revert', '--abort')
        .catch(() => git('reset', '--quiet', '--merge'))
        .then(
          () => true,
          () => false,
        );
      // Not abandoned: the note stays, for the next apply or rollback to settle.
      if (clean) await note.clear().catch(() => undefined);
      throw new AapsError(
        'CONFLICT',
        `git revert of ${commit} did not apply (the manifests changed since, or nothing is left to revert): ${
          clean
            ? 'the revert was abandoned, the working copy is as it was'
            : 'the revert could not be abandoned, the working copy needs a person'
        }`,
        { cause },
      );
    }
    const reverting = await git('rev-parse', 'HEAD');
    try {
      await publish(reverting);
    } catch (e) {
      // The remote does not have the revert (or cannot say): keep the local branch as the remote's.
      await git('reset', '--quiet', '--keep', before)
        .then(() => note.clear())
        .catch(() => undefined);
      throw e;
    }
    // A note left behind names a revert on the branch: the next step would only keep it.
    await note.clear().catch(() => undefined);
    return reverting;
  };

  const apply = async (order: ExecutionOrderPayload): Promise<AppliedChange> => {
    const plan = planChange(order.proposal, opts.now().toISOString());
    const cannot = notAnEdit(plan);
    if (cannot !== undefined) throw new ValidationError('INVALID_ARGUMENT', cannot, ['proposal.action']);
    // A note found here is of a step that stopped: no other runs (one at a time).
    const recovered = await recover();
    const remoteHead = await catchUp(order);
    const base = await git('rev-parse', 'HEAD');
    if (remoteHead !== undefined && base !== remoteHead) {
      throw new AapsError(
        'CONFLICT',
        `the local branch has commits ${shownRemote} ${branch} lacks: push or drop them before an execution commits on top of them`,
      );
    }
    const rels = [
      ...new Set(await Promise.all(plan.resources.map(async (c) => (await manifestFile(c)).rel))),
    ];
    const prefix = await git('rev-parse', '--show-prefix');
    await refuseUncommitted(rels.map((rel) => ({ name: rel, top: fromTop(prefix, rel) })));
    const note = await pendingNote();
    const originals: Original[] = [];
    /** What each touched manifest now holds, for the post-checks. */
    const written = new Map<string, string>();
    let published: string | undefined;
    let result: AppliedChange;
    try {
      await note.write({
        incident_id: order.incident_id,
        proposal_digest: order.proposal.proposal_digest,
        step: 'apply',
        head: base,
        paths: rels.map((rel) => fromTop(prefix, rel)),
      });
      for (const change of plan.resources) {
        const { rel, abs } = await manifestFile(change);
        const text = await readFile(abs, 'utf8');
        const current = written.get(rel) ?? text;
        // A pinned re-render starts from the manifest at that revision; the head's may not parse.
        const from = change.restore === undefined ? current : await textAtRevision(change, rel);
        const where = change.restore === undefined ? '' : ` at revision ${change.restore.revision}`;
        const read = parseJsonRefusingRepeats(from);
        if ('notJson' in read)
          throw new ValidationError('NOT_FOUND', `manifest ${rel}${where} is missing or not JSON`, [rel], {
            cause: read.notJson,
          });
        // A key given twice: JSON.parse keeps the last, which the edit checks and then writes back
        // alone, dropping the other that kubectl, Argo CD or a person may read: never written over.
        if ('repeated' in read)
          throw new ValidationError(
            'DECODE_FAILED',
            `manifest ${rel}${where}: ${read.repeated.problem}: refusing to edit it`,
            [rel],
          );
        const manifest = read.value;
        for (const op of change.set) refuseUnsigned(manifest, rel, op);
        const patched = applyFieldOps(manifest, change.set);
        const next = `${JSON.stringify(patched, null, 2)}\n`;
        if (change.restore !== undefined && next === current) continue;
        // A file two changes touch keeps its text from before the first: that is what a failure restores.
        if (!originals.some((o) => o.rel === rel)) originals.push({ rel, abs, text });
        await writeFile(abs, next);
        written.set(rel, next);
        await git('add', '--', rel);
      }
      const touched = originals.map((o) => o.rel);
      if (touched.length === 0) {
        throw new AapsError(
          'CONFLICT',
          `nothing to commit: the manifests already read as this change (${plan.summary}) would leave them`,
        );
      }
      await git('commit', '--no-verify', '-m', commitMessage(order, plan.summary), '--', ...touched);
      const commit = await git('rev-parse', 'HEAD');
      await publish(commit);
      published = commit;
      const post_checks: PostCheck[] = [];
      for (const change of plan.resources) {
        const { rel, abs } = await manifestFile(change);
        const text = await readFile(abs, 'utf8');
        const now = JSON.parse(text) as unknown;
        const fields = change.set.every((op) => readField(now, op.path) === op.value);
        const restored = change.restore === undefined || text === written.get(rel) || !touched.includes(rel);
        const ok = fields && restored;
        post_checks.push({
          name: `manifest.${rel}`,
          passed: ok,
          detail: !restored
            ? `differs from ${rel} at ${change.restore?.revision}`
            : change.restore !== undefined && change.set.length === 0
              ? `as at revision ${change.restore.revision}`
              : ok
                ? 'fields set'
                : 'fields differ',
        });
      }
      result = {
        change: {
          mode: 'gitops',
          commit,
          files: touched,
          ...plan,
          ...(recovered === undefined ? {} : { recovered }),
        },
        post_checks,
        ref: commit,
      };
    } catch (e) {
      const error = isAapsError(e) ? e : new AapsError('INTERNAL', 'gitops apply failed', { cause: e });
      // Undo what this apply did. Should that fail, rollback (which maintenance calls next) puts
      // back the noted manifests, finds the commit by its message and tries again; its outcome is
      // what the incident records.
      const undone = await (published === undefined
        ? restore(base, originals)
        : revert(order, published)
      ).then(
        () => true,
        () => false,
      );
      if (undone) await note.clear().catch(() => undefined);
      throw error;
    }
    // The edit is committed: a note left behind would only put back what the head already holds.
    await note.clear().catch(() => undefined);
    return result;
  };

  const rollback = async (
    order: ExecutionOrderPayload,
    applied: AppliedChange | undefined,
  ): Promise<RollbackOutcome> => {
    const id = order.incident_id;
    // First the manifests of an apply that stopped before committing (this incident's, or one
    // that stopped before it): their edit is on no branch, and must not ride along with a commit.
    const recovered = await recover();
    const said = (detail: string) => (recovered === undefined ? detail : `${recovered}; ${detail}`);
    // Throws when the remote cannot be read: then nobody can say whether the change is live.
    const remoteHead = await catchUp(order);
    const commit = applied?.ref ?? (await findCommit(order));
    // The ref comes from the incident record; git must not read it as an option.
    if (commit !== undefined && !/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new ValidationError('INVALID_ARGUMENT', 'applied.ref: not a git commit id', ['applied.ref']);
    }
    if (commit === undefined)
      return { done: true, detail: said(`no commit of incident ${id} is on the branch`) };
    if (!(await wc.isAncestor(commit, 'HEAD'))) {
      if (remoteHead !== undefined && (await wc.isAncestor(commit, remoteHead))) {
        throw new AapsError(
          'CONFLICT',
          `${commit} is on ${shownRemote} ${branch} but the local branch has diverged from it: a person must look`,
        );
      }
      return { done: true, detail: said(`${commit} is not on the branch`) };
    }
    if (applied?.ref !== undefined && !(await isCommitOf(order, commit))) {
      // The record names a commit that is not this incident's: reverting it would undo a change
      // the parties approved for another incident (or one a person made).
      throw new AapsError(
        'CONFLICT',
        `${commit}, the commit recorded for incident ${id}, is not this incident's (its message names no Incident: ${id} and Proposal-Digest: ${order.proposal.proposal_digest}): a person must look`,
      );
    }
    const reverted = await findRevert(commit);
    if (reverted !== undefined) {
      return { done: true, detail: said(`${commit} was already reverted in ${reverted}`) };
    }
    const pushed = remoteHead !== undefined && (await wc.isAncestor(commit, remoteHead));
    if (remote !== undefined && !pushed) {
      // Committed but never pushed (the gateway stopped in between): drop it, nobody saw it.
      if ((await git('rev-parse', 'HEAD')) !== commit) {
        throw new AapsError(
          'CONFLICT',
          `${commit} of incident ${id} was never pushed and other local commits follow it: a person must look`,
        );
      }
      const paths = await filesOf(commit);
      await refuseUncommitted(paths.map((p) => ({ name: p, top: p })));
      // Should the reset fail, the note stays: the next step puts the files back as committed.
      const note = await noteStep(order, { step: 'drop', head: commit, commit, paths });
      await git('reset', '--quiet', '--keep', `${commit}^`);
      await note.clear().catch(() => undefined);
      return { done: true, detail: said(`dropped ${commit} of incident ${id}, which was never pushed`) };
    }
    const reverting = await revert(order, commit);
    return { done: true, detail: said(`reverted ${commit} for incident ${id} in ${reverting}`) };
  };

  return {
    name: 'gitops',
    unsupported: (order) => notAnEdit(planChange(order.proposal, opts.now().toISOString())),
    apply: (order) => oneAtATime(() => apply(order)),
    rollback: (order, applied) => oneAtATime(() => rollback(order, applied)),
  };
}

/** Why `plan` is no manifest edit this executor can commit (it names what a person would run). */
function notAnEdit(plan: ChangePlan): string | undefined {
  return plan.resources.length === 0
    ? `gitops cannot carry out ${plan.action} as a manifest edit (${plan.notes.join('; ')})`
    : undefined;
}
