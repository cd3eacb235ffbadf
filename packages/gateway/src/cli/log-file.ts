/**
 * The gateway's JSON-lines log file under `aaps up`. A log that cannot be written (a full disk, a
 * removed directory) must not stop the gateway: the change from working to broken is reported
 * once on stderr (not again at each reopen that fails the same way), lines are dropped meanwhile,
 * the file is reopened at most every {@link RETRY_MS}, and once it takes lines again the first one
 * says how many were dropped. A line counts as dropped when it was never written, or when its
 * write failed; the count is reset only by a `log.dropped` line the file took.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** How long a broken log waits before it tries its file again. */
export const RETRY_MS = 5_000;

export interface LogFile {
  write(line: string): void;
  /** Flush and close (resolves once closed, also when broken). */
  close(): Promise<void>;
}

export function openLogFile(
  path: string,
  opts: {
    warn: (line: string) => void;
    now?: () => number;
    /** Called at every failure to open or write, also those not warned again (tests wait on it). */
    broken?: () => void;
  },
): LogFile {
  const now = opts.now ?? Date.now;
  let stream: WriteStream | undefined;
  let brokenAt: number | undefined;
  /** False from a failure until a write succeeds: a failure while broken is not warned again. */
  let working = true;
  let dropped = 0;
  const broke = (what: string, e: NodeJS.ErrnoException) => {
    brokenAt = now();
    opts.broken?.();
    if (!working) return;
    working = false;
    opts.warn(`aaps: cannot ${what} ${path} (${e.code ?? e.message}); log lines are dropped until it can`);
  };
  const open = () => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const s = createWriteStream(path, { flags: 'a', mode: 0o600 });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (stream !== s) return;
      stream = undefined;
      s.destroy();
      broke('write', e);
    });
    stream = s;
  };
  /** Write `line`; once written, `ok` runs; if the write fails it counts as dropped (when `counts`). */
  const put = (s: WriteStream, line: string, counts: boolean, ok?: () => void) => {
    s.write(line, (e) => {
      if (e) {
        if (counts) dropped++;
        return;
      }
      working = true;
      ok?.();
    });
  };
  try {
    open();
  } catch (e) {
    broke('open', e as NodeJS.ErrnoException);
  }
  return {
    write(line) {
      if (stream === undefined) {
        if (brokenAt !== undefined && now() - brokenAt < RETRY_MS) {
          dropped++;
          return;
        }
        try {
          open();
        } catch (e) {
          broke('open', e as NodeJS.ErrnoException);
          dropped++;
          return;
        }
        brokenAt = undefined;
        if (dropped > 0) {
          const count = dropped;
          const at = new Date(now()).toISOString();
          const note = { ts: at, level: 'warn', component: 'gateway', event: 'log.dropped', count };
          // Reset only once the file took it: a reopened file that fails again reports them later.
          put(stream!, `${JSON.stringify(note)}\n`, false, () => {
            dropped -= count;
          });
        }
      }
      put(stream!, line, true);
    },
    close() {
      const s = stream;
      stream = undefined;
      if (s === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        s.end(() => resolve());
        s.once('error', () => resolve());
      });
    },
  };
}
