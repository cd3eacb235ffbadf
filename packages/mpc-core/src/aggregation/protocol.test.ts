import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, ValidationError } from '../errors.js';
import { deriveIdentifier } from '../keys.js';
import { SecretBytes } from '../secret.js';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { evaluateCircuit, loadCircuit } from './circuit.js';
import {
  checkPublicDealing,
  createAggregationSession,
  dealInput,
  dealInputs,
  evaluateShares,
  type InputDealing,
  openResult,
  precheckOpening,
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

  it("checks the other dealers' range proofs when the receiver trusts its own", async () => {
    await loadFastBackends();
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const { rng, parties, session, dealings } = run(suite, values, 'own');
    const receiver = parties[0]!.id;
    const badProof = (d: InputDealing): InputDealing => {
      const proof = Uint8Array.from(d.rangeProof!);
      proof[proof.length - 1]! ^= 1;
      return { ...d, rangeProof: proof };
    };
    const blamed = (all: InputDealing[], opts: { ownProofsTrusted?: boolean }) => {
      try {
        verifyDealings(session, all, receiver, rng, opts);
        return [];
      } catch (e) {
        expect((e as ProtocolError).code).toBe('INVALID_RANGE_PROOF');
        return (e as ProtocolError).culprits;
      }
    };
    // A bad proof from another dealer is named with or without the option.
    const other = dealings.map((d, i) => (i === 3 ? badProof(d) : d));
    expect(blamed(other, { ownProofsTrusted: true })).toEqual([dealings[3]!.dealer]);
    expect(blamed(other, {})).toEqual([dealings[3]!.dealer]);
    // The receiver's own dealing (dealings[0]) is checked unless it trusts its own.
    const own = dealings.map((d, i) => (i === 0 ? badProof(d) : d));
    expect(dealings[0]!.dealer).toBe(receiver);
    expect(blamed(own, {})).toEqual([receiver]);
    expect(blamed(own, { ownProofsTrusted: true })).toEqual([]);
  });

  it('deals many inputs in one batch exactly as one by one (bulk inputs, no range proofs)', async () => {
    await loadFastBackends();
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const parties = partiesFor(suite);
    const circuit = loadCircuit({
      format: 'aaps-circuit/v1',
      id: 'bulk',
      version: 1,
      description: 'bulk',
      inputs: [0, 1, 2].map((k) => ({
        name: `x${k}`,
        role: 'monitoring',
        range: { min: 0, max: 1000 },
        rangeProof: false,
      })),
      outputs: [{ name: 'sum', terms: [0, 1, 2].map((k) => ({ input: `x${k}` })) }],
    });
    const session = createAggregationSession(suite, { circuit, sessionId: 'bulk', threshold: 3, parties });
    const dealer = session.providers[0]!;
    const values = [7, 0, 1000].map((value, k) => ({ input: `x${k}`, value }));
    const rngA = seededRng('bulk');
    const one = values.map((v) => dealInput(session, { ...v, dealer }, rngA));
    const many = dealInputs(session, { dealer, values }, seededRng('bulk'));
    expect(many.map((d) => d.commitments)).toEqual(one.map((d) => d.commitments));
    expect(many.map((d) => d.hints)).toEqual(one.map((d) => d.hints));
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, many, p.id, rngA)),
    );
    expect(openResult(session, many, shares, rngA).outputs[0]!.value).toBe(1007n);
  });

  it('precheckOpening decodes ahead without changing what openResult accepts or blames', async () => {
    await loadFastBackends();
    for (const suite of [getCiphersuite('FROST-ED25519-SHA512-v1'), ciphersuites.secp256k1]) {
      const { rng, parties, session, dealings } = run(suite, values, `pre-${suite.backend}`);
      const shares = parties.flatMap((p) =>
        evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
      );
      const publics = dealings.map((d) => ({
        ...d,
        commitments: d.commitments.map((c) => Uint8Array.from(c)),
      }));
      precheckOpening(session, publics);
      expect(openResult(session, publics, shares, rng).outputs[0]!.value).toBe(expected);
      // Bytes changed in place after the precheck are decoded again, and their dealer blamed.
      const c0 = publics[2]!.commitments[0]!;
      c0.fill(0xff);
      precheckOpening(session, [{ ...publics[2]!, commitments: [new Uint8Array(3)] }]); // no throw
      let err: unknown;
      try {
        openResult(session, publics, shares, rng);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).culprits).toEqual([dealings[2]!.dealer]);
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

describe('aggregation session and dealing checks', () => {
  const suite = ciphersuites.ed25519;
  const circuit = circuits['approval-tally'];

  function fields(f: () => unknown): readonly string[] {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).fields;
    }
    return expect.unreachable('accepted');
  }

  it('validates the session parameters', () => {
    const parties = partiesFor(suite);
    const ok = { circuit, sessionId: 's-1', threshold: 3, parties };
    expect(fields(() => createAggregationSession(suite, { ...ok, sessionId: 'has space' }))).toEqual([
      'sessionId',
    ]);
    expect(fields(() => createAggregationSession(suite, { ...ok, threshold: 6 }))).toEqual(['threshold']);
    expect(fields(() => createAggregationSession(suite, { ...ok, threshold: 1 }))).toEqual(['threshold']);
    const dup = [...parties.slice(0, 4), { id: parties[0]!.id, role: 'audit' }];
    expect(fields(() => createAggregationSession(suite, { ...ok, parties: dup }))).toEqual(['parties[4].id']);
    const twice = [...parties.slice(0, 4), { id: parties[4]!.id, role: 'strategy' }];
    expect(fields(() => createAggregationSession(suite, { ...ok, parties: twice }))).toEqual([
      'parties[4].role',
    ]);
    const missing = [...parties.slice(0, 4), { id: parties[4]!.id, role: 'someone-else' }];
    expect(fields(() => createAggregationSession(suite, { ...ok, parties: missing }))).toEqual([
      'circuit.inputs[8].role',
    ]);
  });

  it('refuses dealings for another session, blames malformed ones', async () => {
    await loadFastBackends();
    const fast = getCiphersuite('FROST-ED25519-SHA512-v1');
    const rng = seededRng('checks');
    const parties = partiesFor(fast);
    const session = createAggregationSession(fast, { circuit, sessionId: 's-1', threshold: 3, parties });
    const other = createAggregationSession(fast, { circuit, sessionId: 's-2', threshold: 3, parties });
    const d = dealInput(session, { input: 'vote.audit', dealer: session.providers[8]!, value: 1 }, rng);
    const receiver = parties[0]!.id;
    expect(fields(() => verifyDealing(other, d, receiver))).toEqual(['dealing.sessionId']);

    const blamed = (dealing: InputDealing, code: string) => {
      for (const f of [
        () => verifyDealing(session, dealing, receiver),
        () => verifyDealings(session, [dealing], receiver, rng),
      ]) {
        try {
          f();
          expect.unreachable();
        } catch (e) {
          expect((e as ProtocolError).code).toBe(code);
          expect((e as ProtocolError).culprits).toEqual([d.dealer]);
        }
      }
    };
    const { [receiver]: _mine, ...withoutMine } = d.shares;
    blamed({ ...d, shares: withoutMine }, 'INVALID_DEALING');
    blamed({ ...d, rangeProof: null }, 'INVALID_RANGE_PROOF');
    blamed({ ...d, commitments: d.commitments.slice(1) }, 'INVALID_DEALING');
    blamed({ ...d, hints: d.hints!.slice(1) }, 'INVALID_DEALING');
    // A hint that does not match its commitment fails the batched path.
    const badHints = d.hints!.map((h, j) =>
      j === 1 ? Uint8Array.from(h, (b, i) => (i === 0 ? b ^ 1 : b)) : h,
    );
    try {
      verifyDealings(
        session,
        [{ ...d, hints: badHints, commitments: d.commitments.map((c) => c.slice()) }],
        receiver,
        rng,
      );
      expect.unreachable();
    } catch (e) {
      expect((e as ProtocolError).code).toBe('INVALID_DEALING');
      expect((e as ProtocolError).culprits).toEqual([d.dealer]);
    }
    // Without hints the batched path decompresses instead.
    const fresh = { ...d, hints: null, commitments: d.commitments.map((c) => c.slice()) };
    expect(verifyDealings(session, [fresh], receiver, rng)).toHaveLength(1);
  });

  it('a hint that does not match its commitment is a public fault of the dealer, whatever was decoded before', async () => {
    await loadFastBackends();
    for (const suite of [
      getCiphersuite('FROST-ED25519-SHA512-v1'),
      getCiphersuite('FROST-secp256k1-SHA256-v1'),
    ]) {
      const rng = seededRng(`public-hint-${suite.id}`);
      const parties = partiesFor(suite);
      const session = createAggregationSession(suite, { circuit, sessionId: 's-h', threshold: 3, parties });
      const d = dealInput(session, { input: 'vote.audit', dealer: session.providers[8]!, value: 1 }, rng);
      const receiver = parties[0]!.id;
      // The same commitment objects, first decoded without hints (the decoding cache holds them).
      expect(verifyDealings(session, [{ ...d, hints: null }], receiver, rng)).toHaveLength(1);
      const badHints = d.hints!.map((h, j) =>
        j === 1 ? Uint8Array.from(h, (b, i) => (i === 0 ? b ^ 1 : b)) : h,
      );
      const bad = { ...d, hints: badHints };
      for (const f of [
        () => checkPublicDealing(session, bad),
        () => verifyDealing(session, bad, receiver),
        () => verifyDealings(session, [bad], receiver, rng),
      ]) {
        const e = (() => {
          try {
            f();
          } catch (x) {
            return x;
          }
          return expect.unreachable(`${suite.id}: a wrong hint passed`);
        })();
        expect(e, suite.id).toBeInstanceOf(ProtocolError);
        expect((e as ProtocolError).code).toBe('INVALID_DEALING');
        expect((e as ProtocolError).culprits).toEqual([d.dealer]);
      }
      // The right hints (and none) still pass the public checks.
      expect(() => checkPublicDealing(session, d)).not.toThrow();
      expect(() => checkPublicDealing(session, { ...d, hints: null })).not.toThrow();
    }
  });

  it('works with identifiers derived from names (large evaluation points)', async () => {
    await loadFastBackends();
    const fast = getCiphersuite('FROST-ED25519-SHA512-v1');
    const rng = seededRng('derived');
    const parties = partiesFor(fast).map((p) => ({ ...p, id: deriveIdentifier(fast, `party-${p.role}`) }));
    const session = createAggregationSession(fast, { circuit, sessionId: 'derived', threshold: 3, parties });
    const dealings = circuit.inputs.map((inp, i) =>
      dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: i % 3 === 0 ? 1 : 0 }, rng),
    );
    const shares = parties
      .slice(1, 4)
      .flatMap((p) => evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)));
    const single = verifyDealing(session, dealings[0]!, parties[0]!.id);
    expect(single.dealer).toBe(dealings[0]!.dealer);
    const opened = openResult(session, dealings, shares, rng);
    const plain = evaluateCircuit(
      circuit,
      Object.fromEntries(circuit.inputs.map((inp, i) => [inp.name, i % 3 === 0 ? 1n : 0n])),
    );
    for (const o of opened.outputs) expect(o.value).toBe(plain.get(o.name));
  });
});

