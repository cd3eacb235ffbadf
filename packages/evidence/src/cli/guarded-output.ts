/**
 * A command line's standard output and error, guarded: a write error ends that stream's output
 * instead of crashing the process with an unhandled `'error'` event and a stack trace. Later lines
 * to it are dropped, and `gone` aborts, so a command that only verifies or follows and prints
 * stops; a server (`aaps up`) keeps running without its output. Used by `aaps-verify` and by the
 * `aaps` CLI.
 *
 * Two kinds of write error on stdout: a reader that left (EPIPE once the reader of a pipe has
 * gone, as in `aaps-verify - | head -1` or `aaps submit f | head -1`; ECONNRESET for a socket) is
 * the reader's choice, and the command ends quietly with the exit code of what it did; any other
 * (ENOSPC, EIO: `aaps openapi > file` on a full disk) lost output someone wanted, so
 * {@link CliOutput.failure} names it and the command must say so on stderr and not exit 0.
 */

export interface CliOutput {
  /** One line on stdout, unless stdout is gone. */
  print(line: string): void;
  /** One line on stderr, unless stderr is gone. */
  error(line: string): void;
  /** Aborted once stdout is gone (its reader left, or a write failed). */
  readonly gone: AbortSignal;
  /**
   * The code (`ENOSPC`, `EIO`, ...) of a stdout write error that is not a reader leaving, or
   * `undefined`. Read it after {@link flush}: a write fails after the call that made it.
   */
  failure(): string | undefined;
  /** Resolves once what was printed is written (or failed): then {@link failure} is final. */
  flush(): Promise<void>;
}

/** The write errors that mean the reader left: the output is no longer wanted. */
const READER_GONE: ReadonlySet<string> = new Set(['EPIPE', 'ECONNRESET']);

/** The code of a stream error, or its message when it has none. */
function codeOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

export function guardedOutput(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): CliOutput {
  const gone = new AbortController();
  let failed: string | undefined;
  let errGone = false;
  stdout.on('error', (e: unknown) => {
    const code = codeOf(e);
    if (!gone.signal.aborted && !READER_GONE.has(code)) failed = code;
    gone.abort();
  });
  stderr.on('error', () => {
    errGone = true;
  });
  return {
    print(line) {
      if (!gone.signal.aborted) stdout.write(`${line}\n`);
    },
    error(line) {
      if (!errGone) stderr.write(`${line}\n`);
    },
    gone: gone.signal,
    failure: () => failed,
    flush() {
      return new Promise((resolve) => {
        // The `'error'` event of a failed write follows its callback: let it come first.
        const settled = () => setImmediate(resolve);
        if (gone.signal.aborted) settled();
        else stdout.write('', settled);
      });
    },
  };
}

let processOutput: CliOutput | undefined;

/** This process's guarded stdout and stderr (the listeners are added once). */
export function processCliOutput(): CliOutput {
  processOutput ??= guardedOutput();
  return processOutput;
}
