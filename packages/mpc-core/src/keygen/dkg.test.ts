/** DKG examples: input checks, transcript binding, round order, redaction. */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  ciphersuites,
  commit,
  identifierFromNumber,
  type ProtocolError,
  signShare,
  type ValidationError,
  verify,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import { type DkgRound1Package, dkgRound1, dkgRound2, dkgRound3, runDkgLocally } from './dkg.js';

const suite = ciphersuites.ed25519;
const ids = [1, 2, 3].map((i) => identifierFromNumber(suite, i));
const threshold = { min: 2, max: 3 };

function setup(seed = 1) {
  const rng = seededRng(seed);
  const r1 = ids.map((identifier) => dkgRound1(suite, { identifier, threshold, rng }));
  const broadcast = r1.map((r) => r.package);
  const others = (i: number) => broadcast.filter((_, j) => j !== i);
  return { r1, broadcast, others };
}

function codeOf(f: () => unknown): {
  code?: string;
  culprits?: readonly string[];
  fields?: readonly string[];
} {
  try {
    f();
  } catch (e) {
    return e as ProtocolError & ValidationError;
  }
  throw new Error('expected an error');
}

describe('dkgRound1', () => {
  it('refuses a bad threshold and a bad identifier', () => {
    expect(codeOf(() => dkgRound1(suite, { identifier: ids[0]!, threshold: { min: 1, max: 3 } })).code).toBe(
      'INVALID_THRESHOLD',
    );
    expect(codeOf(() => dkgRound1(suite, { identifier: '00'.repeat(32), threshold })).code).toBe(
      'INVALID_IDENTIFIER',
    );
    expect(codeOf(() => dkgRound1(suite, { identifier: 'zz', threshold })).code).toBe('INVALID_IDENTIFIER');
  });

  it('publishes min commitments and a suite-sized proof, and never prints its secret', () => {
    const { r1 } = setup();
    const { package: pkg, secret } = r1[0]!;
    expect(pkg.commitment).toHaveLength(2);
    expect(pkg.proofOfKnowledge).toHaveLength(64);
    expect(JSON.stringify(secret)).toBe('"<redacted>"');
    expect(String(secret)).toBe('<redacted>');
    expect(inspect(secret)).not.toMatch(/[0-9a-f]{40}n/);
    expect(Object.keys(secret)).toEqual(['suite', 'identifier', 'threshold', 'commitment']);
    const tr = dkgRound1(ciphersuites.secp256k1tr, { identifier: ids[0]!, threshold, rng: seededRng(2) });
    expect(tr.package.proofOfKnowledge).toHaveLength(64);
    const k1 = dkgRound1(ciphersuites.secp256k1, { identifier: ids[0]!, threshold, rng: seededRng(2) });
    expect(k1.package.proofOfKnowledge).toHaveLength(65);
  });
});

describe('dkgRound2', () => {
  it('needs exactly one package from every other party', () => {
    const { r1, broadcast, others } = setup();
    const s = r1[0]!.secret;
    expect(codeOf(() => dkgRound2(suite, s, others(0).slice(1))).code).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => dkgRound2(suite, s, [broadcast[1]!, broadcast[1]!])).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    expect(codeOf(() => dkgRound2(suite, s, [broadcast[0]!, broadcast[1]!])).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    expect(codeOf(() => dkgRound2(ciphersuites.secp256k1, s, others(0))).code).toBe('CIPHERSUITE_MISMATCH');
  });

  it('blames every sender of a wrong-length commitment, an invalid point or a bad proof', () => {
    const { r1, broadcast } = setup();
    const short: DkgRound1Package = { ...broadcast[1]!, commitment: broadcast[1]!.commitment.slice(0, 1) };
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const badPoint: DkgRound1Package = {
      ...broadcast[2]!,
      commitment: [broadcast[2]!.commitment[0]!, identity],
    };
    const err = codeOf(() => dkgRound2(suite, r1[0]!.secret, [short, badPoint]));
    expect(err.code).toBe('INVALID_PROOF_OF_KNOWLEDGE');
    expect(err.culprits).toEqual([ids[1], ids[2]]);
    // A proof copied from another party does not verify for this one.
    const stolen: DkgRound1Package = { ...broadcast[1]!, proofOfKnowledge: broadcast[2]!.proofOfKnowledge };
    const err2 = codeOf(() => dkgRound2(suite, r1[0]!.secret, [stolen, broadcast[2]!]));
    expect(err2.culprits).toEqual([ids[1]]);
  });

  it('shares once per transcript: a second call with other packages is refused', () => {
    const { r1, others } = setup();
    const a = dkgRound2(suite, r1[0]!.secret, others(0));
    const again = dkgRound2(suite, r1[0]!.secret, [...others(0)].reverse());
    expect(again.packages.map((p) => p.signingShare.expose())).toEqual(
      a.packages.map((p) => p.signingShare.expose()),
    );
    const other = setup(9);
    const mixed = [others(0)[0]!, other.broadcast[2]!];
    expect(codeOf(() => dkgRound2(suite, r1[0]!.secret, mixed)).code).toBe('INCONSISTENT_TRANSCRIPT');
  });

  it('round-2 packages print redacted shares', () => {
    const { r1, others } = setup();
    const { packages } = dkgRound2(suite, r1[0]!.secret, others(0));
    expect(JSON.stringify(packages[0])).toContain('"signingShare":"<redacted>"');
  });
});

