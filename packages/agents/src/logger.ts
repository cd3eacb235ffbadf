/**
 * Structured logging: one JSON line per event with `ts`, `level`, `event`, `component` and ids.
 * Callers pass ids and digests, never secrets, tokens or whole bodies.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | undefined | null | readonly string[]>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Lines to this process's stdout (the one writer for every logger that was given none). */
let stdoutLines: ((line: string) => void) | undefined;

/**
 * Writes to this process's stdout until a write fails (its reader left: EPIPE, as when a `| logger`
 * pipeline or a log collector dies; or any other error): from then on lines are dropped. A process
 * that serves keeps serving without its log: with no listener, that write error was an unhandled
 * `'error'` event, and anyone who could make the process log a line could end it.
 */
function processStdoutLines(): (line: string) => void {
  if (stdoutLines) return stdoutLines;
  let gone = false;
  process.stdout.on('error', () => {
    gone = true;
  });
  stdoutLines = (line) => {
    if (!gone && !process.stdout.destroyed) process.stdout.write(line);
  };
  return stdoutLines;
}

export function createLogger(opts: {
  component: string;
  level?: LogLevel;
  /** Where each line goes (default: this process's stdout, dropped once it cannot be written). */
  write?: (line: string) => void;
  now?: () => Date;
  base?: LogFields;
}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? processStdoutLines();
  const now = opts.now ?? (() => new Date());
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel, event: string, fields: LogFields = {}) => {
      if (ORDER[level] < min) return;
      write(
        `${JSON.stringify({ ts: now().toISOString(), level, event, component: opts.component, ...base, ...fields })}\n`,
      );
    };
    return {
      log,
      info: (e, f) => log('info', e, f),
      warn: (e, f) => log('warn', e, f),
      error: (e, f) => log('error', e, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(opts.base ?? {});
}

/** A logger that keeps lines in memory (tests scan them for leaked secrets). */
export function memoryLogger(component = 'test'): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ component, level: 'debug', write: (l) => void lines.push(l) }), {
    lines,
  });
}
