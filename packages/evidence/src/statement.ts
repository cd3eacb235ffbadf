/**
 * The in-toto Statement v1 an evidence bundle signs, its AAPS incident predicate, the verifier's
 * roster, and the transcript digest that binds the statement to the incident's messages.
 *
 * Transcript digest: SHA-256 over the RFC 8785 (JCS) canonical JSON of the transcript array, every
 * envelope whole, `meta.signature` included, in order. It is the subject's `digest.sha256`.
 */
import { canonicalBytes, canonicalize } from '@aaps/mpc-core/verifier';
import { isHexOf, parseHex, sha256, toHex, utf8Decode } from './encoding.js';
import { fail } from './errors.js';
import { isSupportedCiphersuite } from './keys.js';
import { DEFAULT_GATEWAY_ID } from './transcript.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The predicate type of an AAPS incident's evidence (documented in docs/evidence.md). */
export const INCIDENT_PREDICATE_TYPE = 'https://aaps.dev/evidence/incident/v1';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A signed message envelope as it sits in a transcript (DESIGN.md "Message envelope"). */
export interface TranscriptEnvelope {
  meta: { source_agent: string; signature: string };
  context?: unknown;
  payload?: unknown;
}

export interface RosterMember {
  id: string;
  /** Lower-case hex of the member's raw 32-byte Ed25519 identity key. */
  identity_key: string;
}

/**
 * Who may sign what: the parties (their ids are the FROST signer ids and the `source_agent` of their
 * envelopes), the human approvers, and the gateway, whose key signs its own envelopes and those it
 * re-signs on intake from senders outside the roster.
 */
export interface VerifierRoster {
  parties: RosterMember[];
  approvers: RosterMember[];
  /** Lower-case hex of the gateway's raw Ed25519 identity key. */
  gateway_key: string;
  /** The `source_agent` the gateway signs as; `gateway` when absent. */
  gateway_id?: string;
}

export interface Threshold {
  /** k: signatures needed. */
  min: number;
  /** n: parties holding shares. */
  max: number;
}

/** The predicate of `https://aaps.dev/evidence/incident/v1`. */
export interface IncidentPredicate {
  incident: { id: string; type: string } & JsonObject;
  decision: JsonObject;
  action: JsonObject | null;
  ciphersuite: string;
  /** Lower-case hex of the group public key the statement is signed under. */
  groupPublicKey: string;
  threshold: Threshold;
  /** Ids of the parties whose signature shares formed the group signature. */
  signers: string[];
  humanApprovals: JsonObject[];
  verification: JsonObject | null;
  /**
   * RFC 3339 times of the incident's steps, keyed by workflow event (the gateway writes the first
   * time of each: `received`, `triaged`, `proposed`, `approval_requested`, `approved`,
   * `execution_started`, `executed`, `verification_passed`, ...).
   */
  times: { [step: string]: string };
  /** The roster the transcript's signatures are checked against (signed with everything else). */
  roster: VerifierRoster;
  /** SHA-256 (hex) of the canonical JSON of the bundle's aggregation record, or null if none. */
  aggregation: { sha256: string } | null;
}

export interface Subject {
  name: string;
  digest: { sha256: string };
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: Subject[];
  predicateType: typeof INCIDENT_PREDICATE_TYPE;
  predicate: IncidentPredicate;
}

/** SHA-256 over the RFC 8785 canonical JSON of the transcript array. */
export function transcriptDigest(transcript: readonly unknown[]): Uint8Array {
  return sha256(canonicalBytes(transcript));
}

/** SHA-256 over the RFC 8785 canonical JSON of an aggregation record. */
export function aggregationDigest(record: unknown): Uint8Array {
  return sha256(canonicalBytes(record));
}

export function subjectName(incidentId: string): string {
  return `incident/${incidentId}`;
}

export function buildStatement(predicate: IncidentPredicate, transcript: readonly unknown[]): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: [
      { name: subjectName(predicate.incident.id), digest: { sha256: toHex(transcriptDigest(transcript)) } },
    ],
    predicateType: INCIDENT_PREDICATE_TYPE,
    predicate,
  };
}

/** The payload bytes of a statement: its RFC 8785 canonical JSON. */
export function statementBytes(statement: Statement): Uint8Array {
  return canonicalBytes(statement);
}

/** A plain JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

/**
 * Why `signers` is not a list of k to n distinct parties of `roster` (the rule for a bundle's
 * signers and for an approval's), or `undefined` when it is.
 */
export function signerListProblem(
  signers: unknown,
  roster: VerifierRoster,
  threshold: Threshold,
): { message: string; unknown?: string[] } | undefined {
  if (!Array.isArray(signers) || !signers.every((s) => typeof s === 'string'))
    return { message: 'the signers are not a list of ids' };
  if (new Set(signers).size !== signers.length) return { message: 'a signer is listed twice' };
  const ids = new Set(roster.parties.map((p) => p.id));
  const unknown = signers.filter((s) => !ids.has(s));
  if (unknown.length > 0) return { message: 'signers outside the roster', unknown };
  if (signers.length < threshold.min || signers.length > threshold.max)
    return { message: `${signers.length} signers for a ${threshold.min}-of-${threshold.max} key` };
  return undefined;
}

/** Whether some identity key of `roster` (a member's or the gateway's) is `groupKeyHex`. */
export function rosterHoldsKey(roster: VerifierRoster, groupKeyHex: string): boolean {
  const key = groupKeyHex.toLowerCase();
  const holds = (m: RosterMember) => m.identity_key.toLowerCase() === key;
  return (
    roster.gateway_key.toLowerCase() === key || roster.parties.some(holds) || roster.approvers.some(holds)
  );
}

