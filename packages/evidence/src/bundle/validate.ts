/**
 * Structural validation of an evidence bundle: media type, field types, encodings and no unknown
 * fields. It gathers every bad field (as a dot path) before it throws one `ValidationError`, and
 * returns the bundle with its binary fields decoded. It checks no signature or proof.
 */
import { ValidationError } from '@aaps/mpc-core/verifier';
import { type DecodedEnvelope, decodeEnvelope } from '../dsse.js';
import { parseHex } from '../encoding.js';
import { type EvidenceCiphersuite, isSupportedCiphersuite, isValidPublicKeyLength } from '../keys.js';
import { HASH_SIZE, MAX_PROOF_HASHES } from '../merkle.js';
import { isObject } from '../statement.js';
import { BUNDLE_MEDIA_TYPE, type EvidenceBundle } from './types.js';

export interface DecodedBundle {
  bundle: EvidenceBundle;
  envelope: DecodedEnvelope;
  ciphersuite: EvidenceCiphersuite;
  groupPublicKey: Uint8Array;
  log?: { logIndex: number; treeSize: number; inclusionProof: Uint8Array[]; checkpoint: string };
}

function unknownKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  out: string[],
): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) out.push(path ? `${path}.${key}` : key);
}

const TOP = [
  'mediaType',
  'verificationMaterial',
  'dsseEnvelope',
  'transcript',
  'transparencyLog',
  'aggregation',
];
const MATERIAL = ['ciphersuite', 'groupPublicKey', 'threshold', 'signers'];
const ENVELOPE = ['payloadType', 'payload', 'signatures'];
const SIGNATURE = ['keyid', 'sig'];
const LOG = ['logIndex', 'treeSize', 'inclusionProof', 'checkpoint'];

/** How many bad fields an error names; `details.problems` counts them all. */
export const MAX_REPORTED_FIELDS = 20;
/** A reported path longer than this (an unknown key is the bundle's to choose) is cut. */
const MAX_PATH_CHARS = 100;

function shortPath(path: string): string {
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

/** One `DECODE_FAILED` naming the first {@link MAX_REPORTED_FIELDS} bad fields and their count. */
function malformed(errors: readonly string[]): ValidationError {
  const named = errors.slice(0, MAX_REPORTED_FIELDS).map(shortPath);
  const more = errors.length - named.length;
  const list = more > 0 ? `${named.join(', ')} and ${more} more` : named.join(', ');
  return new ValidationError(
    'DECODE_FAILED',
    `malformed bundle (${errors.length} bad fields): ${list}`,
    named,
    {
      details: { problems: errors.length },
    },
  );
}

/**
 * Validate and decode a bundle (a parsed JSON object: `JSON.parse` its JSON, `decodeBundleCbor` its
 * CBOR); throws `ValidationError` (`DECODE_FAILED`) naming the first bad fields and counting all.
 */
export function validateBundle(value: unknown): DecodedBundle {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    throw new ValidationError(
      'DECODE_FAILED',
      'bundle is bytes: a bundle is a JSON object; parse the bytes first (JSON.parse, or decodeBundleCbor)',
      ['$'],
    );
  }
  if (!isObject(value)) throw new ValidationError('DECODE_FAILED', 'bundle is not a JSON object', ['$']);
  const errors: string[] = [];
  unknownKeys(value, TOP, '', errors);
  if (value.mediaType !== BUNDLE_MEDIA_TYPE) errors.push('mediaType');

  const vm = value.verificationMaterial;
  let ciphersuite: EvidenceCiphersuite | undefined;
  let groupPublicKey: Uint8Array | undefined;
  if (!isObject(vm)) {
    errors.push('verificationMaterial');
  } else {
    unknownKeys(vm, MATERIAL, 'verificationMaterial', errors);
    if (isSupportedCiphersuite(vm.ciphersuite)) ciphersuite = vm.ciphersuite;
    else errors.push('verificationMaterial.ciphersuite');
    groupPublicKey = parseHex(vm.groupPublicKey);
    if (
      groupPublicKey === undefined ||
      (ciphersuite !== undefined && !isValidPublicKeyLength(ciphersuite, groupPublicKey))
    ) {
      errors.push('verificationMaterial.groupPublicKey');
    }
    const t = vm.threshold;
    if (
      !isObject(t) ||
      !Number.isSafeInteger(t.min) ||
      !Number.isSafeInteger(t.max) ||
      Object.keys(t).length !== 2
    ) {
      errors.push('verificationMaterial.threshold');
    }
    if (!Array.isArray(vm.signers) || !vm.signers.every((s) => typeof s === 'string')) {
      errors.push('verificationMaterial.signers');
    }
  }

  const env = value.dsseEnvelope;
  if (isObject(env)) {
    unknownKeys(env, ENVELOPE, 'dsseEnvelope', errors);
    if (Array.isArray(env.signatures)) {
      env.signatures.forEach((s: unknown, i) => {
        if (isObject(s)) unknownKeys(s, SIGNATURE, `dsseEnvelope.signatures[${i}]`, errors);
      });
    }
  }
  const decoded = decodeEnvelope(env);
  errors.push(...decoded.errors);

  const transcript = value.transcript;
  if (!Array.isArray(transcript) || transcript.length === 0) {
    errors.push('transcript');
  } else {
    transcript.forEach((e: unknown, i) => {
      if (!isObject(e) || !isObject(e.meta)) errors.push(`transcript[${i}]`);
    });
  }

  let log: DecodedBundle['log'];
  const tl = value.transparencyLog;
  if (tl !== undefined) {
    if (!isObject(tl)) {
      errors.push('transparencyLog');
    } else {
      unknownKeys(tl, LOG, 'transparencyLog', errors);
      const { logIndex, treeSize, checkpoint } = tl;
      if (!Number.isSafeInteger(logIndex) || (logIndex as number) < 0)
        errors.push('transparencyLog.logIndex');
      if (!Number.isSafeInteger(treeSize) || (treeSize as number) < 1)
        errors.push('transparencyLog.treeSize');
      // Longer than any proof can be: refused before a hash of it is decoded.
      const proof =
        Array.isArray(tl.inclusionProof) && tl.inclusionProof.length <= MAX_PROOF_HASHES
          ? tl.inclusionProof.map((h) => parseHex(h))
          : undefined;
      if (proof === undefined || !proof.every((h) => h?.length === HASH_SIZE))
        errors.push('transparencyLog.inclusionProof');
      if (typeof checkpoint !== 'string') errors.push('transparencyLog.checkpoint');
      if (errors.length === 0) {
        log = {
          logIndex: logIndex as number,
          treeSize: treeSize as number,
          inclusionProof: proof as Uint8Array[],
          checkpoint: checkpoint as string,
        };
      }
    }
  }
  if (value.aggregation !== undefined && !isObject(value.aggregation)) errors.push('aggregation');

  if (
    errors.length > 0 ||
    decoded.envelope === undefined ||
    ciphersuite === undefined ||
    groupPublicKey === undefined
  ) {
    throw malformed(errors);
  }
  const out: DecodedBundle = {
    bundle: value as unknown as EvidenceBundle,
    envelope: decoded.envelope,
    ciphersuite,
    groupPublicKey,
  };
  if (log !== undefined) out.log = log;
  return out;
}
