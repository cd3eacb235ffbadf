/** The evidence bundle (DESIGN.md "Evidence bundle"; field by field in docs/evidence.md). */
import type { DsseEnvelope } from '../dsse.js';
import type { EvidenceCiphersuite } from '../keys.js';
import type { JsonObject, Threshold, TranscriptEnvelope } from '../statement.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.aaps.evidence.v1+json';

export interface VerificationMaterial {
  ciphersuite: EvidenceCiphersuite;
  /** Lower-case hex of the group public key. */
  groupPublicKey: string;
  threshold: Threshold;
  /** Ids of the parties whose shares formed the signature (also in the signed predicate). */
  signers: string[];
}

export interface TransparencyLogEntry {
  logIndex: number;
  /** The size of the tree the inclusion proof and checkpoint are for. */
  treeSize: number;
  /** RFC 9162 inclusion path, lower-case hex, leaf side first. */
  inclusionProof: string[];
  /** The C2SP signed checkpoint note for `treeSize`. */
  checkpoint: string;
}

export interface EvidenceBundle {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  verificationMaterial: VerificationMaterial;
  dsseEnvelope: DsseEnvelope;
  /** The incident's signed envelopes, in order; their digest is the Statement's subject digest. */
  transcript: TranscriptEnvelope[];
  /** Present once the bundle is in the log. */
  transparencyLog?: TransparencyLogEntry;
  /** The secret-shared aggregation record, when the decision used one; its digest is signed. */
  aggregation?: JsonObject;
}
