/**
 * An in-process network of signing parties for SigningSession tests: each party is a real key
 * package over a real InMemoryNonceStore, driven through commitToStore/signAndReplenishFromStore
 * (answering a round two's `replenish` as a party node does), and can be told to misbehave in one
 * of a few ways.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { equalBytes } from '../bytes.js';
import { PolicyRefusal } from '../errors.js';
import type { DealerOutput } from '../keygen/dealer.js';
import type { Identifier, KeyPackage, PublicKeyPackage } from '../keys.js';
import { InMemoryNonceStore } from '../nonce-store.js';
import { verify } from '../sign/aggregate.js';
import type { CommitRequest, SigningTransport, SignRequest, Sleep } from '../sign/session.js';
import { commitToStore, signAndReplenishFromStore } from '../sign/signer.js';
import type { AnyCiphersuite, Rng } from '../suite/types.js';

export type Behaviour =
  | 'honest'
  /** Every call rejects, as a refused connection does. */
  | 'offline'
  /** Commits honestly, then returns a share with one bit flipped. */
  | 'corrupt'
  /** Round one never answers. */
  | 'hang-commit'
  /** Commits honestly; round two never answers. */
  | 'hang-sign'
  /** Returns a commitment that is not a valid group element. */
  | 'bad-commitment'
  /** Commits honestly; refuses to sign by policy. */
  | 'refuse'
  /** Signs honestly; the fresh commitment it sends with its share is not a valid group element. */
  | 'bad-replenish'
  /** Signs honestly and never sends fresh commitments, as a party that does not replenish. */
  | 'no-replenish';

export const FAULTS: readonly Behaviour[] = [
  'offline',
  'corrupt',
  'hang-commit',
  'hang-sign',
  'bad-commitment',
];

export interface SigningNetwork<P> {
  readonly transport: SigningTransport<P>;
  readonly stores: Map<Identifier, InMemoryNonceStore>;
  readonly commitCalls: { party: Identifier; request: CommitRequest }[];
  readonly signCalls: { party: Identifier; request: SignRequest<P> }[];
  /** From now on every party signs with these key packages under this public package (a refresh). */
  takeKeys(keyPackages: readonly KeyPackage[], publicPackage: PublicKeyPackage): void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export function signingNetwork<P = unknown>(
  suite: AnyCiphersuite,
  deal: DealerOutput,
  behaviours: ReadonlyMap<Identifier, Behaviour>,
  rng: Rng,
  messageFor?: (payload: P) => Uint8Array,
): SigningNetwork<P> {
  const stores = new Map(deal.keyPackages.map((kp) => [kp.identifier, new InMemoryNonceStore()]));
  const keys = new Map(deal.keyPackages.map((kp) => [kp.identifier, kp]));
  let pub = deal.publicPackage;
  const commitCalls: SigningNetwork<P>['commitCalls'] = [];
  const signCalls: SigningNetwork<P>['signCalls'] = [];
  const transport: SigningTransport<P> = {
    async commit(party, request) {
      commitCalls.push({ party, request });
      const b = behaviours.get(party) ?? 'honest';
      if (b === 'offline') throw new TypeError('fetch failed');
      if (b === 'hang-commit') return never();
      const cs = await commitToStore(suite, keys.get(party)!, stores.get(party)!, request.count, rng);
      if (b === 'bad-commitment') return cs.map((c) => ({ ...c, hiding: new Uint8Array(c.hiding.length) }));
      return cs;
    },
    async sign(party, request) {
      signCalls.push({ party, request });
      const b = behaviours.get(party) ?? 'honest';
      if (b === 'offline') throw new TypeError('fetch failed');
      if (b === 'hang-sign') return never();
      if (b === 'refuse') throw new PolicyRefusal('test.refuse', 'this party refuses');
      if (messageFor) {
        // A party derives the bytes it signs from the payload, and refuses any other message.
        const expected = messageFor(request.payload as P);
        if (!equalBytes(expected, request.signingPackage.message)) {
          throw new PolicyRefusal('message.mismatch', 'the message is not the payload’s');
        }
      }
      const { share, commitments } = await signAndReplenishFromStore(
        suite,
        keys.get(party)!,
        stores.get(party)!,
        request.signingPackage,
        pub,
        b === 'no-replenish' ? 0 : (request.replenish ?? 0),
        rng,
      );
      if (b === 'bad-replenish') {
        return {
          ...share,
          commitments: commitments.map((c) => ({ ...c, hiding: new Uint8Array(c.hiding.length) })),
        };
      }
      if (b !== 'corrupt') return commitments.length > 0 ? { ...share, commitments } : share;
      // Each corrupting party flips the low bit of a different byte (the byte sum of its identifier,
      // which is its index 1..n in either byte order), so that several corruptions never cancel in
      // the sum (deltas +-2^(8i) for distinct i). The identifier's first byte is not enough: it is 0
      // for every party on big-endian suites.
      const bad = Uint8Array.from(share.share);
      let sum = 0;
      for (let i = 0; i < party.length; i += 2) sum += Number.parseInt(party.slice(i, i + 2), 16);
      bad[sum % 16]! ^= 1;
      return { identifier: share.identifier, share: bad };
    },
  };
  const takeKeys = (keyPackages: readonly KeyPackage[], publicPackage: PublicKeyPackage) => {
    for (const kp of keyPackages) keys.set(kp.identifier, kp);
    pub = publicPackage;
  };
  return { transport, stores, commitCalls, signCalls, takeKeys };
}

/** A timer that fires as soon as pending in-process work (microtasks) is done. */
export const immediateSleep: Sleep = (_ms, signal) =>
  new Promise<void>((resolve) => {
    const id = setImmediate(resolve);
    signal.addEventListener(
      'abort',
      () => {
        clearImmediate(id);
        resolve();
      },
      { once: true },
    );
  });

/** Verify with an implementation independent of mpc-core: node:crypto for Ed25519, noble BIP-340. */
export function independentVerify(
  suite: AnyCiphersuite,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (suite.id === 'FROST-ED25519-SHA512-v1') {
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, message, key, signature);
  }
  if (suite.id === 'FROST-secp256k1-SHA256-TR-v1')
    return schnorr.verify(signature, message, publicKey.subarray(1));
  return verify(suite, publicKey, message, signature);
}
