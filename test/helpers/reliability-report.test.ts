import { describe, expect, it } from 'vitest';
import { renderReliabilityReport } from './reliability-report.js';
import type { SuiteResult } from './results.js';

const run = (over: Partial<SuiteResult>): SuiteResult => ({
  suite: 'crash',
  title: 'Crash',
  order: 1,
  command: 'npx vitest run test/fault/crash.fault.test.ts',
  mode: 'ci',
  seed: 1,
  finished_at: '2026-11-25T00:00:00.000Z',
  figures: [{ name: 'errors', value: 0, goal: 0 }],
  notes: ['a note'],
  ...over,
});

describe('renderReliabilityReport', () => {
  it('puts the soak run before the CI run of a suite, suites in order, each with its command', () => {
    const text = renderReliabilityReport([
      run({ suite: 'load', title: 'Load', order: 7 }),
      run({}),
      run({ mode: 'soak', command: 'SOAK=1 npx vitest run test/fault/crash.fault.test.ts' }),
    ]);
    expect(text.indexOf('## 1. Crash')).toBeLessThan(text.indexOf('## 7. Load'));
    const crash = text.slice(text.indexOf('## 1. Crash'), text.indexOf('## 7. Load'));
    expect(crash.indexOf('### Soak run')).toBeLessThan(crash.indexOf('### CI run'));
    expect(crash).toContain('`SOAK=1 npx vitest run test/fault/crash.fault.test.ts`');
    expect(crash.match(/- a note/g)).toHaveLength(1);
  });

  it('flags a figure that missed its goal in the summary, and escapes pipes in cells', () => {
    const text = renderReliabilityReport([run({ figures: [{ name: 'a | b', value: 2, goal: 0 }] })]);
    expect(text).toMatch(/\| ci \| 1 \| \*\*no\*\* \|/);
    expect(text).toContain('a \\| b');
  });
});
