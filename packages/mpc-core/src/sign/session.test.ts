/** SigningSession: robust signing over an in-process network of real parties. */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AapsError,
  type AnyCiphersuite,
  applyRefresh,
  ciphersuites,
  type DealerOutput,
  getCiphersuite,
  loadFastBackends,
  ProtocolError,
  type Round1Commitment,
  refreshDealer,
  trustedDealer,
  utf8,
  ValidationError,
} from '../index.js';
import { commitmentKey, InMemoryNonceStore } from '../nonce-store.js';
import { seededRng } from '../test-helpers/rng.js';
import {
  type Behaviour,
  immediateSleep,
  independentVerify,
  signingNetwork,
} from '../test-helpers/signing-network.js';
import { type PartyFault, SigningSession, type SigningSessionOptions } from './session.js';

beforeAll(loadFastBackends);

const message = utf8('approve incident 42: image_rollback');

function setup(
  suite: AnyCiphersuite,
  t: number,
  n: number,
  faults: Record<number, Behaviour> = {},
  opts: Partial<SigningSessionOptions> = {},
) {
  const rng = seededRng(t * 100 + n);
  const deal: DealerOutput = trustedDealer(suite, { min: t, max: n }, { rng });
  const ids = deal.keyPackages.map((kp) => kp.identifier);
  const behaviours = new Map(Object.entries(faults).map(([i, b]) => [ids[Number(i)]!, b]));
  const net = signingNetwork(suite, deal, behaviours, rng);
  const session = new SigningSession({
    suite,
    publicPackage: deal.publicPackage,
    transport: net.transport,
    sleep: immediateSleep,
    rng,
    ...opts,
  });
  return { deal, ids, net, session };
}

const partiesOf = (faults: readonly PartyFault[]) => faults.map((f) => f.party).sort();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

