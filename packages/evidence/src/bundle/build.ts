/**
 * Building an evidence bundle: the Statement over the transcript, its DSSE envelope signed by an
 * injected signer (the gateway plugs in the FROST coordinator, so the one signature is the parties'
 * k-of-n group signature), and later the log entry.
 */
import { inCanonicalOrder, ValidationError } from '@aaps/mpc-core/verifier';
import { IN_TOTO_PAYLOAD_TYPE, pae, signEnvelope } from '../dsse.js';
import { sha256Hex, toHex } from '../encoding.js';
import { fail } from '../errors.js';
import {
  type EvidenceCiphersuite,
  isSupportedCiphersuite,
  isValidPublicKeyLength,
  keyIdOf,
  verifyGroupSignature,
} from '../keys.js';
import { logLeaf } from '../log-leaf.js';
import {
  aggregationDigest,
  buildStatement,
  type IncidentPredicate,
  type JsonObject,
  rosterErrors,
  type Statement,
  statementBytes,
  type Threshold,
  type TranscriptEnvelope,
  type VerifierRoster,
} from '../statement.js';
import { BUNDLE_MEDIA_TYPE, type EvidenceBundle, type TransparencyLogEntry } from './types.js';

export interface BuildBundleInput {
  incident: { id: string; type: string } & JsonObject;
  decision: JsonObject;
  action: JsonObject | null;
  humanApprovals: JsonObject[];
  verification: JsonObject | null;
  /** RFC 3339 times of the incident's steps. */
  times: { [step: string]: string };
  /** The incident's signed envelopes, in order. */
  transcript: TranscriptEnvelope[];
  ciphersuite: EvidenceCiphersuite;
  groupPublicKey: Uint8Array;
  threshold: Threshold;
  /** The quorum that signs; if the signing session must retry with another quorum, build again. */
  signers: string[];
  roster: VerifierRoster;
  aggregation?: JsonObject;
}

function checkInput(input: BuildBundleInput): void {
  const fields: string[] = [];
  if (!isSupportedCiphersuite(input.ciphersuite)) fields.push('ciphersuite');
  else if (
    !(input.groupPublicKey instanceof Uint8Array) ||
    !isValidPublicKeyLength(input.ciphersuite, input.groupPublicKey)
  ) {
    fields.push('groupPublicKey');
  }
  const { min, max } = input.threshold ?? {};
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 || min > max)
    fields.push('threshold');
  if (!Array.isArray(input.signers) || new Set(input.signers).size !== input.signers.length)
    fields.push('signers');
  else if (input.signers.length < min || input.signers.length > max) fields.push('signers');
  else if (Array.isArray(input.roster?.parties)) {
    const ids = new Set(input.roster.parties.map((p) => p.id));
    if (input.signers.some((s) => !ids.has(s)) || input.roster.parties.length !== max) fields.push('signers');
  }
  if (!Array.isArray(input.transcript) || input.transcript.length === 0) fields.push('transcript');
  if (typeof input.incident?.id !== 'string' || input.incident.id.length === 0) fields.push('incident.id');
  fields.push(...rosterErrors(input.roster, 'roster'));
  if (fields.length > 0) {
    throw new ValidationError('INVALID_ARGUMENT', `invalid bundle input: ${fields.join(', ')}`, fields);
  }
}

/** The Statement a bundle for `input` signs. */
export function buildBundleStatement(input: BuildBundleInput): Statement {
  const predicate: IncidentPredicate = {
    incident: input.incident,
    decision: input.decision,
    action: input.action,
    ciphersuite: input.ciphersuite,
    groupPublicKey: toHex(input.groupPublicKey),
    threshold: { min: input.threshold.min, max: input.threshold.max },
    signers: [...input.signers],
    humanApprovals: input.humanApprovals,
    verification: input.verification,
    times: input.times,
    roster: input.roster,
    aggregation:
      input.aggregation === undefined ? null : { sha256: toHex(aggregationDigest(input.aggregation)) },
  };
  return buildStatement(predicate, input.transcript);
}

/**
 * Signs a bundle: given the DSSE PAE bytes to sign and the Statement they carry (a threshold
 * coordinator hands the Statement to the parties, which derive the message themselves). Any
 * `MessageSigner` (`dsse.ts`) is one.
 */
export type BundleSigner = (message: Uint8Array, statement: Statement) => Promise<Uint8Array>;

/**
 * Build and sign a bundle (not yet in the log). The signature is checked under the group key
 * before the bundle is returned, so a bad aggregate never leaves here (`dsse.signature`).
 */
export async function buildBundle(input: BuildBundleInput, sign: BundleSigner): Promise<EvidenceBundle> {
  checkInput(input);
  // In canonical member order first: the bundle carries these copies, and the Statement's digests
  // over them are then serialized as JSON.stringify writes them (canonicalize's fast path).
  const transcript = input.transcript.map(inCanonicalOrder);
  const aggregation = input.aggregation === undefined ? undefined : inCanonicalOrder(input.aggregation);
  const ordered =
    aggregation === undefined ? { ...input, transcript } : { ...input, transcript, aggregation };
  const statement = buildBundleStatement(ordered);
  const payload = statementBytes(statement);
  const dsseEnvelope = await signEnvelope(
    IN_TOTO_PAYLOAD_TYPE,
    payload,
    keyIdOf(input.groupPublicKey),
    (message) => sign(message, statement),
  );
  const sig = Buffer.from(dsseEnvelope.signatures[0]!.sig, 'base64');
  if (
    !verifyGroupSignature(input.ciphersuite, input.groupPublicKey, pae(IN_TOTO_PAYLOAD_TYPE, payload), sig)
  ) {
    fail('dsse.signature', 'the signer returned a signature that does not verify under the group key');
  }
  const bundle: EvidenceBundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      ciphersuite: input.ciphersuite,
      groupPublicKey: toHex(input.groupPublicKey),
      threshold: { min: input.threshold.min, max: input.threshold.max },
      signers: [...input.signers],
    },
    dsseEnvelope,
    transcript,
  };
  if (aggregation !== undefined) bundle.aggregation = aggregation;
  return bundle;
}

/** The bytes to append to the transparency log for this bundle. */
export function bundleLogLeaf(bundle: EvidenceBundle): Uint8Array {
  return logLeaf(bundle.dsseEnvelope);
}

/**
 * The evidence id of the bundle whose log leaf is `leaf`: the hex SHA-256 of the leaf bytes. The
 * gateway names bundles by it (`GET /v1/evidence/{evidence_id}`), and a log entry names its bundle.
 */
export function evidenceIdOfLeaf(leaf: Uint8Array): string {
  return sha256Hex(leaf);
}

/** A log position for a bundle, as the log returns it. */
export interface LogPosition {
  logIndex: number;
  treeSize: number;
  inclusionProof: Uint8Array[];
  /** The signed checkpoint note for `treeSize`. */
  checkpoint: string;
}

/** A copy of `bundle` with its transparency-log entry set (replacing any earlier one). */
export function attachLogEntry(bundle: EvidenceBundle, position: LogPosition): EvidenceBundle {
  const transparencyLog: TransparencyLogEntry = {
    logIndex: position.logIndex,
    treeSize: position.treeSize,
    inclusionProof: position.inclusionProof.map(toHex),
    checkpoint: position.checkpoint,
  };
  return { ...bundle, transparencyLog };
}
