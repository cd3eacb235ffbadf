/**
 * Review: errors of the working copy name no credentials. The remote URL may carry a token
 * (`https://user:token@host/...`); an error that names the remote names it without them. Real
 * temporary git repositories; the remote branch is moved by another pusher between the executor's
 * `ls-remote` and its `fetch` (run through the real `execFile`, the move made right after
 * `ls-remote` answers, as a push landing at that moment would).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ExecFile, openWorkingCopy } from './working-copy.js';

let dir: string;
let local: string;
let origin: string;
const gitIn = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-working-copy-review-'));
  local = join(dir, 'local');
  // A directory whose path reads as a URL's user and password: `<dir>//deploy:s3cr3t-token@/origin`.
  origin = join(dir, 'deploy:s3cr3t-token@', 'origin');
  mkdirSync(local, { recursive: true });
  mkdirSync(origin, { recursive: true });
  gitIn(local, 'init', '--quiet', '--initial-branch=main');
  gitIn(local, 'config', 'user.email', 'test@example.invalid');
  gitIn(local, 'config', 'user.name', 'test');
  writeFileSync(join(local, 'a.json'), '{}\n');
  gitIn(local, 'add', '.');
  gitIn(local, 'commit', '--quiet', '-m', 'initial');
  gitIn(origin, 'init', '--quiet', '--bare', '--initial-branch=main');
  gitIn(local, 'push', '--quiet', origin, 'main');
  // The remote gets a commit the local copy lacks.
  const other = join(dir, 'other');
  gitIn(dir, 'clone', '--quiet', origin, other);
  gitIn(other, 'config', 'user.email', 'test@example.invalid');
  gitIn(other, 'config', 'user.name', 'test');
  writeFileSync(join(other, 'b.json'), '{}\n');
  gitIn(other, 'add', '.');
  gitIn(other, 'commit', '--quiet', '-m', 'ahead');
  gitIn(other, 'push', '--quiet', origin, 'main');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('working copy: an error naming the remote', () => {
  it('does not carry the password of the remote URL', async () => {
    const real = promisify(execFile) as unknown as ExecFile;
    const initial = gitIn(local, 'rev-parse', 'HEAD');
    // Right after `ls-remote` answered, another pusher force-moves the branch back.
    const racing: ExecFile = async (file, args, options) => {
      const out = await real(file, args, options);
      if (args.includes('ls-remote')) gitIn(origin, 'update-ref', 'refs/heads/main', initial);
      return out;
    };
    const wc = openWorkingCopy({
      dir: local,
      author: { name: 'aaps', email: 'aaps@example.invalid' },
      networkTimeoutMs: 60_000,
      execFile: racing,
    });
    const remote = `${dir}//deploy:s3cr3t-token@/origin`;
    const error = await wc.remoteHead(remote, 'main').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain('moved while it was being read');
    expect(error?.message).not.toContain('s3cr3t-token');
  });
});
