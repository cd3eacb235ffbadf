/**
 * DSSE (Dead Simple Signing Envelope) v1: the pre-authentication encoding that is signed, and the
 * JSON envelope that carries payload and signatures.
 *
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where LEN is the ASCII
 * decimal byte length with no leading zeros and `type` is taken as UTF-8.
 */
import { concat, parseBase64, toBase64, utf8Encode } from './encoding.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  /** Lower-case hex SHA-256 of the group public key. */
  keyid: string;
  /** Base64 of the signature bytes. */
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** A signer over bytes; the gateway plugs in the FROST coordinator (k-of-n), tests a local key. */
export type MessageSigner = (message: Uint8Array) => Promise<Uint8Array>;

const SP = new Uint8Array([0x20]);

/** The DSSE v1 pre-authentication encoding of `payloadType` and `payload`. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8Encode(payloadType);
  return concat(
    utf8Encode(`DSSEv1 ${type.length} `),
    type,
    SP,
    utf8Encode(String(payload.length)),
    SP,
    payload,
  );
}

/** Sign `payload` with one signature over its PAE and wrap it in an envelope. */
export async function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  keyid: string,
  sign: MessageSigner,
): Promise<DsseEnvelope> {
  const sig = await sign(pae(payloadType, payload));
  return { payloadType, payload: toBase64(payload), signatures: [{ keyid, sig: toBase64(sig) }] };
}

/** A DSSE envelope with its base64 fields decoded. */
export interface DecodedEnvelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: Array<{ keyid: string; sig: Uint8Array }>;
}

/**
 * Decode an envelope's base64 fields; returns every malformed field as a dot path (relative to the
 * envelope) in `errors` rather than throwing, so a validator can gather them all.
 */
export function decodeEnvelope(
  value: unknown,
  path = 'dsseEnvelope',
): { envelope?: DecodedEnvelope; errors: string[] } {
  const errors: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { errors: [path] };
  const env = value as Record<string, unknown>;
  if (typeof env.payloadType !== 'string' || env.payloadType.length === 0) errors.push(`${path}.payloadType`);
  const payload = parseBase64(env.payload);
  if (payload === undefined || payload.length === 0) errors.push(`${path}.payload`);
  const signatures: Array<{ keyid: string; sig: Uint8Array }> = [];
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) {
    errors.push(`${path}.signatures`);
  } else {
    env.signatures.forEach((s: unknown, i) => {
      const p = `${path}.signatures[${i}]`;
      if (typeof s !== 'object' || s === null) {
        errors.push(p);
        return;
      }
      const { keyid, sig } = s as Record<string, unknown>;
      const sigBytes = parseBase64(sig);
      if (typeof keyid !== 'string') errors.push(`${p}.keyid`);
      if (sigBytes === undefined || sigBytes.length === 0) errors.push(`${p}.sig`);
      if (typeof keyid === 'string' && sigBytes !== undefined) signatures.push({ keyid, sig: sigBytes });
    });
  }
  if (errors.length > 0 || payload === undefined) return { errors };
  return { envelope: { payloadType: env.payloadType as string, payload, signatures }, errors };
}
