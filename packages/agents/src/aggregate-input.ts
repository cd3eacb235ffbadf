/**
 * A party's input values as its box carries them, and the box a department seals itself.
 *
 * `runAggregationOverHttp` seals a caller's plaintext `inputs` to each party (`{"values": ...}`,
 * not authenticated: anyone with the roster can seal one). {@link sealSignedInput} is the
 * department's own path: it signs its values for one round (`party/signed-input.ts`) and seals
 * the signed statement to its party, so the coordinator relays a box (`sealedInputs`) whose values
 * and signature it cannot read, and a party whose policy lists `aggregation.input_signers` deals
 * only such boxes (docs/aggregation.md, "Department-signed inputs").
 */
import {
  type Circuit,
  type CircuitInput,
  getCiphersuite,
  type Rng,
  type SecretBytes,
  utf8,
  ValidationError,
} from '@aaps/mpc-core';
import { POOLED_RISK_CIRCUIT } from './party/pooled-risk.js';
import { inputAad, inputSpecsOf, openAggregationSession, sealToParty } from './party/routes/aggregation.js';
import { SIGNED_INPUT_TYPE, signInputStatement } from './party/signed-input.js';
import { isInputSignerId } from './policy/schema.js';
import { partyById, type Roster, rosterDigest } from './roster.js';

/** One input value: a safe integer, a bigint or a decimal string. */
export type AggregationValue = number | bigint | string;

/** One input's value: an integer, or a vector input's elements. */
export type AggregationInputValue = AggregationValue | readonly AggregationValue[];

/**
 * A party's inputs: one value when it provides one input (a vector input's elements when that one
 * input is a vector), values in circuit order, or values by input name.
 */
export type AggregationInputs =
  | AggregationValue
  | readonly AggregationInputValue[]
  | Readonly<Record<string, AggregationInputValue>>;

function toBigInt(v: AggregationValue, field: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an integer, not a list`, [field]);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string' && /^-?(0|[1-9][0-9]*)$/.test(v)) return v;
  throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an integer`, [field]);
}

/** A value as sealed to its party: decimal text, one per element for a vector input. */
function sealedValue(
  spec: CircuitInput,
  v: AggregationInputValue | undefined,
  field: string,
): string | string[] {
  if (spec.length === 1) return toBigInt(v as AggregationValue, field);
  if (!Array.isArray(v) || v.length !== spec.length) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected ${spec.length} integers (a vector)`, [
      field,
    ]);
  }
  return v.map((e, i) => toBigInt(e, `${field}[${i}]`));
}

export function sealedValuesFor(
  specs: readonly CircuitInput[],
  given: AggregationInputs | undefined,
  field: string,
): Record<string, string | string[]> {
  const names = specs.map((s) => s.name);
  if (given === undefined) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: missing (provides ${names.join(', ')})`, [
      field,
    ]);
  }
  const out: Record<string, string | string[]> = {};
  const byName = new Map(specs.map((s) => [s.name, s]));
  const lone = specs.length === 1 ? specs[0]! : undefined;
  const bare = !Array.isArray(given) && typeof given !== 'object';
  const vectorElements =
    Array.isArray(given) && lone !== undefined && lone.length > 1 && !given.some((v) => Array.isArray(v));
  if (lone !== undefined && (bare || vectorElements)) {
    // The party's one input: its value, or (a vector) the array of its elements.
    out[lone.name] = sealedValue(lone, given as AggregationInputValue, field);
  } else if (bare) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected ${names.length} values`, [field]);
  } else if (Array.isArray(given)) {
    if (given.length !== names.length) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}: expected ${names.length} values`, [field]);
    }
    specs.forEach((spec, i) => {
      out[spec.name] = sealedValue(spec, given[i], `${field}[${i}]`);
    });
  } else {
    for (const [k, v] of Object.entries(given as Record<string, AggregationInputValue>)) {
      const spec = byName.get(k);
      // An input the party does not provide is passed on for the party to refuse by name.
      out[k] = spec
        ? sealedValue(spec, v, `${field}.${k}`)
        : toBigInt(v as AggregationValue, `${field}.${k}`);
    }
  }
  return out;
}

/** What a department needs to seal its own signed input for one round. */
export interface SignedInputOptions {
  roster: Roster;
  /** The party the box is for: the department's own party, which provides the inputs. */
  party: string;
  /** The aggregation session id the coordinator runs the round under. */
  sessionId: string;
  /**
   * The caller id the coordinator calls the parties under (bound into the box; default the
   * roster's gateway, the only caller a party accepts).
   */
  caller?: string;
  /** The circuit of the round (its digest is signed). */
  circuit: Circuit;
  /** The party's inputs, in any form `runAggregationOverHttp`'s `inputs` takes. */
  values: AggregationInputs;
  /** The signing key: its id as the party's `aggregation.input_signers` lists it, and its Ed25519 seed. */
  signer: { id: string; secretKey: SecretBytes | Uint8Array };
  rng?: Rng;
}

/**
 * The box a department hands the coordinator (`runAggregationOverHttp`'s `sealedInputs[party]`):
 * its values signed for this session, party, roster and circuit by `signer`, then sealed to the
 * party's X25519 key. Throws `ValidationError` naming the option (`party`, `values`, `signer.id`,
 * the session id) before anything is signed.
 */
export function sealSignedInput(opts: SignedInputOptions): string {
  const { roster, circuit } = opts;
  const party = partyById(roster, opts.party);
  if (party === undefined) {
    throw new ValidationError('UNKNOWN_IDENTIFIER', `party: ${opts.party} is not in the roster`, ['party']);
  }
  if (circuit.id === POOLED_RISK_CIRCUIT) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `circuit: every party derives its own ${POOLED_RISK_CIRCUIT} input (no sealed input)`,
      ['circuit'],
    );
  }
  const specs = inputSpecsOf(circuit, party);
  if (specs.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', `party: ${party.id} provides no input to ${circuit.id}`, [
      'party',
    ]);
  }
  if (typeof opts.signer?.id !== 'string' || !isInputSignerId(opts.signer.id)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'signer.id: expected 1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)',
      ['signer.id'],
    );
  }
  // The session every party opens: refuses a malformed session id, or a roster the circuit cannot run on.
  openAggregationSession(getCiphersuite(roster.ciphersuite), roster, circuit, opts.sessionId);
  const digest = rosterDigest(roster);
  const signed = signInputStatement(
    {
      type: SIGNED_INPUT_TYPE,
      session: opts.sessionId,
      party: party.id,
      roster: digest,
      circuit: circuit.digestHex,
      signer: opts.signer.id,
      values: sealedValuesFor(specs, opts.values, 'values'),
    },
    opts.signer.secretKey,
  );
  const plaintext = utf8(JSON.stringify(signed));
  try {
    return sealToParty(
      party,
      plaintext,
      inputAad(opts.sessionId, opts.caller ?? opts.roster.gateway.id, party.id, digest),
      opts.rng,
    );
  } finally {
    plaintext.fill(0);
  }
}
