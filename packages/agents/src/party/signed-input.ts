/**
 * Department-signed aggregation inputs (docs/aggregation.md, "Department-signed inputs"): the
 * statement a department signs over its own figures, and the party's check of it.
 *
 * The box a party opens at `agg.deal` (sealed to its X25519 key, `sealToParty`) holds either the
 * plain `{"values": {...}}` anyone with the roster can seal, or a signed input:
 *
 *     {"statement": {type, session, party, roster, circuit, signer, values}, "sig": base64}
 *
 * `sig` is Ed25519 by the signer's key over `"AAPS-AGG-INPUT-v1\0" || canonical JSON (RFC 8785) of
 * statement`: signed, then sealed, so the coordinator relaying the box sees neither the values nor
 * the signature. `roster` and `circuit` are digests (hex), `values` the same map as the plain box
 * (input name to a decimal string, or a vector input's decimal strings). A party whose policy lists
 * `aggregation.input_signers` deals only a box whose statement names this session, this party,
 * its roster and the circuit it was asked to run, signed by one of those keys; without the list a
 * box is not authenticated (either form is dealt; a signed one must still name this round).
 *
 * Pure: no I/O; the party route opens the box and passes its JSON here.
 */
import {
  base64Decode,
  base64Encode,
  canonicalBytes,
  concatBytes,
  hexToBytes,
  type SecretBytes,
  signBytes,
  utf8,
  ValidationError,
  VerificationError,
  verifyEd25519,
} from '@aaps/mpc-core';
import type { InputSigner } from '../policy/schema.js';

/** The statement's type tag (its version). */
export const SIGNED_INPUT_TYPE = 'aaps-agg-signed-input/v1';
const INPUT_DST = utf8('AAPS-AGG-INPUT-v1\0');

/** An input's value as a box carries it: a decimal string, or a vector input's decimal strings. */
export type SealedInputValue = string | string[];

/** What a department signs: its values for one party, session, roster and circuit. */
export interface InputStatement {
  type: typeof SIGNED_INPUT_TYPE;
  /** The aggregation session id. */
  session: string;
  /** The party id the box is sealed to (the provider of these inputs). */
  party: string;
  /** The roster digest (hex). */
  roster: string;
  /** The circuit digest (hex). */
  circuit: string;
  /** The signer's id, as the party's policy lists it (`aggregation.input_signers[].id`). */
  signer: string;
  /** Input name to value. */
  values: Record<string, SealedInputValue>;
}

/** The plaintext of a signed input box. */
export interface SignedInput {
  statement: InputStatement;
  /** Ed25519 signature over {@link inputStatementBytes} (base64). */
  sig: string;
}

/** What a party holds a statement to: the round it is dealing in. */
export interface InputBinding {
  session: string;
  party: string;
  roster: string;
  circuit: string;
}

/** What a box held: the values to deal, and who signed them (absent: not authenticated). */
export interface OpenedInput {
  values: Record<string, unknown>;
  signer?: string;
}

const STATEMENT_KEYS = ['type', 'session', 'party', 'roster', 'circuit', 'signer', 'values'] as const;
const BINDING_KEYS = ['session', 'party', 'roster', 'circuit'] as const;

/** The bytes a department signs: the domain tag, then the statement's canonical JSON. */
export function inputStatementBytes(statement: InputStatement): Uint8Array {
  return concatBytes(INPUT_DST, canonicalBytes(statement));
}

