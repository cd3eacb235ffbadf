import { describe, expect, it } from 'vitest';
import { ProtocolError, ValidationError } from '../errors.js';
import { SecretBytes } from '../secret.js';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import {
  checkPublicDealing,
  createAggregationSession,
  dealInput,
  evaluateShares,
  type InputDealing,
  openResult,
  type ResultShare,
  type VerifiedInput,
  verifyDealing,
  verifyDealings,
} from './protocol.js';
import { buildAggregationRecord, verifyAggregation } from './record.js';
import { circuits, partiesFor, seededRng } from './test-helpers/fixtures.js';

function run(suite: AnyCiphersuite, values: Record<string, number>, seed = 'run') {
  const rng = seededRng(seed);
  const parties = partiesFor(suite);
  const session = createAggregationSession(suite, {
    circuit: circuits['weighted-risk'],
    sessionId: 'incident-42.risk',
    threshold: 3,
    parties,
  });
  const dealings = session.circuit.inputs.map((inp, i) =>
    dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: values[inp.name]! }, rng),
  );
  return { rng, parties, session, dealings };
}

const values = {
  'risk.monitoring': 80,
  'risk.problem-solver': 40,
  'risk.strategy': 10,
  'risk.quality-assurance': 100,
  'risk.audit': 0,
};
const expected = 3n * 80n + 2n * 40n + 2n * 10n + 2n * 100n;

describe('aggregation protocol (weighted-risk, 3-of-5)', () => {
  for (const [name, suite] of [
    ['ed25519/noble', ciphersuites.ed25519],
    ['secp256k1/noble', ciphersuites.secp256k1],
  ] as const) {
    it(`opens the weighted sum and the record verifies (${name})`, () => {
      const { rng, parties, session, dealings } = run(suite, values);
      const shares: ResultShare[] = [];
      for (const p of parties) {
        const verified = dealings.map((d) => verifyDealing(session, d, p.id));
        shares.push(...evaluateShares(session, p.id, verified));
      }
      const opened = openResult(session, dealings, shares, rng);
      expect(opened.outputs[0]!.value).toBe(expected);
      expect(opened.culprits).toEqual([]);
      const record = buildAggregationRecord(session, dealings, opened);
      const v = verifyAggregation(record, { circuit: circuits['weighted-risk'], suite });
      expect(v.outputs[0]!.value).toBe(expected);
    });
  }

  it('works with the libsodium backend and batched verification', async () => {
    await loadFastBackends();
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    expect(suite.backend).toBe('libsodium');
    const { rng, parties, session, dealings } = run(suite, values, 'sodium');
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
    );
    const opened = openResult(session, dealings, shares, rng);
    expect(opened.outputs[0]!.value).toBe(expected);
    const record = buildAggregationRecord(session, dealings, opened);
    expect(verifyAggregation(record).outputs[0]!.value).toBe(expected);
  });

  it('names a dealer whose share does not match its commitments', () => {
    const suite = ciphersuites.ed25519;
    const { rng, parties, session, dealings } = run(suite, values);
    const receiver = parties[1]!.id;
    const d = dealings[2]!;
    const own = d.shares[receiver]!;
    const bumped = suite.field.toBytes(suite.field.add(suite.field.fromBytes(own.share.expose()), 1n));
    const tampered: InputDealing = {
      ...d,
      shares: { ...d.shares, [receiver]: { share: new SecretBytes(bumped), blinding: own.blinding } },
    };
    const err = (() => {
      try {
        verifyDealing(session, tampered, receiver);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('INVALID_DEALING');
    expect((err as ProtocolError).culprits).toEqual([d.dealer]);
    // The batched path names the same dealer.
    const all = [...dealings];
    all[2] = tampered;
    try {
      verifyDealings(session, all, receiver, rng);
      expect.unreachable();
    } catch (e) {
      expect((e as ProtocolError).code).toBe('INVALID_DEALING');
      expect((e as ProtocolError).culprits).toEqual([d.dealer]);
    }
  });

  it('refuses an out-of-range value at the dealer', () => {
    const suite = ciphersuites.ed25519;
    const { rng, session } = run(suite, values);
    expect(() =>
      dealInput(session, { input: 'risk.audit', dealer: session.providers[4]!, value: 101 }, rng),
    ).toThrow(ValidationError);
  });

  it('refuses a dealing from a party that does not hold the input role', () => {
    const suite = ciphersuites.ed25519;
    const { session, dealings } = run(suite, values);
    const forged = { ...dealings[0]!, dealer: session.providers[1]! };
    try {
      checkPublicDealing(session, forged);
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).fields).toEqual(['dealing.dealer']);
    }
  });

  it('opens from the honest parties and names a lying one; fails when fewer than t are honest', () => {
    const suite = ciphersuites.ed25519;
    const { rng, parties, session, dealings } = run(suite, values);
    const verified = new Map<string, VerifiedInput[]>();
    for (const p of parties)
      verified.set(
        p.id,
        dealings.map((d) => verifyDealing(session, d, p.id)),
      );
    const lie = (s: ResultShare): ResultShare => ({
      ...s,
      share: suite.field.toBytes(suite.field.add(suite.field.fromBytes(s.share), 7n)),
    });
    const shares = parties.flatMap((p, i) => {
      const mine = evaluateShares(session, p.id, verified.get(p.id)!);
      return i === 0 ? mine.map(lie) : mine;
    });
    const opened = openResult(session, dealings, shares, rng);
    expect(opened.outputs[0]!.value).toBe(expected);
    expect(opened.culprits).toEqual([parties[0]!.id]);
    expect(opened.openers).toEqual(parties.slice(1, 4).map((p) => p.id));

    const liars = new Set([parties[0]!.id, parties[1]!.id, parties[2]!.id]);
    const mostlyLies = parties.flatMap((p) => {
      const mine = evaluateShares(session, p.id, verified.get(p.id)!);
      return liars.has(p.id) ? mine.map(lie) : mine;
    });
    try {
      openResult(session, dealings, mostlyLies, rng);
      expect.unreachable();
    } catch (e) {
      expect((e as ProtocolError).code).toBe('INVALID_OPENING');
      expect([...(e as ProtocolError).culprits].sort()).toEqual([...liars].sort());
    }
  });
});
