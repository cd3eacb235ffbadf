import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling workspaces, not their build output.
    // (A subpath first: a plain alias also rewrites `@aaps/mpc-core/...`.)
    alias: {
      '@aaps/mpc-core/verifier': fileURLToPath(
        new URL('./packages/mpc-core/src/verifier.ts', import.meta.url),
      ),
      '@aaps/mpc-core': src('mpc-core'),
      '@aaps/evidence': src('evidence'),
      '@aaps/agents': src('agents'),
      '@aaps/gateway': src('gateway'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'docs/**/*.test.ts'],
    // Much of the suite waits on child processes, sockets and real deadlines (a 10 s header
    // deadline, an event stream's cut), so two forks even on a two-core machine: vitest's default
    // (cores - 1) ran CI's 2 cores one file at a time, 17-18 min of CI where two take 12-13 min.
    // Two forks contend for the cores, so the time limits are for hangs, not speed: no test is
    // timed against a tight limit (speed is what `npm run bench` measures).
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
