/**
 * Two ways to watch a real process write a state file, without mocks: cut its writes short with a
 * file size limit, or trace the system calls it makes.
 */
import { spawnSync } from 'node:child_process';

/**
 * Run the ES module `source` in a child node process whose files may not grow beyond `blocks`
 * 512-byte blocks (`ulimit -f` under sh): a write past the limit stops part way with EFBIG, as one
 * on a full disk stops with ENOSPC. Returns its exit status and standard error.
 */
export function runWithFileSizeLimit(
  blocks: number,
  source: string,
): { status: number | null; stderr: string } {
  const child = spawnSync(
    'sh',
    ['-c', `ulimit -f ${blocks} && exec "${process.execPath}" --input-type=module -e "$AAPS_TEST_SOURCE"`],
    { env: { ...process.env, AAPS_TEST_SOURCE: source }, encoding: 'utf8' },
  );
  return { status: child.status, stderr: child.stderr };
}

/** Whether `strace` runs here (installed, and tracing allowed). */
export const straceWorks: boolean = (() => {
  const probe = spawnSync('strace', ['-o', '/dev/null', 'true']);
  return probe.error === undefined && probe.status === 0;
})();

/** One traced call: an fsync (of the path its descriptor names), or a rename or hard link of `from` onto `to`. */
export type TracedCall =
  | { call: 'fsync'; path: string }
  | { call: 'rename' | 'link'; from: string; to: string };

/**
 * Run the ES module `source` in a child node process under `strace`, and return its fsync,
 * fdatasync, rename and link calls that succeeded, in order (paths as the process named them).
 */
export function traceFileCalls(source: string): TracedCall[] {
  const child = spawnSync(
    'strace',
    [
      '-f',
      '-y',
      '-qq',
      '-e',
      'trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat',
      process.execPath,
      '--input-type=module',
      '-e',
      source,
    ],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(`traced child failed (${child.status}): ${child.stderr}`);
  const calls: TracedCall[] = [];
  for (const line of child.stderr.split('\n')) {
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]*)>\)\s*=\s*0/.exec(line);
    if (sync !== null) {
      calls.push({ call: 'fsync', path: sync[1]! });
      continue;
    }
    const move = /\b(rename|link)(?:at2?)?\(/.exec(line);
    if (move !== null && /=\s*0\s*$/.test(line)) {
      const quoted = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
      const call = move[1] as 'rename' | 'link';
      if (quoted.length >= 2) calls.push({ call, from: quoted[0]!, to: quoted[quoted.length - 1]! });
    }
  }
  return calls;
}

/**
 * What makes each write of `path` in `calls` durable, where it is missing: the new file synced
 * before it is renamed (or linked) onto `path`, and `path`'s directory synced after (before the
 * next such write). Returns the problems, [] if none; a `path` never renamed or linked onto is one
 * (written in place, where a crash can leave it empty or half-written).
 */
export function durabilityGaps(calls: readonly TracedCall[], path: string, dir: string): string[] {
  const puts = calls.flatMap((c, i) => (c.call !== 'fsync' && c.to === path ? [{ i, from: c.from }] : []));
  if (puts.length === 0) return [`nothing renamed or linked onto ${path} (written in place?)`];
  const gaps: string[] = [];
  for (const [n, { i, from }] of puts.entries()) {
    const before = calls.slice(n === 0 ? 0 : puts[n - 1]!.i + 1, i);
    const after = calls.slice(i + 1, puts[n + 1]?.i ?? calls.length);
    if (!before.some((c) => c.call === 'fsync' && c.path === from))
      gaps.push(`${from} not synced before it was put at ${path}`);
    if (!after.some((c) => c.call === 'fsync' && c.path === dir))
      gaps.push(`${dir} not synced after a file was put at ${path}`);
  }
  return gaps;
}
