/** Types shared by the benchmark runner and the suites under `bench/suites/`. */

/** Which implementation a row measures; baselines are measured in the same run. */
export type Impl = 'mpc-core' | 'noble' | 'node:crypto' | 'sigstore' | 'jiff' | 'http';

export interface RowOptions {
  /** Minimum measured iterations (default 10). */
  iterations?: number;
  /** Minimum measured time in ms (default 800). Slow rows set it low and rely on `iterations`. */
  time?: number;
  /** Called once before the row is measured (not timed). */
  setup?: () => unknown | Promise<unknown>;
  /** Called before every iteration, warm-up ones included (not timed). */
  beforeEach?: () => unknown | Promise<unknown>;
  /** Work units one call performs (e.g. incidents per batch); the runner reports units/s too. */
  unitsPerOp?: number;
  /** Called once after the row is measured (not timed), also when it failed. */
  teardown?: () => unknown | Promise<unknown>;
}

export type AddRow = (
  name: string,
  impl: Impl,
  fn: () => unknown | Promise<unknown>,
  opts?: RowOptions,
) => void;

/** A comparison the runner reports: `numerator / denominator` of mean times, with an optional goal. */
export interface RatioSpec {
  label: string;
  numerator: { name: string; impl: Impl };
  denominator: { name: string; impl: Impl };
  /** The ratio must be at most this (e.g. 1/12). */
  goal?: number;
}

export interface SuiteContext {
  add: AddRow;
  ratio(spec: RatioSpec): void;
  /**
   * Report latencies measured outside tinybench (e.g. from an incident's timeline). `collect` runs
   * after every row; it returns the samples in milliseconds.
   */
  measured(name: string, impl: Impl, collect: () => readonly number[]): void;
}

/** A suite's entry point; `ctx` is also callable as `ctx(name, impl, fn, opts)`. */
export type Register = (ctx: SuiteContext & AddRow) => Promise<void>;
