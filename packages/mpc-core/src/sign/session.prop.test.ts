/** Laws of robust signing: up to n-t faulty parties of any kind never stop a valid signature. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  ciphersuites,
  getCiphersuite,
  loadFastBackends,
  ProtocolError,
  trustedDealer,
} from '../index.js';
import { commitmentKey } from '../nonce-store.js';
import { seededRng } from '../test-helpers/rng.js';
import {
  type Behaviour,
  FAULTS,
  immediateSleep,
  independentVerify,
  signingNetwork,
} from '../test-helpers/signing-network.js';
import { SigningSession } from './session.js';

beforeAll(loadFastBackends);

/** A key set, a set of faulty parties (at most `maxFaulty(n, t)` of them) and a preference order. */
const scenario = (maxFaulty: (n: number, t: number) => number, minFaulty: (n: number, t: number) => number) =>
  fc
    .record({ seed: fc.integer(), n: fc.integer({ min: 2, max: 6 }), tRaw: fc.nat() })
    .chain(({ seed, n, tRaw }) => {
      const t = 2 + (tRaw % (n - 1));
      const idx = Array.from({ length: n }, (_, i) => i);
      return fc.record({
        seed: fc.constant(seed),
        n: fc.constant(n),
        t: fc.constant(t),
        faulty: fc
          .shuffledSubarray(idx, { minLength: minFaulty(n, t), maxLength: maxFaulty(n, t) })
          .chain((who) =>
            fc
              .tuple(...who.map((i) => fc.tuple(fc.constant(i), fc.constantFrom(...FAULTS))))
              .map((pairs) => pairs),
          ),
        order: fc.shuffledSubarray(idx, { minLength: n, maxLength: n }),
        faultyFirst: fc.boolean(),
        batchSize: fc.integer({ min: 1, max: 3 }),
        message: fc.uint8Array({ maxLength: 40 }),
      });
    });

function build(
  suite: AnyCiphersuite,
  s: {
    seed: number;
    n: number;
    t: number;
    faulty: [number, Behaviour][];
    order: number[];
    faultyFirst: boolean;
    batchSize: number;
  },
) {
  const rng = seededRng(s.seed);
  const deal = trustedDealer(suite, { min: s.t, max: s.n }, { rng });
  const ids = deal.keyPackages.map((kp) => kp.identifier);
  const behaviours = new Map(s.faulty.map(([i, b]) => [ids[i]!, b]));
  const net = signingNetwork(suite, deal, behaviours, rng);
  const faultyIdx = new Set(s.faulty.map(([i]) => i));
  const order = s.faultyFirst
    ? [...s.order.filter((i) => faultyIdx.has(i)), ...s.order.filter((i) => !faultyIdx.has(i))]
    : s.order;
  const session = new SigningSession({
    suite,
    publicPackage: deal.publicPackage,
    transport: net.transport,
    sleep: immediateSleep,
    rng,
    batchSize: s.batchSize,
    preference: order.map((i) => ids[i]!),
  });
  const having = (...kinds: Behaviour[]) =>
    new Set([...behaviours].filter(([, b]) => kinds.includes(b)).map(([p]) => p));
  const askedToSign = () => new Set(net.signCalls.map((c) => c.party));
  return { deal, behaviours, net, session, having, askedToSign };
}

describe.each([
  ['ed25519', () => getCiphersuite('FROST-ED25519-SHA512-v1'), 40],
  ['secp256k1-tr', () => ciphersuites.secp256k1tr, 8],
])('robust signing laws: %s', (_name, getSuite, numRuns) => {
  it('with at most n-t faulty parties a valid signature results, made by honest parties, and every liar is named', async () => {
    const suite = getSuite();
    await fc.assert(
      fc.asyncProperty(
        scenario(
          (n, t) => n - t,
          () => 0,
        ),
        async (s) => {
          const { deal, behaviours, net, session, having, askedToSign } = build(suite, s);
          const r = await session.sign({ message: s.message });
          expect(independentVerify(suite, deal.publicPackage.groupPublicKey, s.message, r.signature)).toBe(
            true,
          );
          expect(r.signers).toHaveLength(s.t);
          for (const p of r.signers) expect(behaviours.has(p)).toBe(false);
          // Nobody honest is blamed, and every party caught lying is named with the right code.
          const liars = having('corrupt', 'bad-commitment');
          for (const f of r.misbehaved) {
            expect(liars.has(f.party)).toBe(true);
            expect(f.code).toBe(
              behaviours.get(f.party) === 'corrupt' ? 'INVALID_SIGNATURE_SHARE' : 'INVALID_POINT',
            );
          }
          for (const f of [...r.timedOut, ...r.failed]) expect(behaviours.has(f.party)).toBe(true);
          const named = new Set(r.misbehaved.map((f) => f.party));
          for (const p of having('corrupt')) if (askedToSign().has(p)) expect(named.has(p)).toBe(true);
          // Preferred liars are always reached: then every corrupting party is named.
          if (s.faultyFirst) for (const p of having('corrupt')) expect(named.has(p)).toBe(true);
          // One commitment, one signing package.
          const packages = new Set(net.signCalls.map((c) => c.request.signingPackage));
          const used = [...packages].flatMap((p) => p.commitments.map(commitmentKey));
          expect(new Set(used).size).toBe(used.length);
        },
      ),
      { numRuns },
    );
  });

  it('with more than n-t faulty parties: QUORUM_UNREACHABLE, blaming only liars', async () => {
    const suite = getSuite();
    await fc.assert(
      fc.asyncProperty(
        scenario(
          (n) => n,
          (n, t) => n - t + 1,
        ),
        async (s) => {
          const { session, having, askedToSign } = build(suite, s);
          const e = await session.sign({ message: s.message }).then(
            () => expect.unreachable('fewer than t honest parties cannot sign'),
            (err: unknown) => err,
          );
          expect(e).toBeInstanceOf(ProtocolError);
          const err = e as ProtocolError;
          expect(err.code).toBe('QUORUM_UNREACHABLE');
          const liars = having('corrupt', 'bad-commitment');
          for (const p of err.culprits) expect(liars.has(p)).toBe(true);
          for (const p of having('corrupt')) if (askedToSign().has(p)) expect(err.culprits).toContain(p);
        },
      ),
      { numRuns },
    );
  });
});
