/** FROST signing and verification: mpc-core against noble's own FROST and node:crypto, same run. */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  type AnyCiphersuite,
  aggregate,
  ciphersuites,
  commit,
  getCiphersuite,
  identifierFromNumber,
  loadFastBackends,
  runDkgLocally,
  type SigningNonces,
  signShare,
  trustedDealer,
  verify,
} from '@aaps/mpc-core';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST } from '@noble/curves/secp256k1.js';
import type { SuiteContext } from '../harness.js';

const message = new TextEncoder().encode('approve: incident 42, action image_rollback, digest sha256:…');

function oursFull(suite: AnyCiphersuite, t: number, n: number) {
  const deal = trustedDealer(suite, { min: t, max: n });
  const signers = deal.keyPackages.slice(0, t);
  return () => {
    const nonces = signers.map((kp) => commit(suite, kp));
    const pkg = { commitments: nonces.map((x) => x.commitment), message };
    const shares = signers.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, deal.publicPackage));
    const sig = aggregate(suite, pkg, shares, deal.publicPackage);
    if (!verify(suite, deal.publicPackage.groupPublicKey, message, sig)) throw new Error('bad signature');
  };
}

function nobleFull(frost: FROST, t: number, n: number) {
  const deal = frost.trustedDealer({ min: t, max: n });
  const ids = Object.keys(deal.secretShares).slice(0, t);
  return () => {
    const nonces = ids.map((id) => frost.commit(deal.secretShares[id]!));
    const list = nonces.map((x) => x.commitments);
    const shares: Record<string, Uint8Array> = {};
    ids.forEach((id, i) => {
      shares[id] = frost.signShare(deal.secretShares[id]!, deal.public, nonces[i]!.nonces, list, message);
    });
    const sig = frost.aggregate(deal.public, list, message, shares);
    if (!frost.verify(sig, message, deal.public.commitments[0]!)) throw new Error('bad signature');
  };
}

/** noble's own three-round DKG with every party in this process. */
function nobleDkg(frost: FROST, n: number, t: number) {
  const signers = { min: t, max: n };
  const ids = Array.from({ length: n }, (_, i) => frost.Identifier.fromNumber(i + 1));
  const r1 = ids.map((id) => frost.DKG.round1(id, signers));
  const r2 = r1.map((me) =>
    frost.DKG.round2(
      me.secret,
      r1.filter((o) => o !== me).map((o) => o.public),
    ),
  );
  return ids.map((id, i) => {
    const others = r1.filter((_, j) => j !== i).map((o) => o.public);
    const mine = r2.flatMap((out, j) => (j === i ? [] : [out[id]!]));
    return frost.DKG.round3(r1[i]!.secret, others, mine);
  });
}

/** A pool of fresh nonces so that each measured signShare uses unspent ones. */
function oursSignShare(suite: AnyCiphersuite) {
  const deal = trustedDealer(suite, { min: 3, max: 5 });
  const [me, a, b] = deal.keyPackages;
  const others = [commit(suite, a!).commitment, commit(suite, b!).commitment];
  let pool: SigningNonces[] = [];
  return {
    setup: () => {
      pool = Array.from({ length: 4000 }, () => commit(suite, me!));
    },
    fn: () => {
      const nonces = pool.pop() ?? commit(suite, me!);
      signShare(
        suite,
        me!,
        nonces,
        { commitments: [nonces.commitment, ...others], message },
        deal.publicPackage,
      );
    },
  };
}

function nobleSignShare(frost: FROST) {
  const deal = frost.trustedDealer({ min: 3, max: 5 });
  const [me, a, b] = Object.keys(deal.secretShares);
  const others = [
    frost.commit(deal.secretShares[a!]!).commitments,
    frost.commit(deal.secretShares[b!]!).commitments,
  ];
  let pool: ReturnType<FROST['commit']>[] = [];
  return {
    setup: () => {
      pool = Array.from({ length: 300 }, () => frost.commit(deal.secretShares[me!]!));
    },
    fn: () => {
      const n = pool.pop() ?? frost.commit(deal.secretShares[me!]!);
      frost.signShare(deal.secretShares[me!]!, deal.public, n.nonces, [n.commitments, ...others], message);
    },
  };
}

