/**
 * The gateway's JSON-lines log file under `aaps up`. A log that cannot be written (a full disk, a
 * removed directory) must not stop the gateway: the first failure is reported once on stderr,
 * lines are dropped meanwhile, the file is reopened at most every {@link RETRY_MS}, and once it
 * takes lines again the first one says how many were dropped.
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
  opts: { warn: (line: string) => void; now?: () => number },
): LogFile {
  const now = opts.now ?? Date.now;
  let stream: WriteStream | undefined;
  let brokenAt: number | undefined;
  let dropped = 0;
  const open = () => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const s = createWriteStream(path, { flags: 'a', mode: 0o600 });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (stream !== s) return;
      stream = undefined;
      brokenAt = now();
      s.destroy();
      opts.warn(`aaps: cannot write ${path} (${e.code ?? e.message}); log lines are dropped until it can`);
    });
    stream = s;
  };
  try {
    open();
  } catch (e) {
    brokenAt = now();
    opts.warn(
      `aaps: cannot open ${path} (${(e as NodeJS.ErrnoException).code ?? e}); log lines are dropped until it can`,
    );
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
        } catch {
          brokenAt = now();
          dropped++;
          return;
        }
        if (dropped > 0) {
          const at = new Date(now()).toISOString();
          stream!.write(
            `${JSON.stringify({ ts: at, level: 'warn', component: 'gateway', event: 'log.dropped', count: dropped })}\n`,
          );
          dropped = 0;
        }
        brokenAt = undefined;
      }
      stream!.write(line);
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
