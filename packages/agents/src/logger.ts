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

export function createLogger(opts: {
  component: string;
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => Date;
  base?: LogFields;
}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
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