/** Sign `statement` with the signer's Ed25519 seed: the plaintext of the box to seal. */
export function signInputStatement(
  statement: InputStatement,
  secretKey: SecretBytes | Uint8Array,
): SignedInput {
  return { statement, sig: base64Encode(signBytes(secretKey, inputStatementBytes(statement))) };
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The values a box's JSON holds, checked against the party's `signers` (its policy's
 * `aggregation.input_signers`; undefined: not configured). Throws `ValidationError` for a box that
 * is neither form (`field`), and `VerificationError` with code `INPUT_UNAUTHENTICATED` for an input
 * the party must not deal: with signers configured, a box without a signed statement
 * (`aggregation.input_unsigned`), a signer it does not list (`aggregation.input_signer`), or a
 * signature that does not hold (`aggregation.input_signature`); and, with or without them, a
 * statement for another session, party, roster or circuit (`aggregation.input_binding`, naming
 * the statement's field).
 */
export function readInputBox(
  box: unknown,
  binding: InputBinding,
  signers: readonly InputSigner[] | undefined,
  field = 'body.input',
): OpenedInput {
  const refuse = (check: string, message: string, extra: Record<string, unknown> = {}) =>
    new VerificationError(check, `${field}: ${message}`, {
      code: 'INPUT_UNAUTHENTICATED',
      details: { fields: [field], party: binding.party, ...extra },
    });
  if (!isPlain(box)) throw new ValidationError('DECODE_FAILED', `${field}: not a JSON object`, [field]);
  if (!('statement' in box) && !('sig' in box)) {
    // The plain box: anyone with the roster can seal it.
    if (signers !== undefined) {
      throw refuse(
        'aggregation.input_unsigned',
        `party ${binding.party} deals only inputs signed by its aggregation.input_signers, and this box holds no signed statement`,
      );
    }
    const values = isPlain(box.values) ? box.values : {};
    return { values };
  }
  const statement = readStatement(box, field);
  // What a refusal says goes back to the coordinator, which must not learn what the box holds: it
  // names this round's fields, never the statement's.
  for (const key of BINDING_KEYS) {
    if (statement[key] !== binding[key]) {
      throw refuse(
        'aggregation.input_binding',
        `the signed statement names another ${key} than this round's (${binding[key]})`,
        { statement_field: key },
      );
    }
  }
  let signed: Uint8Array;
  try {
    signed = inputStatementBytes(statement);
  } catch (cause) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}.statement: not canonical JSON`, [field], {
      cause,
    });
  }
  if (signers === undefined) return { values: statement.values };
  const signer = signers.find((s) => s.id === statement.signer);
  if (signer === undefined) {
    throw refuse(
      'aggregation.input_signer',
      `its signer is not in party ${binding.party}'s aggregation.input_signers`,
    );
  }
  const sig = base64Decode(box.sig as string, `${field}.sig`);
  if (!verifyEd25519(hexToBytes(signer.public_key), signed, sig)) {
    throw refuse('aggregation.input_signature', "the signature does not verify under its signer's key", {
      signer: signer.id,
    });
  }
  return { values: statement.values, signer: signer.id };
}

/** A signed box's statement, strictly: exactly its fields, each a string but `values` (an object). */
function readStatement(box: Record<string, unknown>, field: string): InputStatement {
  const bad = (path: string, problem: string) =>
    new ValidationError('INVALID_ARGUMENT', `${path}: ${problem}`, [field], { details: { path } });
  for (const key of Object.keys(box)) {
    if (key !== 'statement' && key !== 'sig') throw bad(`${field}.${key}`, 'unknown field');
  }
  if (typeof box.sig !== 'string') throw bad(`${field}.sig`, 'expected base64');
  const s = box.statement;
  if (!isPlain(s)) throw bad(`${field}.statement`, 'expected an object');
  for (const key of Object.keys(s)) {
    if (!(STATEMENT_KEYS as readonly string[]).includes(key)) {
      throw bad(`${field}.statement.${key}`, 'unknown field');
    }
  }
  for (const key of STATEMENT_KEYS) {
    if (key === 'values') continue;
    if (typeof s[key] !== 'string') throw bad(`${field}.statement.${key}`, 'expected a string');
  }
  if (s.type !== SIGNED_INPUT_TYPE) {
    throw new ValidationError(
      'UNSUPPORTED_VERSION',
      `${field}.statement.type: expected ${SIGNED_INPUT_TYPE}`,
      [field],
      { details: { path: `${field}.statement.type` } },
    );
  }
  if (!isPlain(s.values)) throw bad(`${field}.statement.values`, 'expected an object');
  return s as unknown as InputStatement;
}
