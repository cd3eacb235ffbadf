/** Codecs for the key and signing messages. */
import { defineCodec, type ObjectSpec } from './codec.js';
import type { KeyPackage, PublicKeyPackage } from './keys.js';
import type { SigningPackage } from './sign/context.js';
import type { Round1Commitment } from './sign/round1.js';
import type { SignatureShare } from './sign/round2.js';

const MAX_PARTIES = 1024;
const threshold = { object: { min: 'uint', max: 'uint' } } as const;
const commitment: ObjectSpec = { identifier: 'string', hiding: 'bytes', binding: 'bytes' };

export const Round1CommitmentCodec = defineCodec<Round1Commitment>('Round1Commitment', commitment);
export const Round1CommitmentBatchCodec = defineCodec<{ commitments: Round1Commitment[] }>(
  'Round1CommitmentBatch',
  {
    commitments: { array: { object: commitment }, max: 10_000 },
  },
);
export const SigningPackageCodec = defineCodec<SigningPackage>('SigningPackage', {
  commitments: { array: { object: commitment }, max: MAX_PARTIES },
  message: 'bytes',
});
export const SignatureShareCodec = defineCodec<SignatureShare>('SignatureShare', {
  identifier: 'string',
  share: 'bytes',
});
export const PublicKeyPackageCodec = defineCodec<PublicKeyPackage>('PublicKeyPackage', {
  suite: 'string',
  groupPublicKey: 'bytes',
  verifyingShares: { record: 'bytes', max: MAX_PARTIES },
  threshold,
  commitments: { optional: { array: 'bytes', max: MAX_PARTIES } },
});
/** Contains the secret signing share: store it only encrypted. */
export const KeyPackageCodec = defineCodec<KeyPackage>('KeyPackage', {
  suite: 'string',
  identifier: 'string',
  signingShare: 'secret',
  verifyingShare: 'bytes',
  groupPublicKey: 'bytes',
  threshold,
});

/** DKG round 1: broadcast. */
export const DkgRound1PackageCodec = defineCodec<import('./keygen/dkg.js').DkgRound1Package>(
  'DkgRound1Package',
  {
    identifier: 'string',
    commitment: { array: 'bytes', max: MAX_PARTIES },
    proofOfKnowledge: 'bytes',
  },
);
/** DKG round 2: secret, one receiver; only ever sent sealed to the receiver. */
export const DkgRound2PackageCodec = defineCodec<import('./keygen/dkg.js').DkgRound2Package>(
  'DkgRound2Package',
  {
    sender: 'string',
    receiver: 'string',
    signingShare: 'secret',
  },
);
/** A sealed box (see seal.ts) on the wire. */
export const SealedBoxCodec = defineCodec<import('./seal.js').SealedBox>('SealedBox', {
  ephemeralPublicKey: 'bytes',
  nonce: 'bytes',
  ciphertext: 'bytes',
});
