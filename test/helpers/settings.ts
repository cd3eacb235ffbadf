/**
 * How long the fault suites run: a short version in CI (the whole `test/fault` directory in under
 * five minutes on two cores) and a longer one with `SOAK=1` (`npm run soak`). The only place the
 * suites read the environment.
 */
export const SOAK = process.env.SOAK === '1';

/** The seed of every random choice; `FAULT_SEED=<n>` replays a run. */
export const SEED = Number.parseInt(process.env.FAULT_SEED ?? '20261125', 10);

/** `short` in CI, `long` under `SOAK=1`. */
export function scaled<T>(short: T, long: T): T {
  return SOAK ? long : short;
}

/** The command that reproduces a suite's figures. */
export function reproduce(file: string): string {
  return `${SOAK ? 'SOAK=1 ' : ''}FAULT_SEED=${SEED} npx vitest run ${file}`;
}