describe('secrets do not print', () => {
  it('verified inputs and input shares print redacted', async () => {
    await loadFastBackends();
    const fast = getCiphersuite('FROST-ED25519-SHA512-v1');
    const parties = partiesFor(fast);
    const session = createAggregationSession(fast, {
      circuit: circuits['weighted-risk'],
      sessionId: 'redact',
      threshold: 3,
      parties,
    });
    const rng = seededRng('redact');
    const d = dealInput(session, { input: 'risk.audit', dealer: session.providers[4]!, value: 42 }, rng);
    const v = verifyDealing(session, d, parties[0]!.id);
    const shareHex = Buffer.from(d.shares[parties[0]!.id]!.share.expose()).toString('hex');
    for (const text of [JSON.stringify(v), JSON.stringify(d), inspect(v), inspect(d)]) {
      expect(text).toContain('redacted');
      expect(text).not.toContain(shareHex);
      expect(text).not.toContain(v.share.toString());
    }
  });
});

describe("verifyDealing / verifyDealings: a malformed share is the dealer's fault", () => {
  it('a share that is not SecretBytes gives ProtocolError INVALID_DEALING naming the dealer (docs/aggregation.md)', () => {
    const suite = ciphersuites.ed25519;
    const parties = partiesFor(suite);
    const session = createAggregationSession(suite, {
      circuit: circuits['weighted-risk'],
      sessionId: 'malformed-share',
      threshold: 3,
      parties,
    });
    const rng = seededRng('malformed-share');
    const input = session.circuit.inputs[0]!;
    const dealer = session.providers[0]!;
    const receiver = parties[1]!.id;
    const dealing = dealInput(session, { input: input.name, dealer, value: 10 }, rng);
    const own = dealing.shares[receiver]!;
    const hostile = fc.constantFrom<unknown>(
      new Uint8Array(32), // raw bytes where SecretBytes belong
      { share: new Uint8Array(32), blinding: new Uint8Array(32) },
      { share: own.share, blinding: 'ab'.repeat(32) },
      { share: own.share },
      'ab'.repeat(32),
      null,
    );
    fc.assert(
      fc.property(hostile, (share) => {
        const bad = { ...dealing, shares: { ...dealing.shares, [receiver]: share } };
        for (const call of [
          () => verifyDealing(session, bad as never, receiver),
          () => verifyDealings(session, [bad as never], receiver, rng),
        ]) {
          let error: unknown;
          try {
            call();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(ProtocolError);
          expect((error as ProtocolError).code).toBe('INVALID_DEALING');
          expect((error as ProtocolError).culprits).toEqual([dealer]);
        }
      }),
      { numRuns: 24 },
    );
  });
});
