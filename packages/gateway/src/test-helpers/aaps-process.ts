/** The built `aaps` CLI run as its own process, for tests that meet it as an operator does. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry point (tests that spawn it need `npm run build` first). */
export const AAPS = fileURLToPath(new URL('../../dist/cli/aaps.js', import.meta.url));

/** This process's environment without the shell's `AAPS_` settings. */
export const CLEAN_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('AAPS_')),
);

/**
 * Run `node ARGS` asynchronously (so servers in this process keep answering it) and collect its
 * exit code, the signal that ended it (if any), stdout and stderr.
 */
export function runNode(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** Run `aaps ARGS` in `cwd` (see {@link runNode}) with the shell's `AAPS_` settings left out. */
export async function runAaps(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const { code, out, err } = await runNode([AAPS, ...args], { cwd, env: CLEAN_ENV });
  return { code, out, err };
}

/** How a run of `aaps up` ended, and everything it printed (stdout and stderr, interleaved). */
export interface UpRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

/**
 * Run `aaps up --port 0 ARGS` in `cwd` and send it `signal` once its output matches `when`
 * (`before` runs first); a run that becomes ready first is stopped with SIGINT, and one that
 * neither matches nor ends in 60 s with SIGKILL (its output says how far it got).
 */
export function upUntil(
  cwd: string,
  args: readonly string[],
  when: RegExp,
  signal: NodeJS.Signals,
  before?: () => void,
): Promise<UpRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AAPS, 'up', '--port', '0', ...args], {
      cwd,
      env: CLEAN_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    const hung = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (sent) return;
      if (when.test(out)) {
        sent = true;
        before?.();
        child.kill(signal);
      } else if (/ready at/.test(out)) {
        sent = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('close', (code, sig) => {
      clearTimeout(hung);
      resolve({ code, signal: sig, out });
    });
  });
}
