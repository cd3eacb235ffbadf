/**
 * Transcript envelope signatures: `meta.signature` is `ed25519:<base64>`, the sender's identity
 * key over the RFC 8785 canonical JSON of the envelope with `meta.signature` removed
 * (DESIGN.md "Message envelope"). The canonical bytes come from `@aaps/mpc-core`; the Ed25519 check
 * runs in `node:crypto`.
 */
import {
  canonicalize,
  canonicalizeEnvelope,
  envelopeSigningBytes as coreSigningBytes,
  type Envelope,
} from '@aaps/mpc-core/verifier';
import { parseBase64, parseHex, sha256Hex } from './encoding.js';
import { fail } from './errors.js';
import { verifyEd25519 } from './keys.js';
import type { VerifierRoster } from './statement.js';

const SIGNATURE_PREFIX = 'ed25519:';
export const DEFAULT_GATEWAY_ID = 'gateway';

/** The bytes an envelope's `meta.signature` signs. */
export function envelopeSignedBytes(envelope: { meta: object }): Uint8Array {
  return coreSigningBytes(envelope as unknown as Envelope);
}

/** Parse `ed25519:<base64>` into the 64 signature bytes, or `undefined`. */
export function parseEnvelopeSignature(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !value.startsWith(SIGNATURE_PREFIX)) return undefined;
  const sig = parseBase64(value.slice(SIGNATURE_PREFIX.length));
  return sig?.length === 64 ? sig : undefined;
}

/** Whose key an envelope is checked against: a roster member's, or the gateway's (as itself or for an outsider). */
export type SignerKind = 'party' | 'approver' | 'gateway' | 'outside';

export interface SignerKey {
  /** The roster id whose key it is (the gateway's id for the gateway and outsiders). */
  id: string;
  key: Uint8Array;
  kind: SignerKind;
}

/**
 * The identity key that must have signed an envelope from `sourceAgent`: a party's or approver's
 * own key; the gateway's key for the gateway itself and for senders outside the roster (messages
 * the gateway received unsigned and re-signed on intake).
 */
export function signerKeyFor(roster: VerifierRoster, sourceAgent: string): SignerKey {
  const party = roster.parties.find((p) => p.id === sourceAgent);
  const approver = party === undefined ? roster.approvers.find((a) => a.id === sourceAgent) : undefined;
  const member = party ?? approver;
  const gatewayId = roster.gateway_id ?? DEFAULT_GATEWAY_ID;
  const key = parseHex(member?.identity_key ?? roster.gateway_key);
  if (key?.length !== 32)
    fail('transcript.signature', 'roster key is not 32-byte hex', { source_agent: sourceAgent });
  const kind: SignerKind =
    party !== undefined
      ? 'party'
      : approver !== undefined
        ? 'approver'
        : sourceAgent === gatewayId
          ? 'gateway'
          : 'outside';
  return { id: member?.id ?? gatewayId, key, kind };
}

/**
 * What each kind of signer may say in a transcript. The gateway's key signs what the gateway
 * writes (intake signals it received or re-signed, execution orders and results, evidence
 * records) and nothing else, so it cannot pass off a role's output (an RCA, a fix, strategy's
 * decision, a verification report) or a person's decision under a name the roster does not list;
 * an approver's key signs decisions only. A party's key is held here to nothing more: which of
 * the workflow messages a party may sign (its role's outputs) is transcript-authority.ts's rule.
 */
const GATEWAY_MAY_SIGN: ReadonlySet<string> = new Set([
  'IncidentSignal',
  'ExecutionOrder',
  'ExecutionResult',
  'EvidenceBundleRef',
]);
const MAY_SIGN: Readonly<Record<Exclude<SignerKind, 'party'>, ReadonlySet<string>>> = {
  approver: new Set(['ApprovalDecision']),
  gateway: GATEWAY_MAY_SIGN,
  outside: GATEWAY_MAY_SIGN,
};

/** Whether a signer of `kind` may sign a `messageType` envelope into a transcript. */
export function maySign(kind: SignerKind, messageType: unknown): boolean {
  return kind === 'party' || (typeof messageType === 'string' && MAY_SIGN[kind].has(messageType));
}