describe('dkgRound3', () => {
  function toRound3(seed = 1) {
    const s = setup(seed);
    const r2 = s.r1.map((r, i) => dkgRound2(suite, r.secret, s.others(i)));
    const all = r2.flatMap((o) => o.packages);
    const inbox = (id: string) => all.filter((p) => p.receiver === id);
    return { ...s, r2, all, inbox };
  }

  it('produces key packages that sign', () => {
    const { r2, others, inbox } = toRound3();
    const outs = r2.map((o, i) => dkgRound3(suite, o.secret, others(i), inbox(ids[i]!)));
    const pub = outs[0]!.publicPackage;
    expect(pub.threshold).toEqual(threshold);
    expect(pub.commitments).toHaveLength(2);
    expect(pub.groupPublicKey).toEqual(pub.commitments![0]);
    const kps = [outs[0]!.keyPackage, outs[2]!.keyPackage];
    const rng = seededRng(5);
    const nonces = kps.map((kp) => commit(suite, kp, rng));
    const pkg = { commitments: nonces.map((n) => n.commitment), message: new Uint8Array([1, 2, 3]) };
    const sig = aggregate(
      suite,
      pkg,
      kps.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, pub)),
      pub,
    );
    expect(verify(suite, pub.groupPublicKey, pkg.message, sig)).toBe(true);
  });

  it('refuses round-1 packages other than those round 2 checked', () => {
    const { r2, broadcast, inbox } = toRound3();
    const swapped = [broadcast[2]!, { ...broadcast[1]!, proofOfKnowledge: new Uint8Array(64) }];
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, swapped, inbox(ids[0]!))).code).toBe(
      'INCONSISTENT_TRANSCRIPT',
    );
  });

  it('checks the round-2 envelope: count, receiver, sender', () => {
    const { r2, others, inbox, all } = toRound3();
    const mine = inbox(ids[0]!);
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), mine.slice(1))).code).toBe(
      'INVALID_ARGUMENT',
    );
    const misaddressed = [mine[0]!, all.find((p) => p.receiver === ids[1])!];
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), misaddressed)).fields).toEqual([
      'round2Packages[1].receiver',
    ]);
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), null as never)).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), [mine[0]!, mine[0]!])).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
  });

  it('names the sender of a share that does not match its commitment', () => {
    const { r2, others, inbox } = toRound3();
    const mine = inbox(ids[0]!);
    const forged = { ...mine[1]!, signingShare: mine[0]!.signingShare };
    const err = codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), [mine[0]!, forged]));
    expect(err.code).toBe('INVALID_SECRET_SHARE');
    expect(err.culprits).toEqual([mine[1]!.sender]);
  });

  it('runs once: the secrets are wiped afterwards', () => {
    const { r1, r2, others, inbox } = toRound3();
    dkgRound3(suite, r2[0]!.secret, others(0), inbox(ids[0]!));
    expect(codeOf(() => dkgRound3(suite, r2[0]!.secret, others(0), inbox(ids[0]!))).code).toBe('ROUND_ORDER');
    expect(codeOf(() => dkgRound2(suite, r1[0]!.secret, others(0))).code).toBe('ROUND_ORDER');
  });

  it('a round-3 on another backend of the same suite still works (points re-decoded)', async () => {
    const { loadFastBackends, getCiphersuite } = await import('../index.js');
    await loadFastBackends();
    const fast = getCiphersuite(suite.id);
    const { r2, others, inbox } = toRound3(3);
    const a = dkgRound3(fast, r2[0]!.secret, others(0), inbox(ids[0]!));
    const b = dkgRound3(suite, r2[1]!.secret, others(1), inbox(ids[1]!));
    expect(a.publicPackage.verifyingShares).toEqual(b.publicPackage.verifyingShares);
  });
});

describe('runDkgLocally', () => {
  it('runs every party and returns consistent packages', () => {
    const out = runDkgLocally(suite, { identifiers: ids, threshold, rng: seededRng(4) });
    expect(out.keyPackages.map((k) => k.identifier)).toEqual(ids);
    for (const kp of out.keyPackages)
      expect(kp.verifyingShare).toEqual(out.publicPackage.verifyingShares[kp.identifier]);
    expect(codeOf(() => runDkgLocally(suite, { identifiers: ids.slice(1), threshold })).code).toBe(
      'INVALID_ARGUMENT',
    );
  });
});
