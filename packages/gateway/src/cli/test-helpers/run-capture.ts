/**
 * Runs `aaps` in process as its bin does (`run(argv, env, error)`), capturing what it writes: the
 * lines it reports as errors (stderr) and everything written to stdout.
 */
import { vi } from 'vitest';
import { run } from '../aaps.js';

export async function runCapture(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; err: string[]; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    const code = await run([...argv], env, (l) => void err.push(l));
    return { code, err, out: out.join('') };
  } finally {
    spy.mockRestore();
  }
}
