/**
 * The rng contract: `rng(n)` must answer exactly `n` bytes. A wrong answer is never used: nonces
 * built as H3(rng(32) || share) from an `rng` that answers nothing repeat across messages, and a
 * repeated nonce hands out the key share. So every public function that takes an `rng`, given one
 * that answers a wrong length (or not bytes at all) at any draw, throws `ValidationError` naming
 * `rng`; and with a sound `rng` no two commitments share a nonce.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from './aggregation/test-helpers/fixtures.js';
import { AapsError, commit, identifierFromNumber, trustedDealer, ValidationError } from './index.js';
import { ciphersuites } from './suite/registry.js';
import type { Rng } from './suite/types.js';
import { type ApiCase, apiCases } from './test-helpers/api-cases.js';

let cases: ApiCase[];
beforeAll(async () => {
  cases = (await apiCases()).filter((c) => c.rng !== undefined);
}, 120_000);

/** The case's arguments with `rng` put where the case takes it. */
async function withRng(c: ApiCase, rng: Rng): Promise<unknown[]> {
  const args = [...(await c.args())];
  if (typeof c.rng === 'number') args[c.rng] = rng;
  else {
    const [i, key] = c.rng as readonly [number, string];
    args[i] = { ...(args[i] as object), [key]: rng };
  }
  return args;
}

async function outcome(c: ApiCase, rng: Rng): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await c.call(...(await withRng(c, rng)));
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A wrong answer to `rng(n)`: a length off by `delta`, or something that is not bytes. */
type Wrong = { delta: number } | { value: unknown };
const wrongAnswer: fc.Arbitrary<Wrong> = fc.oneof(
  fc
    .integer({ min: -40, max: 40 })
    .filter((d) => d !== 0)
    .map((delta) => ({ delta })),
  fc.constantFrom<Wrong>(
    { value: undefined },
    { value: null },
    { value: 32 },
    { value: 'bytes' },
    { value: [1, 2, 3] },
    { value: new ArrayBuffer(32) },
  ),
);

/** Answers the first `honest` draws from a sound stream, then `wrong` for every later one. */
function faultyRng(seed: number, honest: number, wrong: Wrong): { rng: Rng; wrongGiven: () => boolean } {
  const sound = seededRng(seed);
  let draws = 0;
  let given = false;
  const rng = (n: number) => {
    if (draws++ < honest) return sound(n);
    given = true;
    if ('value' in wrong) return wrong.value as Uint8Array;
    let len = Math.max(0, n + wrong.delta);
    if (len === n) len = n + 1;
    return new Uint8Array(len).fill(0x5a);
  };
  return { rng, wrongGiven: () => given };
}

describe('a caller-supplied rng', () => {
  it('is drawn from by every case of the law (so the law is not vacuous), and a sound one works', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(24);
    for (const c of cases) {
      let draws = 0;
      const sound = seededRng(c.name);
      const counting: Rng = (n) => {
        draws++;
        return sound(n);
      };
      const r = await outcome(c, counting);
      expect(r, c.name).toEqual({ ok: true });
      expect(draws, c.name).toBeGreaterThan(0);
    }
  });

  it('answering a wrong length (or not bytes) at any draw is refused: ValidationError naming rng', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: cases.length - 1 }),
        fc.integer(),
        fc.nat({ max: 3 }),
        wrongAnswer,
        async (k, seed, honest, wrong) => {
          const c = cases[k]!;
          const { rng, wrongGiven } = faultyRng(seed, honest, wrong);
          const r = await outcome(c, rng);
          if (!wrongGiven()) {
            // The call finished within its honest draws: nothing wrong was ever used.
            expect(r, c.name).toEqual({ ok: true });
            return;
          }
          expect(r.ok, `${c.name}: accepted a wrong rng answer`).toBe(false);
          const error = (r as { error: unknown }).error;
          expect(error, `${c.name}: ${String(error)}`).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).code).toBe('INVALID_ARGUMENT');
          expect((error as ValidationError).fields, c.name).toEqual(['rng']);
        },
      ),
      { numRuns: 300 },
    );
  }, 240_000);

  it('an rng that answers nothing cannot make two commitments share a nonce', () => {
    const suite = ciphersuites.ed25519;
    const [kp] = trustedDealer(suite, { min: 2, max: 3 }).keyPackages;
    const empty: Rng = () => new Uint8Array(0);
    for (const bad of [empty, () => new Uint8Array(31), () => new Uint8Array(33)]) {
      let error: unknown;
      try {
        commit(suite, kp!, bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AapsError);
      expect((error as ValidationError).fields).toEqual(['rng']);
      expect((error as Error).message).toMatch(/^rng: returned \d+ bytes, expected 32$/);
    }
  });

  it('with a sound rng, the nonces of any two commitments differ (one rng stream, or two equal ones)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...Object.values(ciphersuites)), (seed, suite) => {
        const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(seed) });
        const kp = deal.keyPackages[0]!;
        const rng = seededRng(`${seed}:nonces`);
        const a = commit(suite, kp, rng);
        const b = commit(suite, kp, rng);
        const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
        const points = [a.commitment.hiding, a.commitment.binding, b.commitment.hiding, b.commitment.binding];
        expect(new Set(points.map(hex)).size).toBe(4);
        expect(a.commitment.identifier).toBe(identifierFromNumber(suite, 1));
      }),
      { numRuns: 30 },
    );
  });
});
