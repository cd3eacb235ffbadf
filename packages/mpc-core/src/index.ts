/**
 * `@aaps/mpc-core`: FROST (RFC 9591) threshold Schnorr signatures, key generation, secret-shared
 * aggregation and signed envelopes. Pure: randomness (`rng`), time (`now`) and storage
 * (`NonceStore`) come in as arguments; nothing here touches the network, the disk or the environment.
 */
export * from './aggregation/index.js';
export * from './bytes.js';
export {
  type BodyCheck,
  CODEC_VERSION,
  decodeCbor,
  defineCodec,
  displayValue,
  encodeCbor,
  type FieldSpec,
  type MessageCodec,
  type ObjectSpec,
} from './codec.js';
export {
  canonicalBytes,
  canonicalize,
  canonicalizeEnvelope,
  inCanonicalOrder,
  type JsonValue,
} from './envelope/canonical.js';
export {
  envelopeSigningBytes,
  generateIdentityKey,
  type IdentityKey,
  identityPublicKey,
  signBytes,
  signEnvelope,
  verifyEnvelope,
} from './envelope/sign.js';
export * from './envelope/types.js';
export { validateEnvelope } from './envelope/validate.js';
export * from './errors.js';
export { type DealerOptions, type DealerOutput, trustedDealer } from './keygen/dealer.js';
export * from './keygen/index.js';
export {
  deriveIdentifier,
  type Identifier,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  type KeyPackageFromShareArgs,
  keyPackageFromShare,
  MAX_PARTIES,
  type PublicKeyPackage,
  publicPackageFromKeyPackages,
  type Threshold,
  validateThreshold,
} from './keys.js';
export * from './nonce-store.js';
export { type CborScan, decodePlainCbor, scanCbor } from './plain-cbor.js';
export {
  decryptAtRest,
  encryptAtRest,
  open,
  type SealedBox,
  seal,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from './seal.js';
export {
  DETECTOR_KINDS,
  type Detection,
  type DetectionPolicy,
  type DetectorKind,
  detectSensitive,
  detectSensitivePaths,
  MAX_PAYLOAD_DEPTH,
  SEALED_MARKER,
} from './sealing/detect.js';
export {
  formatPointer,
  getAtPointer,
  isPointerPrefix,
  type JsonPointer,
  matchesPointerPattern,
  outermostPointers,
  parsePointer,
  setAtPointer,
} from './sealing/pointer.js';
export {
  authenticateReleases,
  type FieldRelease,
  RELEASE_SIGNATURE_DOMAIN,
  type ReleaseContext,
  releaseSignatureBytes,
  releaseSignedBy,
  signRelease,
  type UnattributedRelease,
} from './sealing/release-signature.js';
export {
  detectAndSeal,
  fieldAad,
  MAX_SEALING_PARTIES,
  SALT_LENGTH,
  SEALED_FIELD_VERSION,
  type SealedField,
  type SealedKeyShare,
  type SealedPayload,
  type SealingParty,
  type SealOptions,
  sealedMarkers,
  sealPayload,
  sealValue,
  shareAad,
  shareCommitment,
  valueCommitment,
} from './sealing/seal-field.js';
export {
  RELEASED_SHARE_VERSION,
  type ReleasedShare,
  ReleasedShareCodec,
  SealedFieldCodec,
} from './sealing/sealed-field-codec.js';
export {
  combineReleased,
  fillSealedValues,
  openFields,
  type RejectedRelease,
  type ReleaseAuthentication,
  type ReleaseOptions,
  releaseAad,
  releaseShare,
  type UnsealedValue,
  type UnsealOutcome,
} from './sealing/unseal.js';
export {
  checkUnsealFields,
  MAX_UNSEAL_FIELDS,
  MAX_UNSEAL_REQUEST_TTL_MS,
  parseUnsealRequest,
  sealedBoxDigest,
  signUnsealRequest,
  UNSEAL_REQUEST_DOMAIN,
  type UnsealReleaseRecord,
  type UnsealRequest,
  type UnsealRequestedRecord,
  unsealReleaseRecord,
  unsealRequestSigningBytes,
  verifyUnsealRequest,
} from './sealing/unseal-request.js';
export { SecretBytes } from './secret.js';
export { aggregate, verify, verifyShare } from './sign/aggregate.js';
export type { SigningPackage } from './sign/context.js';
export { commit, preprocess, type Round1Commitment, type SigningNonces } from './sign/round1.js';
export { type SignatureShare, signShare } from './sign/round2.js';
export * from './sign/session.js';
export * from './sign/signer.js';
export { verifyBip340 } from './suite/bip340.js';
export { verifyEd25519 } from './suite/ed25519.js';
export {
  ciphersuites,
  getCiphersuite,
  isCiphersuiteId,
  type LoadedBackends,
  loadFastBackends,
} from './suite/registry.js';
export { randomBytesOf } from './suite/rng.js';
export type { AnyCiphersuite, Ciphersuite, CiphersuiteId, Group, Rng, ScalarField } from './suite/types.js';
export { CIPHERSUITE_IDS } from './suite/types.js';
export {
  DkgRound1PackageCodec,
  DkgRound2PackageCodec,
  KeyPackageCodec,
  PublicKeyPackageCodec,
  RefreshRound1PackageCodec,
  RefreshRound2PackageCodec,
  RefreshShareCodec,
  RepairDeltaCodec,
  RepairSigmaCodec,
  Round1CommitmentBatchCodec,
  Round1CommitmentCodec,
  SealedBoxCodec,
  SignatureShareCodec,
  SigningPackageCodec,
} from './wire.js';
