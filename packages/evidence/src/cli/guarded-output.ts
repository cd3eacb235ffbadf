/**
 * A command line's standard output and error, guarded: a write error (EPIPE once the reader of a
 * pipe has left, as in `aaps-verify - | head -1` or `aaps submit f | head -1`) ends that stream's
 * output quietly instead of crashing the process with an unhandled `'error'` event and a stack
 * trace. Later lines to it are dropped, and `gone` aborts, so a command that only verifies or
 * follows and prints stops; a server (`aaps up`) keeps running without its output. Used by
 * `aaps-verify` and by the `aaps` CLI.
 */

export interface CliOutput {
  /** One line on stdout, unless stdout is gone. */
  print(line: string): void;
  /** One line on stderr, unless stderr is gone. */
  error(line: string): void;
  /** Aborted once stdout is gone. */
  readonly gone: AbortSignal;
}

export function guardedOutput(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): CliOutput {
  const gone = new AbortController();
  let errGone = false;
  stdout.on('error', () => gone.abort());
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
  };
}

let processOutput: CliOutput | undefined;

/** This process's guarded stdout and stderr (the listeners are added once). */
export function processCliOutput(): CliOutput {
  processOutput ??= guardedOutput();
  return processOutput;
}