export async function register(ctx: SuiteContext): Promise<void> {
  await loadFastBackends();
  const ed = getCiphersuite('FROST-ED25519-SHA512-v1');
  const { add, ratio } = ctx;

  add('frost.ed25519.sign.3of5.full', 'mpc-core', oursFull(ed, 3, 5), { time: 1000 });
  add('frost.ed25519.sign.3of5.full', 'noble', nobleFull(ed25519_FROST, 3, 5), { time: 1000 });
  ratio({
    label: 'frost.ed25519.sign.3of5.full mpc-core/noble',
    numerator: { name: 'frost.ed25519.sign.3of5.full', impl: 'mpc-core' },
    denominator: { name: 'frost.ed25519.sign.3of5.full', impl: 'noble' },
    goal: 1 / 12,
  });

  const ss = oursSignShare(ed);
  add('frost.ed25519.signShare.3of5', 'mpc-core', ss.fn, { setup: ss.setup, time: 800 });
  const ns = nobleSignShare(ed25519_FROST);
  add('frost.ed25519.signShare.3of5', 'noble', ns.fn, { setup: ns.setup, time: 800 });
  ratio({
    label: 'frost.ed25519.signShare.3of5 mpc-core/noble',
    numerator: { name: 'frost.ed25519.signShare.3of5', impl: 'mpc-core' },
    denominator: { name: 'frost.ed25519.signShare.3of5', impl: 'noble' },
    goal: 1 / 12,
  });

  const deal = trustedDealer(ed, { min: 3, max: 5 });
  const nonces = deal.keyPackages.slice(0, 3).map((kp) => commit(ed, kp));
  const pkg = { commitments: nonces.map((x) => x.commitment), message };
  const sig = aggregate(
    ed,
    pkg,
    deal.keyPackages.slice(0, 3).map((kp, i) => signShare(ed, kp, nonces[i]!, pkg, deal.publicPackage)),
    deal.publicPackage,
  );
  const gk = deal.publicPackage.groupPublicKey;
  const spki = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), gk]),
    format: 'der',
    type: 'spki',
  });
  add('frost.ed25519.verify', 'mpc-core', () => {
    if (!verify(ed, gk, message, sig)) throw new Error('bad');
  });
  add('frost.ed25519.verify', 'noble', () => {
    if (!ed25519_FROST.verify(sig, message, gk)) throw new Error('bad');
  });
  add('frost.ed25519.verify', 'node:crypto', () => {
    if (!nodeVerify(null, message, spki, sig)) throw new Error('bad');
  });
  ratio({
    label: 'frost.ed25519.verify mpc-core/node:crypto',
    numerator: { name: 'frost.ed25519.verify', impl: 'mpc-core' },
    denominator: { name: 'frost.ed25519.verify', impl: 'node:crypto' },
    goal: 1.25,
  });

  // DKG, n=10 t=7, all parties in one process.
  const ids10 = Array.from({ length: 10 }, (_, i) => identifierFromNumber(ed, i + 1));
  add(
    'frost.ed25519.dkg.10of7',
    'mpc-core',
    () => runDkgLocally(ed, { identifiers: ids10, threshold: { min: 7, max: 10 } }),
    {
      time: 0,
      iterations: 6,
    },
  );
  add('frost.ed25519.dkg.10of7', 'noble', () => nobleDkg(ed25519_FROST, 10, 7), { time: 0, iterations: 3 });
  ratio({
    label: 'frost.ed25519.dkg.10of7 mpc-core/noble',
    numerator: { name: 'frost.ed25519.dkg.10of7', impl: 'mpc-core' },
    denominator: { name: 'frost.ed25519.dkg.10of7', impl: 'noble' },
    goal: 1 / 12,
  });

  add('frost.secp256k1tr.sign.3of5.full', 'mpc-core', oursFull(ciphersuites.secp256k1tr, 3, 5), {
    time: 800,
  });
  add('frost.secp256k1tr.sign.3of5.full', 'noble', nobleFull(schnorr_FROST, 3, 5), { time: 800 });
  ratio({
    label: 'frost.secp256k1tr.sign.3of5.full mpc-core/noble',
    numerator: { name: 'frost.secp256k1tr.sign.3of5.full', impl: 'mpc-core' },
    denominator: { name: 'frost.secp256k1tr.sign.3of5.full', impl: 'noble' },
  });
}
