/** Codecs for the key and signing messages. */
import { type BodyCheck, defineCodec, type ObjectSpec } from './codec.js';
import { type KeyPackage, MAX_PARTIES, type PublicKeyPackage, type Threshold } from './keys.js';
import type { SigningPackage } from './sign/context.js';
import type { Round1Commitment } from './sign/round1.js';
import type { SignatureShare } from './sign/round2.js';

const threshold = { object: { min: 'uint', max: 'uint' } } as const;
/**
 * A key's threshold as decoding takes it: 1 <= min <= max <= MAX_PARTIES. Each use checks it again
 * (`validateThreshold`, which wants min >= 2); this keeps a package no use would take, or a count
 * of parties no codec could write, from decoding at all.
 */
const checkThreshold: BodyCheck<{ threshold: Threshold }> = ({ threshold: { min, max } }, bad) => {
  if (max > MAX_PARTIES) bad('threshold.max', `at most ${MAX_PARTIES} (MAX_PARTIES), got ${max}`);
  if (min < 1) bad('threshold.min', `at least 1, got ${min}`);
  else if (min > max) bad('threshold.min', `at most threshold.max (${max}), got ${min}`);
};
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
export const PublicKeyPackageCodec = defineCodec<PublicKeyPackage>(
  'PublicKeyPackage',
  {
    suite: 'suite',
    groupPublicKey: 'bytes',
    verifyingShares: { record: 'bytes', max: MAX_PARTIES },
    threshold,
    commitments: { optional: { array: 'bytes', max: MAX_PARTIES } },
  },
  (pkg, bad) => {
    let thresholdOk = true;
    checkThreshold(pkg, (path, what) => {
      thresholdOk = false;
      bad(path, what);
    });
    if (!thresholdOk) return;
    // One verifying share per party, and a degree min-1 polynomial has min coefficients.
    const shares = Object.keys(pkg.verifyingShares).length;
    if (shares !== pkg.threshold.max)
      bad('verifyingShares', `one per party: threshold.max (${pkg.threshold.max}), got ${shares}`);
    if (Array.isArray(pkg.commitments) && pkg.commitments.length !== pkg.threshold.min)
      bad(
        'commitments',
        `threshold.min (${pkg.threshold.min}) coefficient commitments, got ${pkg.commitments.length}`,
      );
  },
);
/** Contains the secret signing share: store it only encrypted. */
export const KeyPackageCodec = defineCodec<KeyPackage>(
  'KeyPackage',
  {
    suite: 'suite',
    identifier: 'string',
    signingShare: 'secret',
    verifyingShare: 'bytes',
    groupPublicKey: 'bytes',
    threshold,
  },
  checkThreshold,
);

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

/** Distributed refresh round 1: broadcast. */
export const RefreshRound1PackageCodec = defineCodec<import('./keygen/refresh.js').RefreshRound1Package>(
  'RefreshRound1Package',
  { identifier: 'string', commitment: { array: 'bytes', max: MAX_PARTIES } },
);
/** Distributed refresh round 2: secret, one receiver; only ever sent sealed. */
export const RefreshRound2PackageCodec = defineCodec<import('./keygen/refresh.js').RefreshRound2Package>(
  'RefreshRound2Package',
  { sender: 'string', receiver: 'string', zeroShare: 'secret' },
);
/** A dealer-made refresh share for one party; secret, only ever sent sealed. */
export const RefreshShareCodec = defineCodec<import('./keygen/refresh.js').RefreshShare>('RefreshShare', {
  suite: 'suite',
  identifier: 'string',
  zeroShare: 'secret',
  commitment: { array: 'bytes', max: MAX_PARTIES },
  identifiers: { array: 'string', max: MAX_PARTIES },
});
/** Repair step 1 output: secret, helper to helper; only ever sent sealed. */
export const RepairDeltaCodec = defineCodec<import('./keygen/repair.js').RepairDelta>('RepairDelta', {
  sender: 'string',
  receiver: 'string',
  lost: 'string',
  helpers: { array: 'string', max: MAX_PARTIES },
  delta: 'secret',
});
/** Repair step 2 output: secret, helper to the party being repaired; only ever sent sealed. */
export const RepairSigmaCodec = defineCodec<import('./keygen/repair.js').RepairSigma>('RepairSigma', {
  sender: 'string',
  lost: 'string',
  helpers: { array: 'string', max: MAX_PARTIES },
  sigma: 'secret',
});