/** Why an envelope's signature failed, naming the key it was checked against and why that key. */
function signatureFailure(index: number, source: string, signer: SignerKey): string {
  switch (signer.kind) {
    case 'party':
    case 'approver':
      return `envelope ${index} from ${source} is not signed by the roster ${signer.kind} key of ${source}`;
    case 'gateway':
      return `envelope ${index} from the gateway (${source}) is not signed by the roster gateway key`;
    case 'outside':
      return `envelope ${index} from ${source}: ${source} is not in the trusted roster, so it was checked against the gateway key (${signer.id}, which re-signs outside senders) and does not verify`;
  }
}

/** A transcript serialized once: its digest and, per envelope, the text its signature covers. */
export interface CanonicalTranscript {
  /** Hex SHA-256 of the RFC 8785 canonical JSON of the whole transcript (the Statement's subject). */
  digestHex: string;
  /** Per envelope, the canonical JSON its `meta.signature` covers; undefined if it has no meta. */
  signed: readonly (string | undefined)[];
}

/**
 * Serialize a transcript once for both its digest and its envelopes' signature checks. Accepts and
 * refuses exactly what `canonicalize(transcript)` does (each envelope at depth 1 of the array;
 * a hole is refused), with the same error naming the envelope's index.
 */
export function canonicalTranscript(transcript: readonly unknown[]): CanonicalTranscript {
  let forms: ReturnType<typeof canonicalizeEnvelope>[];
  try {
    forms = Array.from(transcript, (envelope) => canonicalizeEnvelope(envelope, 1));
  } catch (e) {
    canonicalize(transcript); // throws the transcript's own error, with the envelope's index
    throw e;
  }
  return {
    digestHex: sha256Hex(`[${forms.map((f) => f.full).join(',')}]`),
    signed: forms.map((f) => f.signed),
  };
}

/**
 * Check every envelope's identity signature; throws `transcript.signature` naming the first bad one.
 * `canonical` is {@link canonicalTranscript} of this transcript (pass it when already made).
 */
export function verifyTranscript(
  transcript: readonly unknown[],
  roster: VerifierRoster,
  canonical: CanonicalTranscript = canonicalTranscript(transcript),
): void {
  transcript.forEach((envelope, index) => {
    const meta = (envelope as { meta?: { source_agent?: unknown; signature?: unknown } }).meta;
    const source = meta?.source_agent;
    if (typeof source !== 'string')
      fail('transcript.signature', 'envelope has no meta.source_agent', { index });
    const sig = parseEnvelopeSignature(meta?.signature);
    if (sig === undefined) fail('transcript.signature', 'meta.signature is not ed25519:<base64>', { index });
    const signer = signerKeyFor(roster, source);
    const signed = canonical.signed[index];
    if (signed === undefined) fail('transcript.signature', 'meta is not an object', { index });
    const bytes = Buffer.from(signed, 'utf8');
    if (!verifyEd25519(signer.key, bytes, sig)) {
      fail('transcript.signature', signatureFailure(index, source, signer), {
        index,
        source_agent: source,
        signer: signer.id,
        in_roster: signer.kind === 'party' || signer.kind === 'approver',
      });
    }
    // A good signature, by a key that may not say this: a role's output or a person's decision
    // under the gateway's key, or anything but a decision under an approver's.
    const type = (meta as { message_type?: unknown }).message_type;
    if (!maySign(signer.kind, type)) {
      const by =
        signer.kind === 'approver'
          ? `it is signed by approver ${source}, whose key signs ApprovalDecision only`
          : `it is signed by the gateway key (${signer.id}), which signs IncidentSignal, ExecutionOrder, ExecutionResult and EvidenceBundleRef only: a roster party's or approver's message must carry its own key`;
      fail('transcript.signature', `envelope ${index} from ${source} is a ${String(type)}, and ${by}`, {
        index,
        source_agent: source,
        message_type: type,
        signer: signer.id,
      });
    }
  });
}