/** Every malformed roster field as a dot path under `path`. */
export function rosterErrors(value: unknown, path: string): string[] {
  if (!isObject(value)) return [path];
  const errors: string[] = [];
  // One id and one key per member, across parties, approvers and the gateway: a party named as
  // the gateway, or two members (or a member and the gateway) sharing a key, would let one holder
  // speak as two.
  const gatewayId = typeof value.gateway_id === 'string' ? value.gateway_id : DEFAULT_GATEWAY_ID;
  const ids = new Set<string>([gatewayId]);
  const keys = new Set<string>(
    typeof value.gateway_key === 'string' ? [value.gateway_key.toLowerCase()] : [],
  );
  const members = (key: 'parties' | 'approvers') => {
    const list = value[key];
    if (!Array.isArray(list)) {
      errors.push(`${path}.${key}`);
      return;
    }
    list.forEach((m: unknown, i) => {
      if (!isObject(m) || typeof m.id !== 'string' || m.id.length === 0 || ids.has(m.id)) {
        errors.push(`${path}.${key}[${i}].id`);
      } else {
        ids.add(m.id);
      }
      const identity = isObject(m) && isHexOf(m.identity_key, 32) ? String(m.identity_key).toLowerCase() : '';
      if (identity === '' || keys.has(identity)) errors.push(`${path}.${key}[${i}].identity_key`);
      else keys.add(identity);
    });
  };
  members('parties');
  members('approvers');
  if (!isHexOf(value.gateway_key, 32)) errors.push(`${path}.gateway_key`);
  if (
    value.gateway_id !== undefined &&
    (typeof value.gateway_id !== 'string' || value.gateway_id.length === 0)
  ) {
    errors.push(`${path}.gateway_id`);
  }
  return errors;
}

/** The RFC 8785 text of a parsed JSON value, or `undefined` if it has none (e.g. nested too deep). */
function canonicalOrUndefined(value: unknown): string | undefined {
  try {
    return canonicalize(value);
  } catch {
    return undefined;
  }
}

/**
 * Parse and check a DSSE payload as an AAPS incident Statement. Throws a `VerificationError` with
 * check `statement.format` naming every malformed field in `details.fields`.
 *
 * The payload must be exactly the RFC 8785 canonical JSON of what it parses to: no duplicate keys
 * (which parsers resolve differently: `JSON.parse` keeps the last, others the first), no unsorted
 * keys, whitespace, escapes or number spellings JCS would not write. So every reader of the signed
 * bytes sees one Statement, the one its signers checked (parties run this same parse before they
 * sign). One serialization per Statement: parsed canonical JSON takes `canonicalize`'s fast path
 * (an order check and `JSON.stringify`).
 */
export function parseStatement(payload: Uint8Array): Statement {
  const text = utf8Decode(payload);
  let value: unknown;
  try {
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isObject(value)) fail('statement.format', 'payload is not a JSON object', { fields: ['payload'] });
  const errors: string[] = [];
  if (value._type !== STATEMENT_TYPE) errors.push('_type');
  if (value.predicateType !== INCIDENT_PREDICATE_TYPE) errors.push('predicateType');
  const subject = value.subject;
  if (
    !Array.isArray(subject) ||
    subject.length !== 1 ||
    !isObject(subject[0]) ||
    typeof subject[0].name !== 'string' ||
    !isObject(subject[0].digest) ||
    !isHexOf(subject[0].digest.sha256, 32)
  ) {
    errors.push('subject');
  }
  const p = value.predicate;
  if (!isObject(p)) {
    errors.push('predicate');
  } else {
    if (!isObject(p.incident) || typeof p.incident.id !== 'string' || typeof p.incident.type !== 'string') {
      errors.push('predicate.incident');
    }
    if (!isObject(p.decision)) errors.push('predicate.decision');
    if (p.action !== null && !isObject(p.action)) errors.push('predicate.action');
    if (!isSupportedCiphersuite(p.ciphersuite)) errors.push('predicate.ciphersuite');
    if (parseHex(p.groupPublicKey) === undefined) errors.push('predicate.groupPublicKey');
    if (!isObject(p.threshold) || !isCount(p.threshold.min) || !isCount(p.threshold.max)) {
      errors.push('predicate.threshold');
    }
    if (!Array.isArray(p.signers) || !p.signers.every((s) => typeof s === 'string'))
      errors.push('predicate.signers');
    if (!Array.isArray(p.humanApprovals) || !p.humanApprovals.every(isObject))
      errors.push('predicate.humanApprovals');
    if (p.verification !== null && !isObject(p.verification)) errors.push('predicate.verification');
    if (!isObject(p.times) || !Object.values(p.times).every((t) => typeof t === 'string')) {
      errors.push('predicate.times');
    }
    errors.push(...rosterErrors(p.roster, 'predicate.roster'));
    if (p.aggregation !== null && (!isObject(p.aggregation) || !isHexOf(p.aggregation.sha256, 32))) {
      errors.push('predicate.aggregation');
    }
  }
  if (errors.length > 0)
    fail('statement.format', `malformed statement: ${errors.join(', ')}`, { fields: errors });
  if (canonicalOrUndefined(value) !== text) {
    fail(
      'statement.format',
      'payload is not RFC 8785 canonical JSON (duplicate or unsorted keys, or another non-canonical form)',
      { fields: ['payload'] },
    );
  }
  return value as unknown as Statement;
}