describe.each([
  ['ed25519', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
  ['secp256k1-tr', () => ciphersuites.secp256k1tr],
])('all parties honest: %s', (_name, getSuite) => {
  it('signs with the first t parties in one attempt; the signature verifies independently', async () => {
    const suite = getSuite();
    const { deal, ids, net, session } = setup(suite, 3, 5);
    const r = await session.sign({ message });
    expect(independentVerify(suite, deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.signers).toEqual(ids.slice(0, 3));
    expect(r.attempts).toBe(1);
    expect([...r.misbehaved, ...r.timedOut, ...r.failed]).toEqual([]);
    expect(r.signingPackage.commitments.map((c) => c.identifier)).toEqual(ids.slice(0, 3));
    expect(net.signCalls.map((c) => c.party)).toEqual(ids.slice(0, 3));
    expect(new Set(net.signCalls.map((c) => c.request.sessionId))).toEqual(new Set([r.sessionId]));
  });
});

describe('SigningSession (ed25519, 3 of 5)', () => {
  const suite = () => getCiphersuite('FROST-ED25519-SHA512-v1');

  it('tops up a half-spent pool of parties that do not replenish in the background, so warm signings need no round one', async () => {
    const none: Record<number, Behaviour> = { 0: 'no-replenish', 1: 'no-replenish', 2: 'no-replenish' };
    const { deal, ids, net, session } = setup(suite(), 3, 5, none, { batchSize: 4 });
    const settle = () => new Promise((r) => setImmediate(r));
    for (let i = 0; i < 12; i++) {
      const r = await session.sign({ message });
      expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
      for (let k = 0; k < 5; k++) await settle();
    }
    // After each signing the quorum's pools are topped up: they never fell to zero, so every
    // commit call after the first round was a background top-up, and no commitment was reused.
    for (const id of ids.slice(0, 3)) expect(session.pooled(id)).toBeGreaterThan(0);
    const packages = new Set(net.signCalls.map((c) => c.request.signingPackage));
    const used = [...packages].flatMap((p) => p.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
    expect(net.commitCalls.filter((c) => c.request.sessionId.startsWith('refill-')).length).toBeGreaterThan(
      0,
    );
  });

  it('asks each signer for one fresh commitment with its share, so a warm pool stays full and no batch is asked again', async () => {
    const { deal, ids, net, session } = setup(suite(), 3, 5, {}, { batchSize: 4 });
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await session.sign({ message: utf8(`m${i}`) }));
    for (const r of results) {
      expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(
        true,
      );
    }
    // One batch per party for the first signing; after that each share brought its replacement.
    expect(net.commitCalls).toHaveLength(5);
    expect(net.signCalls.every((c) => c.request.replenish === 1)).toBe(true);
    for (const id of ids.slice(0, 3)) expect(session.pooled(id)).toBe(4);
    const used = results.flatMap((r) => r.signingPackage.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
    // Each party stores exactly the nonces of the commitments the session holds for it: none lost.
    for (const id of ids) expect(await net.stores.get(id)!.count()).toBe(session.pooled(id));
  });

  it('asks for no fresh commitments without a pool (batch size below 4)', async () => {
    const { net, session } = setup(suite(), 3, 5, {}, { batchSize: 3 });
    await session.sign({ message });
    expect(net.signCalls.length).toBeGreaterThan(0);
    expect(net.signCalls.every((c) => c.request.replenish === undefined)).toBe(true);
  });

  it('names a party whose fresh commitment is unsound, drops it and signs with the others', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5, { 1: 'bad-replenish' }, { batchSize: 4 });
    const r = await session.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.signers).not.toContain(ids[1]);
    expect(r.attempts).toBe(2);
    expect(r.misbehaved).toEqual([
      expect.objectContaining({ party: ids[1], round: 1, attempt: 1, code: 'INVALID_POINT' }),
    ]);
    expect(r.misbehaved[0]!.detail).toMatch(/^with its share: commitments\[0\]\.hiding/);
    expect(session.pooled(ids[1])).toBe(0);
  });

  it('names a party that sends one commitment twice: in a batch, or again with its share', async () => {
    const { deal, ids, net } = setup(suite(), 3, 5);
    const session = (transport: Partial<typeof net.transport>) =>
      new SigningSession({
        suite: suite(),
        publicPackage: deal.publicPackage,
        sleep: immediateSleep,
        batchSize: 4,
        transport: { ...net.transport, ...transport },
      });
    // A batch repeating a commitment.
    const twice = session({
      commit: async (party, request, signal) => {
        const cs = await net.transport.commit(party, request, signal);
        return party === ids[0] ? [cs[0]!, ...cs.slice(0, -1)] : cs;
      },
    });
    const r1 = await twice.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r1.signature)).toBe(true);
    expect(r1.misbehaved).toEqual([
      expect.objectContaining({
        party: ids[0],
        round: 1,
        code: 'NONCE_REUSE',
        detail: 'commitments[1]: commitment sent twice',
      }),
    ]);
    // A fresh commitment that is one the session already holds for the party.
    let batch: readonly Round1Commitment[] = [];
    const again = session({
      commit: async (party, request, signal) => {
        const cs = await net.transport.commit(party, request, signal);
        if (party === ids[1]) batch = cs;
        return cs;
      },
      sign: async (party, request, signal) => {
        const answer = await net.transport.sign(party, request, signal);
        return party === ids[1] ? { ...answer, commitments: [batch.at(-1)!] } : answer;
      },
    });
    const r2 = await again.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r2.signature)).toBe(true);
    expect(r2.misbehaved).toEqual([
      expect.objectContaining({
        party: ids[1],
        round: 1,
        code: 'NONCE_REUSE',
        detail: 'with its share: commitments[0]: commitment sent twice',
      }),
    ]);
    expect(again.pooled(ids[1])).toBe(0);
  });

  it('names a party that sends commitments with a share that asked for none', async () => {
    const { deal, ids, net } = setup(suite(), 3, 5);
    const session = new SigningSession({
      suite: suite(),
      publicPackage: deal.publicPackage,
      sleep: immediateSleep,
      transport: {
        commit: net.transport.commit,
        sign: async (party, request, signal) => {
          const share = await net.transport.sign(party, request, signal);
          if (party !== ids[0]) return share;
          const extra = await net.transport.commit(party, { sessionId: 'extra', count: 1 }, signal);
          return { ...share, commitments: extra };
        },
      },
    });
    const r = await session.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.misbehaved).toEqual([
      expect.objectContaining({ party: ids[0], round: 1, code: 'DECODE_FAILED' }),
    ]);
    expect(r.signers).not.toContain(ids[0]);
  });

  it('names a party whose fresh commitment is one it already spent, and never puts it into a second package', async () => {
    const { deal, ids, net } = setup(suite(), 3, 5);
    // Party 0 answers its share with the commitment it just spent as its "fresh" one.
    const session = new SigningSession({
      suite: suite(),
      publicPackage: deal.publicPackage,
      sleep: immediateSleep,
      batchSize: 4,
      transport: {
        commit: net.transport.commit,
        sign: async (party, request, signal) => {
          const answer = await net.transport.sign(party, request, signal);
          if (party !== ids[0]) return answer;
          const spent = request.signingPackage.commitments.find((c) => c.identifier === party)!;
          return { identifier: answer.identifier, share: answer.share, commitments: [spent] };
        },
      },
    });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await session.sign({ message: utf8(`m${i}`) }));
    for (const r of results) {
      expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(
        true,
      );
    }
    // Every signing package sent holds each commitment once, across all of them.
    const packages = new Set(net.signCalls.map((c) => c.request.signingPackage));
    const used = [...packages].flatMap((p) => p.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
    expect(results[0]!.misbehaved).toEqual([
      expect.objectContaining({ party: ids[0], round: 1, code: 'NONCE_REUSE' }),
    ]);
    expect(results[0]!.misbehaved[0]!.detail).toMatch(/^with its share: /);
  });

  it('signs with n-t parties offline, reporting them', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5, { 0: 'offline', 2: 'offline' });
    const r = await session.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.signers).toEqual([ids[1], ids[3], ids[4]]);
    expect(r.attempts).toBe(1);
    expect(partiesOf(r.failed)).toEqual([ids[0], ids[2]].sort());
    expect(r.failed.every((f) => f.code === 'UNAVAILABLE' && f.round === 1)).toBe(true);
  });

  it('names a party that sends a corrupted share, drops it and still signs', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5, { 1: 'corrupt' });
    const r = await session.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.misbehaved).toEqual([
      { party: ids[1], round: 2, attempt: 1, code: 'INVALID_SIGNATURE_SHARE', detail: expect.any(String) },
    ]);
    expect(r.signers).not.toContain(ids[1]);
    expect(r.attempts).toBe(2);
  });

  it('times out a party that hangs in round two and signs without it', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5, { 0: 'hang-sign' });
    const r = await session.sign({ message });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.timedOut).toEqual([
      { party: ids[0], round: 2, attempt: 1, code: 'TIMEOUT', detail: expect.any(String) },
    ]);
    expect(r.signers).toEqual([ids[1], ids[2], ids[3]]);
    expect(r.misbehaved).toEqual([]);
  });

  it('times out a party that hangs in round one and signs without it', async () => {
    const { ids, session } = setup(suite(), 3, 5, { 2: 'hang-commit' });
    const r = await session.sign({ message });
    expect(r.timedOut.map((f) => [f.party, f.round])).toEqual([[ids[2], 1]]);
    expect(r.signers).toEqual([ids[0], ids[1], ids[3]]);
    expect(r.attempts).toBe(1);
  });

  it('names a party whose commitment is not a valid point', async () => {
    const { ids, session } = setup(suite(), 3, 5, { 0: 'bad-commitment' });
    const r = await session.sign({ message });
    expect(r.misbehaved.map((f) => [f.party, f.round, f.code])).toEqual([[ids[0], 1, 'INVALID_POINT']]);
    expect(r.signers).toEqual([ids[1], ids[2], ids[3]]);
  });

  it('reports a policy refusal as a failure, not as misbehaviour', async () => {
    const { ids, session } = setup(suite(), 3, 5, { 0: 'refuse' });
    const r = await session.sign({ message });
    expect(r.failed.map((f) => [f.party, f.round, f.code])).toEqual([[ids[0], 2, 'POLICY_REFUSED']]);
    expect(r.misbehaved).toEqual([]);
    expect(r.signers).not.toContain(ids[0]);
  });

  it('puts a required party in every quorum, even one late in the order', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5);
    const r = await session.sign({ message, required: [ids[4]!] });
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, message, r.signature)).toBe(true);
    expect(r.signers).toContain(ids[4]);
    expect(r.signers).toHaveLength(3);
  });

  it('fails, naming it, when a required party refuses: no other quorum is tried (a veto)', async () => {
    const { ids, net, session } = setup(suite(), 3, 5, { 3: 'refuse' });
    const e = (await rejection(session.sign({ message, required: [ids[3]!] }))) as ProtocolError;
    expect(e.code).toBe('QUORUM_UNREACHABLE');
    expect(e.details['requiredLost']).toEqual([ids[3]]);
    expect((e.details['failed'] as PartyFault[]).map((f) => [f.party, f.code])).toEqual([
      [ids[3], 'POLICY_REFUSED'],
    ]);
    expect(new Set(net.signCalls.map((c) => c.request.attempt))).toEqual(new Set([1]));
    // Without the requirement the same refusal is routed around.
    const r = await session.sign({ message });
    expect(r.signers).not.toContain(ids[3]);
  });

  it('fails when a required party is offline, and refuses impossible requirements', async () => {
    const { ids, session } = setup(suite(), 3, 5, { 1: 'offline' });
    const e = (await rejection(session.sign({ message, required: [ids[1]!] }))) as ProtocolError;
    expect(e.details['requiredLost']).toEqual([ids[1]]);
    const codeOf = async (input: Parameters<typeof session.sign>[0]) =>
      ((await rejection(session.sign(input))) as AapsError).code;
    expect(await codeOf({ message, required: ids.slice(0, 4) })).toBe('INVALID_ARGUMENT');
    expect(await codeOf({ message, required: [ids[0]!], exclude: [ids[0]!] })).toBe('INVALID_ARGUMENT');
    expect(await codeOf({ message, required: [ids[0]!, ids[0]!] })).toBe('DUPLICATE_IDENTIFIER');
  });

  it('throws QUORUM_UNREACHABLE naming the liars when more than n-t parties are faulty', async () => {
    const { ids, session } = setup(suite(), 3, 5, { 0: 'corrupt', 1: 'offline', 3: 'corrupt' });
    const e = await rejection(session.sign({ message }));
    expect(e).toBeInstanceOf(ProtocolError);
    const err = e as ProtocolError;
    expect(err.code).toBe('QUORUM_UNREACHABLE');
    expect([...err.culprits].sort()).toEqual([ids[0], ids[3]].sort());
    expect(partiesOf(err.details['failed'] as PartyFault[])).toEqual([ids[1]]);
  });

  it('blames nobody when the parties are merely unreachable', async () => {
    const { session } = setup(suite(), 3, 5, { 0: 'offline', 1: 'hang-commit', 2: 'hang-sign' });
    const e = await rejection(session.sign({ message }));
    expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE', culprits: [] });
  });

  it('leaves excluded parties alone', async () => {
    const { ids, net, session } = setup(suite(), 3, 5);
    const r = await session.sign({ message, exclude: [ids[0]!] });
    expect(r.signers).toEqual([ids[1], ids[2], ids[3]]);
    expect(net.commitCalls.map((c) => c.party)).not.toContain(ids[0]);
    expect(net.signCalls.map((c) => c.party)).not.toContain(ids[0]);
  });

  it('tries preferred parties first', async () => {
    const suiteNow = suite();
    const rng = seededRng(9);
    const deal = trustedDealer(suiteNow, { min: 2, max: 4 }, { rng });
    const ids = deal.keyPackages.map((kp) => kp.identifier);
    const net = signingNetwork(suiteNow, deal, new Map(), rng);
    const session = new SigningSession({
      suite: suiteNow,
      publicPackage: deal.publicPackage,
      transport: net.transport,
      sleep: immediateSleep,
      preference: [ids[3]!, ids[1]!],
    });
    const r = await session.sign({ message });
    expect(r.signers).toEqual([ids[3], ids[1]]);
  });

  it('passes the payload through, and signs the message derived from it', async () => {
    const suiteNow = suite();
    const rng = seededRng(5);
    const deal = trustedDealer(suiteNow, { min: 2, max: 3 }, { rng });
    const messageFor = (p: { incident: string; action: string }) => utf8(`${p.incident}:${p.action}`);
    const net = signingNetwork(suiteNow, deal, new Map(), rng, messageFor);
    const session = new SigningSession<{ incident: string; action: string }>({
      suite: suiteNow,
      publicPackage: deal.publicPackage,
      transport: net.transport,
      sleep: immediateSleep,
    });
    const payload = { incident: 'inc-7', action: 'pod_restart' };
    const r = await session.sign({ payload, messageFor });
    expect(r.message).toEqual(utf8('inc-7:pod_restart'));
    expect(independentVerify(suiteNow, deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(true);
    expect(net.signCalls.every((c) => c.request.payload === payload)).toBe(true);
  });

  it('uses a batch of preprocessed commitments one signing at a time', async () => {
    const { deal, net, session } = setup(suite(), 3, 5, {}, { batchSize: 3 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await session.sign({ message: utf8(`m${i}`) }));
    for (const r of results) {
      expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(
        true,
      );
    }
    // Round one ran once per party, for the first signing; later signings needed only round two.
    expect(net.commitCalls).toHaveLength(5);
    expect(net.commitCalls.every((c) => c.request.count === 3)).toBe(true);
    const used = results.flatMap((r) => r.signingPackage.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
    expect(session.pooled()).toBe(15 - used.length);
  });

  it('adopts a refreshed package, drops the commitments pooled under the old shares, and signs', async () => {
    const { deal, ids, net, session } = setup(suite(), 3, 5, {}, { batchSize: 8 });
    await session.sign({ message: utf8('before') });
    const refresh = refreshDealer(suite(), deal.publicPackage, ids, seededRng(99));
    const refreshed = deal.keyPackages.map((kp, i) =>
      applyRefresh(suite(), kp, deal.publicPackage, refresh.shares[i]!),
    );
    net.takeKeys(
      refreshed.map((r) => r.keyPackage),
      refresh.publicPackage,
    );
    expect(refresh.publicPackage.verifyingShares[ids[0]!]).not.toEqual(
      deal.publicPackage.verifyingShares[ids[0]!],
    );
    expect(session.pooled()).toBeGreaterThan(0);
    session.adoptRefresh(refresh.publicPackage);
    expect(session.pooled()).toBe(0);
    const commitsBefore = net.commitCalls.length;
    const after = await session.sign({ message: utf8('after') });
    expect(after.misbehaved).toEqual([]);
    expect(
      independentVerify(suite(), deal.publicPackage.groupPublicKey, after.message, after.signature),
    ).toBe(true);
    // Parties bind nonces to their shares: the old pool went, and the signing asked afresh once.
    expect(net.commitCalls.length).toBeGreaterThan(commitsBefore);
    expect(after.attempts).toBe(1);
    expect(after.failed).toEqual([]);
  });

  it('drops what a background top-up asked for before a refresh brings back after it', async () => {
    const none: Record<number, Behaviour> = { 0: 'no-replenish', 1: 'no-replenish', 2: 'no-replenish' };
    const { deal, ids, net } = setup(suite(), 3, 5, none);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const refills: Promise<unknown>[] = [];
    const session = new SigningSession({
      suite: suite(),
      publicPackage: deal.publicPackage,
      sleep: immediateSleep,
      batchSize: 4,
      transport: {
        sign: net.transport.sign,
        commit: (party, request, signal) => {
          if (!request.sessionId.startsWith('refill-')) return net.transport.commit(party, request, signal);
          const late = held.then(() => net.transport.commit(party, request, signal));
          refills.push(late);
          return late;
        },
      },
    });
    await session.sign({ message: utf8('one') });
    await session.sign({ message: utf8('two') });
    expect(refills.length).toBeGreaterThan(0);
    session.adoptRefresh(refreshDealer(suite(), deal.publicPackage, ids, seededRng(96)).publicPackage);
    release();
    await Promise.all(refills);
    await new Promise((resolve) => setImmediate(resolve));
    expect(session.pooled()).toBe(0);
  });

  it('names the right cheater after a refresh only under the adopted package', async () => {
    // A consistent refreshed quorum still aggregates under the old package (the shares of zero
    // cancel in the sum), but once a share is bad, each share is judged against its verifying
    // share: under the old package every honest refreshed party is blamed too.
    const { deal, ids, net, session } = setup(suite(), 3, 5, { 1: 'corrupt' });
    const refresh = refreshDealer(suite(), deal.publicPackage, ids, seededRng(98));
    net.takeKeys(
      deal.keyPackages.map(
        (kp, i) => applyRefresh(suite(), kp, deal.publicPackage, refresh.shares[i]!).keyPackage,
      ),
      refresh.publicPackage,
    );
    const stale = await rejection(session.sign({ message }));
    expect((stale as ProtocolError).code).toBe('QUORUM_UNREACHABLE');
    expect((stale as ProtocolError).culprits.length).toBeGreaterThan(1);
    const adopted = new SigningSession({
      suite: suite(),
      publicPackage: deal.publicPackage,
      transport: net.transport,
      sleep: immediateSleep,
    });
    adopted.adoptRefresh(refresh.publicPackage);
    const r = await adopted.sign({ message });
    expect(partiesOf(r.misbehaved)).toEqual([ids[1]]);
    expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(true);
  });

  it('refuses a package that is no refresh of its own, and any package while a signing runs', async () => {
    const { deal, ids, session } = setup(suite(), 3, 5);
    const other = trustedDealer(suite(), { min: 3, max: 5 }, { rng: seededRng(7) });
    const fieldOf = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).fields;
      }
      return expect.unreachable('expected a refusal');
    };
    expect(fieldOf(() => session.adoptRefresh(other.publicPackage))).toEqual([
      'publicPackage.groupPublicKey',
    ]);
    const refresh = refreshDealer(suite(), deal.publicPackage, ids, seededRng(97));
    const pending = session.sign({ message });
    expect(() => session.adoptRefresh(refresh.publicPackage)).toThrow(AapsError);
    try {
      session.adoptRefresh(refresh.publicPackage);
    } catch (e) {
      expect((e as AapsError).code).toBe('CONFLICT');
    }
    await pending;
    expect(() => session.adoptRefresh(refresh.publicPackage)).not.toThrow();
  });

  it('runs concurrent signings on one session without sharing a commitment', async () => {
    const { deal, net, session } = setup(suite(), 3, 5, { 1: 'corrupt' });
    const results = await Promise.all([0, 1, 2, 3].map((i) => session.sign({ message: utf8(`m${i}`) })));
    for (const r of results) {
      expect(independentVerify(suite(), deal.publicPackage.groupPublicKey, r.message, r.signature)).toBe(
        true,
      );
    }
    const packages = new Set(net.signCalls.map((c) => c.request.signingPackage));
    const used = [...packages].flatMap((p) => p.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
  });

  it('never puts one commitment in two signing packages across retries', async () => {
    const { net, session } = setup(
      suite(),
      2,
      5,
      { 0: 'corrupt', 1: 'corrupt', 2: 'hang-sign' },
      { batchSize: 2 },
    );
    const r = await session.sign({ message });
    expect(r.attempts).toBeGreaterThan(1);
    const packages = new Set(net.signCalls.map((c) => c.request.signingPackage));
    const used = [...packages].flatMap((p) => p.commitments.map(commitmentKey));
    expect(new Set(used).size).toBe(used.length);
  });

  it('asks again for commitments a party no longer holds, once', async () => {
    const { ids, net, session } = setup(suite(), 3, 5, {}, { batchSize: 2 });
    await session.sign({ message });
    // Party 0 restarts without its database: its pooled commitment is unknown to it now.
    net.stores.set(ids[0]!, new InMemoryNonceStore());
    const r = await session.sign({ message });
    expect(r.signers).toEqual(ids.slice(0, 3));
    expect(r.failed).toEqual([]);
    expect(r.attempts).toBe(2);
  });

  it('bounds calls with the default timer too', async () => {
    const { ids, session } = setup(
      suite(),
      2,
      3,
      { 0: 'hang-sign', 1: 'hang-commit' },
      {
        sleep: undefined,
        timeoutMs: 20,
      },
    );
    const e = await rejection(session.sign({ message }));
    expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE', culprits: [] });
    const details = (e as ProtocolError).details;
    expect(partiesOf(details['timedOut'] as PartyFault[])).toEqual([ids[0], ids[1]].sort());
  });

  it('checks its options and inputs', async () => {
    const { deal, ids, net, session } = setup(suite(), 3, 5);
    const base = { suite: suite(), publicPackage: deal.publicPackage, transport: net.transport };
    const fieldsOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).fields;
      }
      return expect.unreachable('expected a ValidationError');
    };
    expect(fieldsOf(() => new SigningSession({ ...base, timeoutMs: 0 }))).toEqual(['timeoutMs']);
    expect(fieldsOf(() => new SigningSession({ ...base, batchSize: 1.5 }))).toEqual(['batchSize']);
    expect(fieldsOf(() => new SigningSession({ ...base, preference: ['ff'] }))).toEqual(['preference[0]']);
    expect(fieldsOf(() => new SigningSession({ ...base, preference: [ids[1]!, ids[1]!] }))).toEqual([
      'preference[1]',
    ]);
    expect(fieldsOf(() => new SigningSession({ ...base, suite: ciphersuites.secp256k1 }))).toEqual([
      'publicPackage.suite',
    ]);
    const bad = [
      [{}, 'input'],
      [{ message, messageFor: () => message, payload: 1 }, 'input'],
      [{ message: 'text' }, 'input.message'],
      [{ messageFor: () => message }, 'input.payload'],
      [{ message, exclude: ['00'] }, 'input.exclude[0]'],
      [{ message, sessionId: '' }, 'input.sessionId'],
    ] as const;
    for (const [input, field] of bad) {
      const e = await rejection(session.sign(input as never));
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).fields).toEqual([field]);
    }
    expect(net.commitCalls).toHaveLength(0);
  });
});
