/**
 * `@aaps/evidence`: threshold-signed evidence bundles (DSSE over in-toto), the RFC 9162
 * transparency log with C2SP checkpoints, Sigstore export, and offline verification.
 * Verification takes bytes and keys, never files or network.
 */

export {
  type AggregationRef,
  type CitedAggregation,
  citedAggregation,
  POOLED_RISK_CIRCUIT_EARLIER_SHA256,
  POOLED_RISK_CIRCUIT_ID,
  POOLED_RISK_CIRCUIT_SHA256,
  pooledRiskValue,
} from './aggregation-binding.js';
export {
  APPROVAL_DOMAIN,
  approvalSigningBytes,
  EXECUTION_MESSAGES,
  EXECUTION_STEPS,
  PROPOSAL_DIGEST_DOMAIN,
  proposalDigestOf,
} from './approval.js';
export { withAggregationRecheck } from './bundle/aggregation-recheck.js';
export {
  attachLogEntry,
  type BuildBundleInput,
  type BundleSigner,
  buildBundle,
  buildBundleStatement,
  bundleLogLeaf,
  evidenceIdOfLeaf,
  type LogPosition,
} from './bundle/build.js';
export { decodeBundleCbor, encodeBundleCbor } from './bundle/codec.js';
export {
  BUNDLE_MEDIA_TYPE,
  type EvidenceBundle,
  type TransparencyLogEntry,
  type VerificationMaterial,
} from './bundle/types.js';
export { type DecodedBundle, validateBundle } from './bundle/validate.js';
export {
  type BundleReport,
  type BundleVerifier,
  type BundleVerifierOptions,
  type CheckResult,
  type CheckStatus,
  type ConsistencyProof,
  createBundleVerifier,
  type PriorCheckpoint,
  parseConsistencyProof,
  type VerifiedBundle,
  type VerifierObserver,
  verifyBundle,
} from './bundle/verify.js';
export {
  assertNoFork,
  BIP340_NOTE_TYPE_ID,
  type Checkpoint,
  formatCheckpoint,
  type NoteKey,
  type NoteSignature,
  type NoteSignatureType,
  noteKeyId,
  noteVerifierKey,
  openCheckpoint,
  parseCheckpoint,
  parseSignedNote,
  type SignedCheckpoint,
  signCheckpoint,
  signNote,
  verifyNote,
} from './checkpoint.js';
export { type CliOutput, guardedOutput, processCliOutput } from './cli/guarded-output.js';
export {
  type DecodedEnvelope,
  type DsseEnvelope,
  type DsseSignature,
  decodeEnvelope,
  IN_TOTO_PAYLOAD_TYPE,
  type MessageSigner,
  pae,
  signEnvelope,
} from './dsse.js';
export { EVIDENCE_CHECKS, type EvidenceCheck } from './errors.js';
export {
  type DuplicateKey,
  type JsonReading,
  parseJsonRefusingRepeats,
  printableKeyPath,
  printableText,
  type RepeatedKey,
} from './json-keys.js';
export {
  ED25519_SUITE,
  type EvidenceCiphersuite,
  ed25519Pem,
  ed25519Spki,
  isSupportedCiphersuite,
  keyIdOf,
  SECP256K1_TR_SUITE,
  SUPPORTED_CIPHERSUITES,
  verifyGroupSignature,
} from './keys.js';
export {
  type LogOptions,
  type LogStore,
  type LogStoreOp,
  type StoredCheckpoint,
  TransparencyLog,
} from './log.js';
export { LOG_ENTRY_API_VERSION, LOG_ENTRY_KIND, logLeaf, logLeafHash } from './log-leaf.js';
export {
  consistencyPlan,
  EMPTY_ROOT,
  HASH_SIZE,
  hashChildren,
  hashLeaf,
  inclusionPlan,
  type LeafRange,
  MemoryMerkleTree,
  MerkleFrontier,
  type NodeId,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export {
  type RosterFileProblem,
  type RosterFileReading,
  type RosterPrincipals,
  readRosterFile,
  verifierRoster,
} from './roster-file.js';
export {
  checkEvidenceForSigning,
  EVIDENCE_SIGNING_RULES,
  type EvidenceSigningCheck,
  type EvidenceSigningInput,
  type EvidenceSigningRule,
  evidenceSigningMessage,
} from './signing-check.js';
export {
  type AapsTrustExtension,
  buildTrustedRoot,
  parseTrustedRoot,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type SigstoreBundle,
  type SigstorePublicKey,
  TRUSTED_ROOT_MEDIA_TYPE,
  type TrustedKeys,
  type TrustedRoot,
  type TrustedRootInput,
  toSigstoreBundle,
  trustedRootOptions,
} from './sigstore-export.js';
export {
  aggregationDigest,
  buildStatement,
  INCIDENT_PREDICATE_TYPE,
  type IncidentPredicate,
  type JsonObject,
  type JsonValue,
  parseStatement,
  type RosterMember,
  STATEMENT_TYPE,
  type Statement,
  type Subject,
  statementBytes,
  type Threshold,
  type TranscriptEnvelope,
  transcriptDigest,
  type VerifierRoster,
} from './statement.js';
export {
  type CanonicalTranscript,
  canonicalTranscript,
  envelopeSignedBytes,
  verifyTranscript,
} from './transcript.js';
export {
  checkTranscriptAuthority,
  checkTranscriptOutcome,
  knownPartyRoles,
  PARTY_ROLE_MESSAGE_TYPES,
  type PartyRoles,
  TRANSCRIPT_MESSAGE_TYPES,
} from './transcript-authority.js';
export { checkTranscriptEnding } from './transcript-ending.js';
