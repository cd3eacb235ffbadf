/** The examples in docs/ run as tests, and the markdown shows exactly the tested code. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { quickstart } from './mpc-core-quickstart.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');

describe('docs examples', () => {
  it('docs/mpc-core.md shows the quickstart verbatim', () => {
    expect(read('../mpc-core.md')).toContain(read('./mpc-core-quickstart.ts').trim());
  });

  it('the mpc-core quickstart signs 3-of-5 and verifies independently', async () => {
    const { signature, signers } = await quickstart();
    expect(signature.length).toBe(64);
    expect(signers.length).toBe(3);
  });
});
