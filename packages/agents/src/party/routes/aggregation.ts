/**
 * Secret-shared aggregation on the party node (mpc-core `aggregation/`), two rounds:
 *
 *  - `agg.deal`: the caller names a circuit (by id and digest: the party evaluates only circuits it
 *    trusts, loaded from `circuits/` and its data directory, never one sent in a request) and a
 *    session id this party never dealt before (kept in its store: `CONFLICT` otherwise). For the
 *    pooled-risk circuit the caller only names the subject (`derive`) and the party computes its
 *    own department score (on the heavier of the declared environment and its own view of the
 *    subject's namespace); a caller-supplied `input` is refused (`FORBIDDEN`). For other circuits
 *    the caller hands the party its input values sealed to the party's X25519 key (in a deployment
 *    the department's own system signs and seals them: `../signed-input.ts`; a party whose policy
 *    lists `aggregation.input_signers` deals only such a box, signed for this round by a listed
 *    key, and records the signer in its audit trail). The party checks that its role provides those
 *    inputs, Pedersen-shares each with a range proof, and answers with its public dealing (signed
 *    with its identity key, and naming the digest of the subject it derived from, or `sealed`)
 *    and one sealed, signed box of shares per receiver.
 *  - `agg.evaluate`: the party receives every dealer's signed public dealing and the boxes addressed
 *    to it, checks signatures, refuses a round in which any dealer names another subject than its
 *    own (`INCONSISTENT_TRANSCRIPT`, blaming no dealer: the coordinator showed them different
 *    subjects), opens its shares, verifies every dealing (range proofs, shares against
 *    commitments, batched; bad dealers are named), evaluates the circuit on its shares and returns
 *    its result shares (one per output) with the digest of the dealings it used. A dealer whose box
 *    opens to shares its commitments refute draws a signed complaint instead, revealing that box's
 *    key ({@link ShareComplaint}), which the coordinator judges ({@link judgeShareComplaint}). A
 *    second call may carry `revealed` (dealer-signed shares standing in for a box that did not
 *    open) or `excluded` (dealers whose inputs take the circuit's substitutes); a party sends
 *    result shares once per session.
 *  - `agg.reveal` (the complaint step): the dealer reveals, signed, the shares it dealt to the
 *    receivers named, each only against that receiver's signed reveal request (which a receiver
 *    whose box did not open sends in its error's `details.reveal_requests`), and never for t or
 *    more receivers of one session (counted in its store).
 *
 * The coordinator (`aggregate.ts`) opens the outputs from any t result shares, each checked against
 * the combined commitments, and builds the record anyone checks with `verifyAggregation`.
 */

import { randomBytes, randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type JsonReading, parseJsonRefusingRepeats } from '@aaps/evidence';
import {
  AapsError,
  type AggregationParty,
  type AggregationSession,
  type AnyCiphersuite,
  base64Decode,
  base64Encode,
  bytesToHex,
  type Circuit,
  type CircuitInput,
  checkPublicDealing,
  concatBytes,
  createAggregationSession,
  dealInputs,
  decodeAggregationRecordJson,
  displayValue,
  equalBytes,
  evaluateShares,
  type Identifier,
  type IdentityKey,
  type InputDealing,
  type InputShare,
  loadCircuit,
  open,
  outputValueText,
  ProtocolError,
  type PublicInputDealing,
  type ResultShare,
  type Rng,
  randomBytesOf,
  rangeProofLength,
  SecretBytes,
  seal,
  signBytes,
  utf8,
  ValidationError,
  VerificationError,
  type VerifiedProofs,
  verifyAggregation,
  verifyDealing,
  verifyDealings,
  verifyEd25519,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { departmentRiskScore } from '../../policy/risk.js';
import { frostIdentifier, partyById, type Roster, type RosterParty } from '../../roster.js';
import type { PartyDeps } from '../context.js';
import type { DealingPadPool } from '../dealing-pads.js';
import { staticPairKey, x25519OfIdentityHex } from '../identity-x25519.js';
import {
  POOLED_RISK_CIRCUIT,
  type PooledRiskLedger,
  parseRiskSubject,
  pooledRiskOf,
  type RiskSubject,
  riskSubjectDigest,
  scoredFactors,
} from '../pooled-risk.js';
import { type OpenedInput, readInputBox } from '../signed-input.js';

// ---------------------------------------------------------------------------------------------
// Trusted circuits
// ---------------------------------------------------------------------------------------------

/** Circuits a party (or coordinator) trusts, by id. */
export type CircuitCatalog = ReadonlyMap<string, Circuit>;

/**
 * The shipped circuits: `@aaps/mpc-core`'s copy of the repository's `circuits/` (the build and
 * mpc-core's `prepack` copy them into its `dist/circuits/`, exported as
 * `@aaps/mpc-core/circuits/<id>.json`), found where that package is installed, so the same in the
 * workspace and in an installed `@aaps/agents`.
 */
export const SHIPPED_CIRCUITS_DIR = shippedCircuitsDir();

function shippedCircuitsDir(): string {
  const manifest = createRequire(import.meta.url).resolve('@aaps/mpc-core/package.json');
  const exported = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> })
    .exports?.['./circuits/*.json'];
  if (typeof exported !== 'string' || !exported.endsWith('/*.json'))
    throw new Error(`${manifest} exports no "./circuits/*.json": this @aaps/mpc-core ships no circuits`);
  return join(dirname(manifest), exported.slice(0, -'/*.json'.length));
}

/** A directory of circuit files, as {@link readCircuitCatalog} reads it. */
export interface CircuitDir {
  path: string;
  /** It may be absent (a party's own `<data dir>/circuits/`): skipped then. Else a missing directory is an error. */
  optional?: boolean;
  /** A further check of each circuit read from it; what it throws is reported naming the file. */
  check?: (circuit: Circuit) => void;
}

/**
 * Load every `*.json` circuit of the given directories (a plain path must exist). A file that is
 * not JSON, gives a key twice in one object, is not a valid circuit or fails its directory's check
 * is an error naming the file. The
 * same id twice with different contents is refused: a party must know exactly which circuit it runs.
 */
export function readCircuitCatalog(dirs: readonly (string | CircuitDir)[]): CircuitCatalog {
  const out = new Map<string, Circuit>();
  const files = new Map<string, string>();
  for (const entry of dirs) {
    const dir: CircuitDir = typeof entry === 'string' ? { path: entry } : entry;
    let names: string[];
    try {
      names = readdirSync(dir.path)
        .filter((n) => n.endsWith('.json'))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (dir.optional) continue;
      throw new ValidationError(
        'CIRCUIT_INVALID',
        `the circuits directory ${dir.path} does not exist${dir.path === SHIPPED_CIRCUITS_DIR ? ' (the shipped circuits: @aaps/mpc-core is installed without its dist/circuits/; build or reinstall it)' : ''}`,
        [dir.path],
        { cause: e },
      );
    }
    for (const name of names) {
      const file = join(dir.path, name);
      const notJson = (cause: unknown) =>
        new ValidationError('DECODE_FAILED', `circuit file ${file} is not JSON`, [file], { cause });
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (cause) {
        throw notJson(cause);
      }
      const read = parseJsonRefusingRepeats(text);
      if ('notJson' in read) throw notJson(read.notJson);
      // A key given twice: JSON.parse keeps the last, a person reviewing the file may read the first.
      if ('repeated' in read)
        throw new ValidationError('DECODE_FAILED', `circuit file ${file}: ${read.repeated.problem}`, [file]);
      let circuit: Circuit;
      try {
        circuit = loadCircuit(read.value);
        dir.check?.(circuit);
      } catch (e) {
        throw namingFile(e, file);
      }
      const seen = out.get(circuit.id);
      if (seen && seen.digestHex !== circuit.digestHex) {
        throw new ValidationError(
          'CIRCUIT_INVALID',
          `two different circuits named ${circuit.id}: ${files.get(circuit.id)} and ${file}`,
          [file],
        );
      }
      out.set(circuit.id, circuit);
      files.set(circuit.id, file);
    }
  }
  return out;
}

/** A circuit file's error, its message prefixed with the file (its code and fields kept). */
function namingFile(e: unknown, file: string): unknown {
  if (!(e instanceof AapsError)) return e;
  const message = `circuit file ${file}: ${e.message}`;
  if (e instanceof ValidationError) return new ValidationError(e.code, message, e.fields, { cause: e });
  return new AapsError(e.code, message, { cause: e });
}

/** Bytes allowed per share element: 32 bytes sealed, in base64 (about 43), with slack. */
const BODY_BYTES_PER_ELEMENT = 48;
/** Bytes allowed per input and per output for names, commitments, signatures and JSON. */
const BODY_BYTES_PER_ITEM = 1024;
/** Bytes an opened element costs beyond its digits in a record sent as JSON text (escaped quotes, comma). */
const BODY_BYTES_PER_VALUE = 8;
/** The most any allowance adds (the party config's own ceiling for `max_body_bytes`). */
const MAX_BODY_ALLOWANCE = 64 * 1024 * 1024;

/**
 * How many bytes an aggregation request (`agg.deal`, `agg.evaluate`, `agg.confirm`) of `circuit`
 * may need beyond the party's `max_body_bytes`. Per input: its share elements (a receiver's
 * `agg.evaluate` carries, for every input, the share vector its dealer sealed to it) and its
 * public dealing with its range proof (counted in hex, as the record carries it); per output, its
 * opened elements as the record carries them.
 */
export function circuitBodyBytes(circuit: Circuit, suite: AnyCiphersuite): number {
  let bytes = 0;
  for (const input of circuit.inputs) {
    bytes += input.length * BODY_BYTES_PER_ELEMENT + BODY_BYTES_PER_ITEM;
    // Base64 in a dealing, hex in the record `agg.confirm` carries: the larger, hex.
    if (input.rangeProof) bytes += 2 * rangeProofLength(suite, input.min, input.max);
  }
  for (const output of circuit.outputs) {
    const digits = Math.max(output.max.toString().length, output.min.toString().length);
    bytes += output.length * (digits + BODY_BYTES_PER_VALUE) + BODY_BYTES_PER_ITEM;
  }
  return bytes;
}

/**
 * How many bytes an aggregation request may need beyond the party's `max_body_bytes` for the
 * largest circuit it trusts ({@link circuitBodyBytes}), so every circuit it trusts runs with the
 * defaults while other requests keep the plain limit. The circuits are the operator's own files,
 * never a request's, and the allowance is capped at 64 MiB: a party refuses to trust a circuit
 * that needs more ({@link readPartyCircuits}).
 */
export function aggregationBodyAllowance(circuits: CircuitCatalog, suite: AnyCiphersuite): number {
  let most = 0;
  for (const circuit of circuits.values()) most = Math.max(most, circuitBodyBytes(circuit, suite));
  return Math.min(most, MAX_BODY_ALLOWANCE);
}

/**
 * The circuits a party trusts: the shipped ones ({@link SHIPPED_CIRCUITS_DIR}, which must be
 * there), then its operator's own `<data dir>/circuits/` (if any). A circuit whose aggregation
 * requests need more than the capped allowance ({@link aggregationBodyAllowance}) could never run
 * and is refused; so is one of the operator's whose input names a role no party of the roster
 * holds (no party could ever provide it). Either stops the party, naming the file.
 */
export function readPartyCircuits(deps: Pick<PartyDeps, 'config' | 'roster' | 'suite'>): CircuitCatalog {
  const runnable = (circuit: Circuit) => {
    const bytes = circuitBodyBytes(circuit, deps.suite);
    if (bytes > MAX_BODY_ALLOWANCE) {
      throw new ValidationError(
        'CIRCUIT_INVALID',
        `circuit ${circuit.id} is too large to run: its aggregation requests need up to ${bytes} bytes beyond max_body_bytes (48 bytes a share element, 1 KiB an input or output), over the ${MAX_BODY_ALLOWANCE} bytes (64 MiB) a party allows for its circuits; split it or shorten its vectors`,
        ['circuit.inputs'],
      );
    }
  };
  const roles = new Set<string>(deps.roster.parties.map((p) => p.role));
  const provided = (circuit: Circuit) => {
    runnable(circuit);
    circuit.inputs.forEach((input, i) => {
      if (!roles.has(input.role)) {
        throw new ValidationError(
          'CIRCUIT_INVALID',
          `circuit ${circuit.id}: input ${input.name} is provided by role ${input.role}, which no party of the roster holds (its roles: ${[...roles].sort().join(', ')})`,
          [`circuit.inputs[${i}].role`],
        );
      }
    });
  };
  return readCircuitCatalog([
    { path: SHIPPED_CIRCUITS_DIR, check: runnable },
    ...(deps.config.dataDir
      ? [{ path: join(deps.config.dataDir, 'circuits'), optional: true, check: provided }]
      : []),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Wire format (shared with the coordinator driver)
// ---------------------------------------------------------------------------------------------

/**
 * v3: each share box has its own key (derived from the pair's channel key and the box's AAD), so
 * a receiver's complaint reveals that one box (see {@link ShareComplaint}). The payload names the
 * subject its dealer derived from (`subject`, since v2).
 */
export const DEALING_TYPE = 'aaps-agg-dealing/v3';
/** Earlier payload types, refused (`UNSUPPORTED_VERSION`: parties and coordinator run one release). */
const RETIRED_DEALING_TYPES: ReadonlyMap<string, string> = new Map([
  ['aaps-agg-dealing/v1', 'no subject'],
  ['aaps-agg-dealing/v2', 'share boxes under the channel key'],
]);
/** The `subject` of a dealing whose values the caller supplied (sealed `input`), not derived. */
export const SEALED_INPUT_SUBJECT = 'sealed';
/** A dealing's `subject`: a subject digest (64 lowercase hex) or {@link SEALED_INPUT_SUBJECT}. */
const SUBJECT_MARK = /^(?:[0-9a-f]{64}|sealed)$/;
const DEALING_DST = utf8('AAPS-AGG-DEALING-v1\0');
const SHARES_DST = utf8('AAPS-AGG-SHARES-v1\0');

/** A dealer's public dealing: the JSON text it signed, and its Ed25519 signature (base64). */
export interface SignedDealing {
  payload: string;
  sig: string;
}

/** Shares for one receiver from one dealer: `party` is the receiver when sent, the dealer when relayed. */
export interface SealedShares {
  party: string;
  box: string;
  sig: string;
}

/** What `payload` holds: all of one dealer's dealings, in circuit order. */
export interface DealerPayload {
  type: typeof DEALING_TYPE;
  session: string;
  /** Circuit digest (hex). */
  circuit: string;
  roster: string;
  /** Party id of the dealer. */
  dealer: string;
  /**
   * Where the dealt values came from: `riskSubjectDigest` of the `derive` subject the dealer
   * scored, or {@link SEALED_INPUT_SUBJECT} for values the caller supplied. Every evaluator
   * requires all dealers of a round to name the same.
   */
  subject: string;
  inputs: string[];
  /** All commitments `C_0..C_{t-1}` of every input, concatenated (base64). */
  commitments: string;
  /** The decoding hints, concatenated (base64). */
  hints: string;
  /** Per input, its range proof (base64) or null. */
  proofs: (string | null)[];
}

/** The roster parties as aggregation parties (FROST identifier and role). */
export function aggregationParties(roster: Roster): AggregationParty[] {
  return roster.parties.map((p) => ({ id: frostIdentifier(roster, p), role: p.role }));
}

/** The session every party and the coordinator derive alike: circuit, id, roster threshold, parties. */
export function openAggregationSession(
  suite: AnyCiphersuite,
  roster: Roster,
  circuit: Circuit,
  sessionId: string,
): AggregationSession<unknown> {
  return createAggregationSession(suite, {
    circuit,
    sessionId,
    threshold: roster.threshold.min,
    parties: aggregationParties(roster),
  });
}

/** The circuit inputs `party` provides, in circuit order. */
export function inputSpecsOf(circuit: Circuit, party: RosterParty): CircuitInput[] {
  return circuit.inputs.filter((i) => i.role === party.role);
}

/** Names of the circuit inputs `party` provides, in circuit order. */
export function inputsOf(circuit: Circuit, party: RosterParty): string[] {
  return inputSpecsOf(circuit, party).map((i) => i.name);
}

export function inputAad(session: string, caller: string, party: string, rosterDigest: string): Uint8Array {
  return utf8(`aaps-agg-input/v1|${session}|${caller}|${party}|${rosterDigest}`);
}

/**
 * What binds one dealer's shares for one receiver to its round: `label` (`aaps-agg-shares/v2` for
 * the sealed box, `aaps-agg-reveal/v1` for a reveal), then session, dealer, receiver, roster digest
 * and the dealer's signed payload digest.
 */
function receiverAad(
  label: string,
  session: string,
  dealer: string,
  receiver: string,
  rosterDigest: string,
  payloadDigest: Uint8Array,
): Uint8Array {
  return utf8(`${label}|${session}|${dealer}|${receiver}|${rosterDigest}|${bytesToHex(payloadDigest)}`);
}

function sharesAad(
  session: string,
  dealer: string,
  receiver: string,
  rosterDigest: string,
  payloadDigest: Uint8Array,
): Uint8Array {
  return receiverAad('aaps-agg-shares/v2', session, dealer, receiver, rosterDigest, payloadDigest);
}

const BOX_INFO = utf8('AAPS-QUORUM-v1 agg-share-box');

/**
 * The key of one share box: HKDF-SHA256 of the pair's channel key, for this box's AAD (session,
 * dealer, receiver, roster, payload). Revealing it (a complaint) opens that box and no other, and
 * does not reveal the channel key.
 */
function shareBoxKey(channelKey: Uint8Array, aad: Uint8Array): Uint8Array {
  return hkdf(sha256, channelKey, undefined, concatBytes(BOX_INFO, aad), 32);
}

/**
 * The key of the share box `dealing`'s dealer sealed for this party (`channels` is its own), as a
 * complaint reveals it ({@link ShareComplaint}), with the box's AAD.
 */
export function receivedBoxKey(
  channels: ChannelKeys,
  sessionId: string,
  rosterDigest: string,
  dealing: Pick<ParsedDealing, 'dealer' | 'digest'>,
): { key: Uint8Array; aad: Uint8Array } {
  const aad = sharesAad(sessionId, dealing.dealer.id, channels.self, rosterDigest, dealing.digest);
  return { key: shareBoxKey(channels.key(dealing.dealer), aad), aad };
}

/** A sealed box as one byte string: ephemeral key (32) || nonce (24) || ciphertext. */
export function sealToParty(party: RosterParty, plaintext: Uint8Array, aad: Uint8Array, rng?: Rng): string {
  const box = seal(x25519OfIdentityHex(party.identity_key), plaintext, aad, rng ?? defaultRng);
  return base64Encode(concatBytes(box.ephemeralPublicKey, box.nonce, box.ciphertext));
}

/** Open a box sealed with {@link sealToParty}; throws `VerificationError` (`seal.open`) if it does not. */
export function openSealed(identity: IdentityKey, box: string, aad: Uint8Array, field: string): Uint8Array {
  const bytes = base64Decode(box, field);
  if (bytes.length < 56 + 16) throw new ValidationError('DECODE_FAILED', `${field}: too short`, [field]);
  const mine = x25519FromIdentitySecretKey(identity.secretKey);
  try {
    return open(
      mine,
      {
        ephemeralPublicKey: bytes.subarray(0, 32),
        nonce: bytes.subarray(32, 56),
        ciphertext: bytes.subarray(56),
      },
      aad,
    );
  } finally {
    mine.wipe();
  }
}

function hexToBytesStrict(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** The dealer's payload text for its public dealings (all of one dealer's inputs, circuit order). */
export function encodeDealerPayload(fields: {
  session: string;
  circuitDigestHex: string;
  rosterDigest: string;
  dealer: string;
  /** See {@link DealerPayload.subject}. */
  subject: string;
  dealings: readonly PublicInputDealing[];
}): string {
  const payload: DealerPayload = {
    type: DEALING_TYPE,
    session: fields.session,
    circuit: fields.circuitDigestHex,
    roster: fields.rosterDigest,
    dealer: fields.dealer,
    subject: fields.subject,
    inputs: fields.dealings.map((d) => d.input),
    commitments: base64Encode(concatBytes(...fields.dealings.flatMap((d) => d.commitments))),
    hints: base64Encode(concatBytes(...fields.dealings.flatMap((d) => d.hints ?? []))),
    proofs: fields.dealings.map((d) => (d.rangeProof ? base64Encode(d.rangeProof) : null)),
  };
  return JSON.stringify(payload);
}

export function signDealerPayload(identity: IdentityKey, payload: string): SignedDealing {
  return {
    payload,
    sig: base64Encode(signBytes(identity.secretKey, concatBytes(DEALING_DST, utf8(payload)))),
  };
}

const CHANNEL_INFO = utf8('AAPS-QUORUM-v1 agg-channel x25519-hkdf-sha256-xchacha20poly1305');

/**
 * Pairwise channel keys between roster parties for share boxes: static-static X25519 between their
 * identity-derived keys, HKDF-SHA256, cached per peer for the life of the process (one Diffie-Hellman
 * per peer instead of two per box). Only the two parties can make or open a box; the AAD names the
 * direction, session and payload. (Trade-off: a box recorded by a relay opens with either party's
 * identity key later, where an ephemeral-static box needs the receiver's.)
 */
export class ChannelKeys {
  readonly #identity: IdentityKey;
  readonly #self: string;
  readonly #cache = new Map<string, Uint8Array>();

  constructor(identity: IdentityKey, self: string) {
    this.#identity = identity;
    this.#self = self;
  }

  /** The party these keys are of. */
  get self(): string {
    return this.#self;
  }

  key(peer: RosterParty): Uint8Array {
    const cached = this.#cache.get(peer.id);
    if (cached) return cached;
    const pair = [this.#self, peer.id].sort().join('|');
    const key = staticPairKey(this.#identity, peer.identity_key, utf8(pair), CHANNEL_INFO);
    this.#cache.set(peer.id, key);
    return key;
  }

  toJSON(): string {
    return '<redacted>';
  }
}

/**
 * Seal one dealer's shares for one receiver (`share || blinding` per input, in payload order) under
 * their channel key, and sign the box (so a box that verifies but does not open blames the dealer).
 */
export function sealShares(args: {
  identity: IdentityKey;
  channels: ChannelKeys;
  session: string;
  dealer: string;
  receiver: RosterParty;
  rosterDigest: string;
  payload: string;
  shares: readonly InputShare[];
  rng?: Rng;
}): SealedShares {
  const aad = sharesAad(
    args.session,
    args.dealer,
    args.receiver.id,
    args.rosterDigest,
    sha256(utf8(args.payload)),
  );
  const plain = concatBytes(...args.shares.flatMap((s) => [s.share.expose(), s.blinding.expose()]));
  const nonce = randomBytesOf(args.rng ?? defaultRng, 24);
  const sealed = concatBytes(
    nonce,
    xchacha20poly1305(shareBoxKey(args.channels.key(args.receiver), aad), nonce, aad).encrypt(plain),
  );
  plain.fill(0);
  const sig = base64Encode(signBytes(args.identity.secretKey, concatBytes(SHARES_DST, aad, sealed)));
  return { party: args.receiver.id, box: base64Encode(sealed), sig };
}

/** What {@link verifyShareBoxes} found in one dealer's share boxes (receiver party ids, roster order). */
export interface ShareBoxCheck {
  /** True when every expected receiver has exactly one box, signed by the dealer, and nothing else was sent. */
  ok: boolean;
  /** Expected receivers with no box. */
  missing: string[];
  /** Receivers with more than one box (none of their boxes is kept). */
  duplicated: string[];
  /** Receivers whose one box's signature is malformed or does not verify under the dealer's key. */
  badlySigned: string[];
  /** How many items were malformed (not `{party, box, sig}` strings) or addressed to no expected receiver. */
  unexpected: number;
  /** The sealed bytes of each receiver's one well-signed box. */
  boxes: Map<string, Uint8Array>;
}

/**
 * Check one dealer's share boxes without opening them: exactly one box per expected receiver
 * (every roster party unless `receivers` is given), each signed by the dealer's identity key over
 * `SHARES_DST || sharesAad(session, dealer, receiver, rosterDigest, sha256(payload)) || box`.
 * `payload` is the dealer's signed payload text (`SignedDealing.payload`) and `sealed` its boxes as
 * it sent them (`party` = the receiver). Pure: the coordinator runs it on a dealer's `agg.deal`
 * answer (a failure there is the dealer's), a receiver on the boxes relayed to it.
 */
export function verifyShareBoxes(args: {
  sessionId: string;
  roster: Roster;
  rosterDigest: string;
  /** The dealer's party id (its identity key is taken from the roster). */
  dealer: string;
  payload: string;
  /** SHA-256 of the payload's UTF-8, when the caller has it (a `ParsedDealing`'s `digest`). */
  payloadDigest?: Uint8Array;
  sealed: unknown;
  /** Receiver party ids to expect a box for (default: every roster party). */
  receivers?: readonly string[];
}): ShareBoxCheck {
  const dealer = partyById(args.roster, args.dealer);
  if (!dealer) {
    throw new ValidationError(
      'UNKNOWN_IDENTIFIER',
      `dealer ${displayValue(args.dealer)}: not in the roster`,
      ['dealer'],
    );
  }
  const expected = args.receivers ?? args.roster.parties.map((p) => p.id);
  const wanted = new Set(expected);
  const items = Array.isArray(args.sealed) ? (args.sealed as unknown[]) : [];
  const byReceiver = new Map<string, Partial<SealedShares>[]>();
  let unexpected = 0;
  for (const raw of items) {
    const item = raw as Partial<SealedShares> | null;
    if (typeof item?.party !== 'string' || !wanted.has(item.party)) {
      unexpected += 1;
      continue;
    }
    const list = byReceiver.get(item.party) ?? [];
    list.push(item);
    byReceiver.set(item.party, list);
  }
  const dealerKey = hexToBytesStrict(dealer.identity_key);
  const payloadDigest = args.payloadDigest ?? sha256(utf8(args.payload));
  const out: ShareBoxCheck = {
    ok: false,
    missing: [],
    duplicated: [],
    badlySigned: [],
    unexpected,
    boxes: new Map(),
  };
  for (const receiver of expected) {
    const list = byReceiver.get(receiver) ?? [];
    if (list.length === 0) {
      out.missing.push(receiver);
      continue;
    }
    if (list.length > 1) {
      out.duplicated.push(receiver);
      continue;
    }
    const { box, sig } = list[0]!;
    let sealed: Uint8Array;
    let signature: Uint8Array;
    try {
      if (typeof box !== 'string' || typeof sig !== 'string') throw new Error('not strings');
      sealed = base64Decode(box, 'box');
      signature = base64Decode(sig, 'sig');
    } catch {
      out.badlySigned.push(receiver);
      continue;
    }
    const aad = sharesAad(args.sessionId, dealer.id, receiver, args.rosterDigest, payloadDigest);
    if (!verifyEd25519(dealerKey, concatBytes(SHARES_DST, aad, sealed), signature)) {
      out.badlySigned.push(receiver);
      continue;
    }
    out.boxes.set(receiver, sealed);
  }
  out.ok =
    out.missing.length === 0 &&
    out.duplicated.length === 0 &&
    out.badlySigned.length === 0 &&
    out.unexpected === 0;
  return out;
}

/** Open a share box with its key ({@link shareBoxKey}); `undefined` if it does not open. */
function openShareBox(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < 24 + 16) return undefined;
  try {
    return xchacha20poly1305(key, sealed.subarray(0, 24), aad).decrypt(sealed.subarray(24));
  } catch {
    return undefined;
  }
}

/**
 * One dealer's opened box as its dealings with `receiver`'s shares: per dealing, the share (a
 * vector input's: one scalar per element), then the blinding, in payload order. `undefined` when
 * the plaintext has the wrong length for the dealer's inputs.
 */
function sharesOfBox(
  session: AggregationSession<unknown>,
  dealing: ParsedDealing,
  receiver: Identifier,
  plain: Uint8Array,
): InputDealing[] | undefined {
  const SL = session.suite.field.toBytes(0n).length;
  // (parseSignedDealing accepted only the dealer's own inputs: each name is in the circuit.)
  const sizes = dealing.dealings.map(
    (d) => SL * (session.circuit.inputs[session.inputIndex.get(d.input)!]!.length + 1),
  );
  if (plain.length !== sizes.reduce((a, b) => a + b, 0)) return undefined;
  let at = 0;
  return dealing.dealings.map((d, k): InputDealing => {
    const end = at + sizes[k]!;
    const out = {
      ...d,
      shares: {
        [receiver]: {
          share: new SecretBytes(plain.subarray(at, end - SL)),
          blinding: new SecretBytes(plain.subarray(end - SL, end)),
        },
      },
    };
    at = end;
    return out;
  });
}

/**
 * A receiver's complaint about a dealer's share box, in its signed `agg.evaluate` answer: the box
 * opened, but the shares in it have the wrong length or do not match the dealer's signed
 * commitments. `key` (base64) is that box's key ({@link shareBoxKey}): with the dealer-signed box
 * anyone can open it and check the shares, so the complaint proves the dealer cheated, or proves
 * the receiver lied ({@link judgeShareComplaint}).
 */
export interface ShareComplaint {
  dealer: string;
  key: string;
}

/**
 * Judge `receiver`'s complaint about `dealing`'s dealer: `box` is the sealed box the dealer signed
 * for the receiver (checked by `verifyShareBoxes`), `key` the key the receiver revealed. The dealer
 * is proven to have cheated when the box opens under the key (only the key it was sealed under
 * opens it) to shares of the wrong length, or to shares its own signed dealing refutes (or that
 * dealing fails the public checks). The receiver is proven to have lied when the key does not open
 * the box, or the shares check out.
 */
export function judgeShareComplaint(args: {
  session: AggregationSession<unknown>;
  sessionId: string;
  roster: Roster;
  rosterDigest: string;
  dealing: ParsedDealing;
  receiver: RosterParty;
  box: Uint8Array;
  key: Uint8Array;
}): 'dealer' | 'receiver' {
  const { session, dealing, receiver } = args;
  const aad = sharesAad(args.sessionId, dealing.dealer.id, receiver.id, args.rosterDigest, dealing.digest);
  const plain = args.key.length === 32 ? openShareBox(args.key, args.box, aad) : undefined;
  if (plain === undefined) return 'receiver';
  const receiverId = frostIdentifier(args.roster, receiver);
  const dealt = sharesOfBox(session, dealing, receiverId, plain);
  plain.fill(0);
  if (dealt === undefined) return 'dealer';
  for (const d of dealt) {
    try {
      verifyDealing(session, d, receiverId);
    } catch (e) {
      if (e instanceof ProtocolError) return 'dealer';
      throw e;
    }
  }
  return 'receiver';
}

const REVEAL_DST = utf8('AAPS-AGG-REVEAL-v1\0');
const REVEAL_REQUEST_DST = utf8('AAPS-AGG-REVEAL-REQUEST-v1\0');

/**
 * A receiver's signed request that `dealing`'s dealer reveal the shares it dealt it (its box did
 * not open): base64 Ed25519 over `REVEAL_REQUEST_DST || revealAad(...)`. The dealer reveals a
 * receiver's shares only against this, so a coordinator cannot make it reveal the shares of a
 * receiver that never complained (with one corrupt party's own share, t - 1 such would open the
 * input).
 */
export function signRevealRequest(args: {
  identity: IdentityKey;
  session: string;
  dealer: string;
  receiver: string;
  rosterDigest: string;
  payloadDigest: Uint8Array;
}): string {
  const aad = revealAad(args.session, args.dealer, args.receiver, args.rosterDigest, args.payloadDigest);
  return base64Encode(signBytes(args.identity.secretKey, concatBytes(REVEAL_REQUEST_DST, aad)));
}

/** Whether `sig` is `receiver`'s reveal request for `dealer`'s payload in this session. */
export function revealRequestHolds(args: {
  roster: Roster;
  session: string;
  dealer: string;
  receiver: string;
  rosterDigest: string;
  payloadDigest: Uint8Array;
  sig: unknown;
}): boolean {
  const receiver = partyById(args.roster, args.receiver);
  if (!receiver || typeof args.sig !== 'string') return false;
  let sig: Uint8Array;
  try {
    sig = base64Decode(args.sig, 'sig');
  } catch {
    return false;
  }
  const aad = revealAad(args.session, args.dealer, args.receiver, args.rosterDigest, args.payloadDigest);
  return verifyEd25519(hexToBytesStrict(receiver.identity_key), concatBytes(REVEAL_REQUEST_DST, aad), sig);
}

/** What a dealer signs when it reveals the shares it dealt to one receiver (`agg.reveal`). */
function revealAad(
  session: string,
  dealer: string,
  receiver: string,
  rosterDigest: string,
  payloadDigest: Uint8Array,
): Uint8Array {
  return receiverAad('aaps-agg-reveal/v1', session, dealer, receiver, rosterDigest, payloadDigest);
}

/**
 * The shares a dealer dealt to one receiver, revealed in the complaint step (`agg.reveal`) and
 * signed by the dealer: `party` is the receiver in the dealer's answer, the dealer when the
 * coordinator relays it to the receiver (`agg.evaluate`'s `revealed`). `shares` (base64) is the
 * plaintext of that receiver's share box (per input, the share then the blinding, payload order).
 */
export interface RevealedShares {
  party: string;
  shares: string;
  sig: string;
}

/** Sign the shares `dealer` dealt to `receiver` for revealing them ({@link RevealedShares}). */
export function signRevealedShares(args: {
  identity: IdentityKey;
  session: string;
  dealer: string;
  receiver: string;
  rosterDigest: string;
  payloadDigest: Uint8Array;
  plain: Uint8Array;
}): RevealedShares {
  const aad = revealAad(args.session, args.dealer, args.receiver, args.rosterDigest, args.payloadDigest);
  return {
    party: args.receiver,
    shares: base64Encode(args.plain),
    sig: base64Encode(signBytes(args.identity.secretKey, concatBytes(REVEAL_DST, aad, args.plain))),
  };
}

/**
 * The plaintext of revealed shares whose signature verifies under `dealing`'s dealer for
 * `receiver` in this session, or `undefined` (malformed, or not signed by the dealer for them).
 */
export function openRevealedShares(args: {
  sessionId: string;
  rosterDigest: string;
  dealing: Pick<ParsedDealing, 'dealer' | 'digest'>;
  receiver: string;
  item: unknown;
}): Uint8Array | undefined {
  const item = args.item as Partial<RevealedShares> | null;
  if (typeof item?.shares !== 'string' || typeof item.sig !== 'string') return undefined;
  let plain: Uint8Array;
  let sig: Uint8Array;
  try {
    plain = base64Decode(item.shares, 'shares');
    sig = base64Decode(item.sig, 'sig');
  } catch {
    return undefined;
  }
  const aad = revealAad(
    args.sessionId,
    args.dealing.dealer.id,
    args.receiver,
    args.rosterDigest,
    args.dealing.digest,
  );
  const key = hexToBytesStrict(args.dealing.dealer.identity_key);
  return verifyEd25519(key, concatBytes(REVEAL_DST, aad, plain), sig) ? plain : undefined;
}

/**
 * Judge shares a dealer revealed for `receiver` (already signature-checked: {@link
 * openRevealedShares}): `good` when they have the right length and every one matches the dealer's
 * signed commitments; `refuted` otherwise (a proof against the dealer: it signed them).
 */
export function judgeRevealedShares(args: {
  session: AggregationSession<unknown>;
  roster: Roster;
  dealing: ParsedDealing;
  receiver: RosterParty;
  plain: Uint8Array;
}): 'good' | 'refuted' {
  const receiverId = frostIdentifier(args.roster, args.receiver);
  const dealt = sharesOfBox(args.session, args.dealing, receiverId, Uint8Array.from(args.plain));
  if (dealt === undefined) return 'refuted';
  for (const d of dealt) {
    try {
      verifyDealing(args.session, d, receiverId);
    } catch (e) {
      if (e instanceof ProtocolError) return 'refuted';
      throw e;
    }
  }
  return 'good';
}

/**
 * Why a dealer's signed dealing fails the public checks (commitments decode strictly, range proofs
 * verify): the first failing dealing's error, or `undefined` when all pass.
 */
export function publicCheckFailure(
  session: AggregationSession<unknown>,
  dealing: ParsedDealing,
): AapsError | undefined {
  try {
    for (const d of dealing.dealings) checkPublicDealing(session, d);
    return undefined;
  } catch (e) {
    if (e instanceof AapsError) return e;
    throw e;
  }
}

/** A checked dealer payload: who dealt, the digest of what it signed, its public dealings. */
export interface ParsedDealing {
  dealer: RosterParty;
  /** The signed payload text. */
  payload: string;
  digest: Uint8Array;
  /** The subject digest the dealer derived from, or {@link SEALED_INPUT_SUBJECT}. */
  subject: string;
  dealings: PublicInputDealing[];
}

/**
 * Check a dealer's signature and payload against the session. A signature that does not verify is
 * `INCONSISTENT_TRANSCRIPT` (the relay changed it, or the dealer signed garbage: the caller decides
 * whom to blame via `onBadSignature`); a signed payload that does not fit the session blames the
 * dealer (`INVALID_DEALING`).
 */
export function parseSignedDealing(
  ctx: { suite: AnyCiphersuite; roster: Roster; rosterDigest: string; session: AggregationSession<unknown> },
  signed: unknown,
  field: string,
  blameBadSignature: boolean,
): ParsedDealing {
  const s = signed as Partial<SignedDealing> | null;
  if (!s || typeof s.payload !== 'string' || typeof s.sig !== 'string') {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected {payload, sig}`, [field]);
  }
  const read = parseJsonRefusingRepeats(s.payload);
  if ('notJson' in read)
    throw new ValidationError('DECODE_FAILED', `${field}.payload: not JSON`, [`${field}.payload`], {
      cause: read.notJson,
    });
  // A key given twice: JSON.parse kept the last, a reader of the same signed bytes that keeps the
  // first would read another dealing (another dealer, other commitments) under one signature.
  if ('repeated' in read)
    throw new ValidationError('DECODE_FAILED', `${field}.payload: ${read.repeated.problem}`, [
      `${field}.payload`,
    ]);
  const head = read.value as Partial<DealerPayload>;
  const dealer = partyById(ctx.roster, head?.dealer);
  if (!dealer) {
    throw new ValidationError('UNKNOWN_IDENTIFIER', `${field}.payload.dealer: not in the roster`, [
      `${field}.payload.dealer`,
    ]);
  }
  const dealerId = frostIdentifier(ctx.roster, dealer);
  const sig = base64Decode(s.sig, `${field}.sig`);
  if (!verifyEd25519(hexToBytesStrict(dealer.identity_key), concatBytes(DEALING_DST, utf8(s.payload)), sig)) {
    throw new ProtocolError(
      blameBadSignature ? 'INVALID_SIGNATURE' : 'INCONSISTENT_TRANSCRIPT',
      `the dealing of ${dealer.id} is not signed by it`,
      blameBadSignature ? [dealerId] : [],
      { details: { party: dealer.id } },
    );
  }
  const blame = (why: string): never => {
    throw new ProtocolError('INVALID_DEALING', `dealing of ${dealer.id}: ${why}`, [dealerId], {
      details: { party: dealer.id },
    });
  };
  const { session, suite } = ctx;
  const retired = RETIRED_DEALING_TYPES.get(head.type as string);
  if (retired !== undefined) {
    throw new ProtocolError(
      'UNSUPPORTED_VERSION',
      `dealing of ${dealer.id}: ${String(head.type)} (${retired}) is no longer accepted; expected ${DEALING_TYPE}`,
      [dealerId],
      { details: { party: dealer.id, type: head.type } },
    );
  }
  if (head.type !== DEALING_TYPE) blame('unknown type');
  if (typeof head.subject !== 'string' || !SUBJECT_MARK.test(head.subject)) {
    blame('expected a subject digest or sealed');
  }
  if (head.session !== session.sessionId) blame('another session');
  if (head.circuit !== session.circuit.digestHex) blame('another circuit');
  if (head.roster !== ctx.rosterDigest) blame('another roster');
  const names = inputsOf(session.circuit, dealer);
  if (!Array.isArray(head.inputs) || head.inputs.join('\n') !== names.join('\n')) {
    blame(`expected its inputs ${names.join(', ')}`);
  }
  const t = session.threshold;
  const EL = suite.group.elementLength;
  const m = names.length;
  let commitments: Uint8Array;
  let hints: Uint8Array;
  try {
    commitments = base64Decode(String(head.commitments), 'commitments');
    hints = base64Decode(String(head.hints), 'hints');
  } catch {
    return blame('commitments or hints are not base64');
  }
  if (commitments.length !== m * t * EL) blame(`expected ${m * t} commitments`);
  if (hints.length !== 0 && hints.length !== m * t * 32) blame(`expected ${m * t} hints or none`);
  if (!Array.isArray(head.proofs) || head.proofs.length !== m) blame(`expected ${m} proof entries`);
  const proofs = head.proofs!;
  const dealings = names.map((input, k): PublicInputDealing => {
    const p = proofs[k];
    let rangeProof: Uint8Array | null = null;
    if (p !== null) {
      if (typeof p !== 'string') blame(`proofs[${k}]: expected base64 or null`);
      try {
        rangeProof = base64Decode(p as string, 'proof');
      } catch {
        blame(`proofs[${k}]: not base64`);
      }
    }
    const cs: Uint8Array[] = [];
    const hs: Uint8Array[] = [];
    for (let j = 0; j < t; j++) {
      const at = k * t + j;
      cs.push(commitments.subarray(at * EL, (at + 1) * EL));
      if (hints.length) hs.push(hints.subarray(at * 32, (at + 1) * 32));
    }
    return {
      v: 1,
      suite: suite.id,
      sessionId: session.sessionId,
      input,
      dealer: dealerId,
      commitments: cs,
      rangeProof,
      hints: hints.length ? hs : null,
    };
  });
  return {
    dealer,
    payload: s.payload,
    digest: sha256(utf8(s.payload)),
    subject: head.subject as string,
    dealings,
  };
}

/**
 * SHA-256 over the dealers' payload digests in roster order: what every evaluator must agree on.
 * With excluded dealers (party ids), their ids in roster order follow, after a separator, so
 * result shares computed with different exclusions never count as agreeing.
 */
export function dealingsDigest(
  roster: Roster,
  parsed: readonly ParsedDealing[],
  excluded: readonly string[] = [],
): string {
  const order = new Map(roster.parties.map((p, i) => [p.id, i]));
  const sorted = [...parsed].sort((a, b) => order.get(a.dealer.id)! - order.get(b.dealer.id)!);
  const out = [...excluded].sort((a, b) => (order.get(a) ?? -1) - (order.get(b) ?? -1));
  const tail = out.length === 0 ? [] : [utf8(`\0excluded|${out.join('|')}`)];
  return bytesToHex(sha256(concatBytes(...sorted.map((p) => p.digest), ...tail)));
}

/** Result shares on the wire. */
export interface WireResultShare {
  output: string;
  share: string;
  blinding: string;
}

export function resultSharesToWire(shares: readonly ResultShare[]): WireResultShare[] {
  return shares.map((r) => ({
    output: r.output,
    share: base64Encode(r.share),
    blinding: base64Encode(r.blinding),
  }));
}

/** Decode a party's result shares (malformed entries become shares that fail the opening check). */
export function resultSharesFromWire(
  session: AggregationSession<unknown>,
  party: RosterParty,
  roster: Roster,
  wire: unknown,
): ResultShare[] {
  if (!Array.isArray(wire)) return [];
  const id = frostIdentifier(roster, party);
  return wire.map((w: Partial<WireResultShare>) => {
    const bytes = (v: unknown) => {
      try {
        return base64Decode(String(v), 'share');
      } catch {
        return new Uint8Array(0);
      }
    };
    return {
      v: 1,
      sessionId: session.sessionId,
      party: id,
      output: String(w?.output),
      share: bytes(w?.share),
      blinding: bytes(w?.blinding),
    };
  });
}

function parseValue(v: unknown, field: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?(0|[1-9][0-9]{0,77})$/.test(v)) return BigInt(v);
  throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an integer`, [field]);
}

// ---------------------------------------------------------------------------------------------
// Party handlers
// ---------------------------------------------------------------------------------------------

const TTL_MS = 10 * 60 * 1000;
/** A dealt session older than this no longer counts as a round under way (its coordinator may be gone). */
const ROUND_HORIZON_MS = 30_000;

/** How long a party remembers that it dealt a session id (and refuses to deal it again). */
export const DEALT_SESSION_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

interface AggregationState {
  startedAt: number;
  session: AggregationSession<unknown>;
  /** The pooled-risk subject this party derived its input from. */
  subject?: RiskSubject;
  /**
   * What every dealer of the round must name as its `subject`: this party's subject digest, or
   * {@link SEALED_INPUT_SUBJECT}; undefined if this party was shown neither (it deals nothing).
   */
  subjectMark?: string;
  /**
   * Set once an `agg.evaluate` of the session has reached this party and failed: the state is kept
   * (for a second call with revealed shares or an exclusion), but the round no longer holds back
   * pad preparation ({@link ROUND_HORIZON_MS}).
   */
  failedAt?: number;
  /**
   * Dealers whose box did not open here, or opened to shares their commitments refute: this party
   * knows itself that they failed, so it may evaluate without them ({@link exclusionJustified}).
   */
  failedDealers?: Set<string>;
}

/** What a dealer keeps of a session it dealt, so it can reveal a receiver's shares if asked. */
interface RevealableState {
  startedAt: number;
  /** SHA-256 of the dealer's signed payload (bound into each revealed item's signature). */
  payloadDigest: Uint8Array;
  /** Per receiver (party id), the plaintext of its share box. */
  shares: Map<string, SecretBytes>;
}

interface EvaluatedState {
  evaluatedAt: number;
  session: AggregationSession<unknown>;
  /**
   * Each input's `C_0` and range proof as this party verified them (its own: as it made them), in
   * circuit input order: the record must carry these commitments, and its check at confirmation
   * does not verify these proofs again.
   */
  proofs: VerifiedProofs;
  /** The dealers (identifiers) whose inputs took their substitutes when this party evaluated. */
  excluded: readonly Identifier[];
  subject?: RiskSubject;
}

export function createAggregationHandlers(
  deps: PartyDeps,
  circuits: CircuitCatalog,
  ledger?: PooledRiskLedger,
  /** Prepared dealing pads for vector inputs (`../dealing-pads.ts`), if this party keeps them. */
  pads?: DealingPadPool,
) {
  const { suite, roster, self, rosterDigest } = deps;
  const myId = frostIdentifier(roster, self);
  const sessions = new Map<string, AggregationState>();
  const evaluated = new Map<string, EvaluatedState>();
  /** Sessions whose confirmation is being written now. */
  const confirming = new Set<string>();
  const rng = deps.rng;
  const channels = new ChannelKeys(deps.identity, self.id);
  const ctxFor = (session: AggregationSession<unknown>) => ({ suite, roster, rosterDigest, session });

  /** The shares this party dealt, per session and receiver, for the complaint step (`reveal`). */
  const revealable = new Map<string, RevealableState>();
  /** Sessions whose reveal is being answered now. */
  const revealing = new Set<string>();
  /**
   * Unref'd timers that drop a session's state (`sessions`) and its kept share boxes
   * (`revealable`) when their {@link TTL_MS} is up: the boxes are plaintext shares, and a party
   * that deals one round and then sees no aggregation call would otherwise keep them for as long
   * as it runs (the sweeps below run only on a later call). Cleared by `stop`.
   */
  const expiries = {
    sessions: new Map<string, NodeJS.Timeout>(),
    revealable: new Map<string, NodeJS.Timeout>(),
  };
  const expireLater = (timers: Map<string, NodeJS.Timeout>, id: string, drop: (id: string) => void) => {
    clearTimeout(timers.get(id));
    const timer = setTimeout(() => drop(id), TTL_MS);
    timer.unref();
    timers.set(id, timer);
  };
  const dropRevealable = (id: string) => {
    clearTimeout(expiries.revealable.get(id));
    expiries.revealable.delete(id);
    const r = revealable.get(id);
    if (!r) return;
    for (const v of r.shares.values()) v.wipe();
    revealable.delete(id);
  };
  const dropSession = (id: string) => {
    clearTimeout(expiries.sessions.get(id));
    expiries.sessions.delete(id);
    sessions.delete(id);
  };
  const forgetRevealable = () => {
    for (const [k, r] of revealable) if (Date.now() - r.startedAt > TTL_MS) dropRevealable(k);
  };

  const take = (id: string): AggregationState => {
    for (const [k, s] of sessions) if (Date.now() - s.startedAt > TTL_MS) dropSession(k);
    const s = sessions.get(id);
    if (!s) {
      throw new AapsError('NOT_FOUND', `no aggregation ${id} dealt here (restarted, expired or done)`);
    }
    return s;
  };

  return {
    /**
     * Stop: clear the expiry timers and wipe every kept share box now (nothing can ask for them
     * once the party stops serving).
     */
    stop(): void {
      for (const id of [...revealable.keys()]) dropRevealable(id);
      for (const id of [...sessions.keys()]) dropSession(id);
    },

    /**
     * Whether a round is under way here: a session this party dealt in the last
     * {@link ROUND_HORIZON_MS} and has not evaluated yet (pad preparation waits for it to end).
     */
    inRound(): boolean {
      const since = Date.now() - ROUND_HORIZON_MS;
      for (const s of sessions.values()) if (s.startedAt > since && s.failedAt === undefined) return true;
      return false;
    },

    /** Round 1: deal this party's own inputs. */
    async deal(sessionId: string, body: Record<string, unknown>, caller: string) {
      pads?.touch();
      const circuit = typeof body.circuit === 'string' ? circuits.get(body.circuit) : undefined;
      if (!circuit) {
        throw new ValidationError(
          'CIRCUIT_INVALID',
          `body.circuit: ${displayValue(body.circuit)} is not a circuit this party runs`,
          ['body.circuit'],
        );
      }
      if (body.circuit_digest !== circuit.digestHex) {
        throw new ValidationError(
          'CIRCUIT_INVALID',
          `body.circuit_digest: this party runs ${circuit.id} ${circuit.digestHex}`,
          ['body.circuit_digest'],
        );
      }
      if (sessions.has(sessionId)) throw dealtAlready(sessionId);
      const session = openAggregationSession(suite, roster, circuit, sessionId);
      const specs = inputSpecsOf(circuit, self);
      const names = specs.map((s) => s.name);
      let values = new Map<string, bigint | bigint[]>();
      let subject: RiskSubject | undefined;
      let subjectMark: string | undefined;
      /** Who signed the sealed input dealt (null: an unsigned box); undefined: no sealed input. */
      let inputSigner: string | null | undefined;
      if (body.input !== undefined && circuit.id === POOLED_RISK_CIRCUIT) {
        // The gateway must not choose a department's pooled-risk input: it only names the subject.
        throw new AapsError(
          'FORBIDDEN',
          `body.input: ${POOLED_RISK_CIRCUIT} takes no caller-supplied input (send derive)`,
          { details: { field: 'body.input', circuit: circuit.id } },
        );
      }
      if (body.derive !== undefined) {
        // Pooled risk: the party computes its own department score from the subject it is shown.
        if (body.input !== undefined) {
          throw new ValidationError('INVALID_ARGUMENT', 'body: either input or derive, not both', [
            'body.derive',
          ]);
        }
        if (circuit.id !== POOLED_RISK_CIRCUIT) {
          throw new ValidationError('INVALID_ARGUMENT', `body.derive: only for ${POOLED_RISK_CIRCUIT}`, [
            'body.derive',
          ]);
        }
        subject = parseRiskSubject(body.derive, 'body.derive');
        subjectMark = riskSubjectDigest(subject);
        // Scored on this party's own view of the namespace when heavier than the declared one;
        // the subject (and its digest, which every dealer must share) stays as shown.
        const factors = scoredFactors(deps.policy, subject);
        if (factors.environment !== subject.factors.environment) {
          deps.logger.info('agg.environment_raised', {
            session: sessionId,
            namespace: subject.namespace,
            declared: subject.factors.environment,
            scored: factors.environment,
          });
        }
        if (names.length === 1) {
          const score = departmentRiskScore(deps.policy.risk, subject.action, factors);
          values = new Map([[names[0]!, BigInt(score)]]);
        } else if (names.length > 1) {
          throw new ValidationError('INVALID_ARGUMENT', `body.derive: ${self.role} provides several inputs`, [
            'body.derive',
          ]);
        }
      } else if (names.length > 0 && circuit.id === POOLED_RISK_CIRCUIT) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `body.derive: ${self.role} derives its own ${names.join(', ')} from a subject`,
          ['body.derive'],
        );
      } else if (names.length > 0) {
        subjectMark = SEALED_INPUT_SUBJECT;
        if (typeof body.input !== 'string') {
          throw new ValidationError(
            'INVALID_ARGUMENT',
            `body.input: ${self.role} provides ${names.join(', ')}`,
            ['body.input'],
          );
        }
        const plain = openSealed(
          deps.identity,
          body.input,
          inputAad(sessionId, caller, self.id, rosterDigest),
          'body.input',
        );
        let read: JsonReading;
        try {
          read = parseJsonRefusingRepeats(new TextDecoder().decode(plain));
        } finally {
          plain.fill(0);
        }
        if ('notJson' in read)
          throw new ValidationError('DECODE_FAILED', 'body.input: not JSON', ['body.input'], {
            cause: read.notJson,
          });
        // A key given twice: JSON.parse kept the last, a reader that keeps the first (the
        // department's own tools, a person) would see other values or another statement.
        if ('repeated' in read)
          throw new ValidationError('DECODE_FAILED', `body.input: ${read.repeated.problem}`, ['body.input']);
        const parsed = read.value;
        // Signed by a key the department lists, for this round (when its policy lists any).
        let opened: OpenedInput;
        try {
          opened = readInputBox(
            parsed,
            { session: sessionId, party: self.id, roster: rosterDigest, circuit: circuit.digestHex },
            deps.policy.aggregation?.input_signers,
          );
        } catch (e) {
          if (e instanceof VerificationError && e.code === 'INPUT_UNAUTHENTICATED') {
            deps.logger.warn('agg.input_refused', {
              session: sessionId,
              circuit: circuit.id,
              check: e.check,
              ...(typeof e.details['signer'] === 'string' ? { signer: e.details['signer'] } : {}),
            });
          }
          throw e;
        }
        inputSigner = opened.signer ?? null;
        const given = opened.values;
        const provided = new Set(names);
        for (const k of Object.keys(given)) {
          if (!provided.has(k)) {
            throw new AapsError(
              'FORBIDDEN',
              `input ${k}: role ${self.role} is not its provider in ${circuit.id}`,
              {
                details: { input: k },
              },
            );
          }
        }
        values = new Map();
        for (const spec of specs) {
          const field = `input.${spec.name}`;
          const raw = given[spec.name];
          if (spec.length > 1 && (!Array.isArray(raw) || raw.length !== spec.length)) {
            throw new ValidationError('INVALID_ARGUMENT', `${field}: expected ${spec.length} integers`, [
              field,
            ]);
          }
          const elements =
            spec.length === 1
              ? [parseValue(raw, field)]
              : (raw as unknown[]).map((e, i) => parseValue(e, `${field}[${i}]`));
          if (elements.some((e) => e < spec.min || e > spec.max)) {
            throw new ValidationError('INVALID_ARGUMENT', `${field}: outside [${spec.min}, ${spec.max}]`, [
              field,
            ]);
          }
          values.set(spec.name, spec.length === 1 ? elements[0]! : elements);
        }
      } else if (body.input !== undefined) {
        throw new AapsError('FORBIDDEN', `role ${self.role} provides no input to ${circuit.id}`);
      }
      // One dealing per session id, ever (within the retention window): recorded before dealing,
      // with (in the same write) who authored the input this party deals, never the value.
      const now = deps.now?.() ?? new Date();
      const fresh = await deps.store.claimAggregationSession(
        sessionId,
        now,
        new Date(now.getTime() - DEALT_SESSION_RETENTION_MS),
        inputSigner === undefined
          ? undefined
          : {
              at: now.toISOString(),
              event: 'agg.input',
              session: sessionId,
              detail: { circuit: circuit.id, circuit_digest: circuit.digestHex, signer: inputSigner },
            },
      );
      if (!fresh || sessions.has(sessionId)) throw dealtAlready(sessionId);
      // Bulk dealings draw six scalars per input: one system call per 64 KiB instead of per scalar.
      const pool = rng ? undefined : new RandomPool();
      const dealings: InputDealing[] = dealInputs(
        session,
        { dealer: myId, values: names.map((input) => ({ input, value: values.get(input)! })) },
        rng ?? pool!.rng,
        pads ? { padFor: (length) => pads.take(length) } : {},
      );
      pool?.wipe();
      values.clear();
      sessions.set(sessionId, {
        startedAt: Date.now(),
        session,
        ...(subject ? { subject } : {}),
        ...(subjectMark ? { subjectMark } : {}),
      });
      expireLater(expiries.sessions, sessionId, dropSession);
      deps.logger.info('agg.dealt', {
        session: sessionId,
        circuit: circuit.id,
        inputs: dealings.length,
        ...(inputSigner === undefined ? {} : { input_signer: inputSigner }),
      });
      if (dealings.length === 0) return { dealing: null, sealed: [] };
      const payload = encodeDealerPayload({
        session: sessionId,
        circuitDigestHex: circuit.digestHex,
        rosterDigest,
        dealer: self.id,
        subject: subjectMark!,
        dealings,
      });
      const kept = new Map<string, SecretBytes>();
      const sealed = roster.parties.map((receiver) => {
        const rid = frostIdentifier(roster, receiver);
        const shares = dealings.map((d) => d.shares[rid]!);
        // Kept for the complaint step (agg.reveal): what this receiver's box holds.
        if (receiver.id !== self.id) {
          const plain = concatBytes(...shares.flatMap((s) => [s.share.expose(), s.blinding.expose()]));
          kept.set(receiver.id, new SecretBytes(plain));
          plain.fill(0);
        }
        const item = sealShares({
          identity: deps.identity,
          channels,
          session: sessionId,
          dealer: self.id,
          receiver,
          rosterDigest,
          payload,
          shares,
          ...(rng ? { rng } : {}),
        });
        for (const s of shares) {
          s.share.wipe();
          s.blinding.wipe();
        }
        return item;
      });
      forgetRevealable();
      revealable.set(sessionId, {
        startedAt: Date.now(),
        payloadDigest: sha256(utf8(payload)),
        shares: kept,
      });
      expireLater(expiries.revealable, sessionId, dropRevealable);
      return { dealing: signDealerPayload(deps.identity, payload), sealed };
    },

    /**
     * The complaint step: reveal to the coordinator the shares this party dealt in `sessionId` to
     * the receivers `body.receivers` names (party ids), each signed ({@link RevealedShares}) and
     * each only against that receiver's own signed request in `body.requests` ({@link
     * signRevealRequest}: the coordinator's word is not enough), so
     * the coordinator can check them against this party's commitments and relay them to receivers
     * whose box from this party did not open. Never for this party itself, and never for t or more
     * receivers of one session in all (counted across calls and kept in the store, so a restart
     * does not reset it: t shares would open every input this party dealt). `NOT_FOUND` when this
     * party no longer holds the shares (restarted or expired: they are kept in memory only).
     */
    async reveal(sessionId: string, body: Record<string, unknown>) {
      const receivers = body.receivers;
      if (
        !Array.isArray(receivers) ||
        receivers.length === 0 ||
        receivers.some((r) => typeof r !== 'string' || partyById(roster, r) === undefined || r === self.id) ||
        new Set(receivers).size !== receivers.length
      ) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          'body.receivers: expected distinct roster party ids other than this party',
          ['body.receivers'],
        );
      }
      const requests = body.requests as Record<string, unknown> | undefined;
      if (revealing.has(sessionId)) {
        throw new AapsError('CONFLICT', `aggregation ${sessionId}: a reveal is under way here`);
      }
      revealing.add(sessionId);
      try {
        const before = await deps.store.aggregationReveals(sessionId);
        const all = [...new Set([...before, ...(receivers as string[])])];
        const t = roster.threshold.min;
        if (all.length >= t) {
          deps.logger.warn('agg.reveal_refused', {
            session: sessionId,
            revealed: before.length,
            asked: receivers,
          });
          throw new AapsError(
            'FORBIDDEN',
            `aggregation ${sessionId}: revealing these shares would reveal ${all.length} receivers' shares, t = ${t} would open the input`,
            { details: { session: sessionId, revealed: before, asked: receivers, threshold: t } },
          );
        }
        forgetRevealable();
        const held = revealable.get(sessionId);
        if (!held) {
          throw new AapsError(
            'NOT_FOUND',
            `no shares of aggregation ${sessionId} kept here (restarted, expired or not dealt)`,
          );
        }
        // Only for receivers that asked, under their own signature: not on the coordinator's word.
        const unasked = (receivers as string[]).filter(
          (receiver) =>
            !revealRequestHolds({
              roster,
              session: sessionId,
              dealer: self.id,
              receiver,
              rosterDigest,
              payloadDigest: held.payloadDigest,
              sig: requests !== null && typeof requests === 'object' ? requests[receiver] : undefined,
            }),
        );
        if (unasked.length > 0) {
          throw new AapsError(
            'FORBIDDEN',
            `aggregation ${sessionId}: no signed reveal request from ${unasked.join(', ')}`,
            { details: { session: sessionId, field: 'body.requests', parties: unasked } },
          );
        }
        await deps.store.saveAggregationReveals(sessionId, all, deps.now?.() ?? new Date());
        deps.logger.warn('agg.revealed', { session: sessionId, receivers });
        return {
          revealed: (receivers as string[]).map((receiver) => {
            const plain = held.shares.get(receiver)!.expose();
            return signRevealedShares({
              identity: deps.identity,
              session: sessionId,
              dealer: self.id,
              receiver,
              rosterDigest,
              payloadDigest: held.payloadDigest,
              plain,
            });
          }),
        };
      } finally {
        revealing.delete(sessionId);
      }
    },

    /** Round 2: check every dealing, evaluate the circuit on this party's shares. */
    evaluate(sessionId: string, body: Record<string, unknown>) {
      pads?.touch();
      const state = take(sessionId);
      // Until it returns result shares (and drops the state), this evaluation counts as failed.
      state.failedAt = Date.now();
      const { session } = state;
      if (!Array.isArray(body.dealings)) {
        throw new ValidationError('INVALID_ARGUMENT', 'body.dealings: expected an array', ['body.dealings']);
      }
      const parsed = body.dealings.map((d, i) =>
        parseSignedDealing(ctxFor(session), d, `body.dealings[${i}]`, false),
      );
      // Every dealer must have dealt on what this party dealt on (the same subject, or all sealed
      // inputs). Each named its subject under its own signature: a difference means the
      // coordinator showed dealers different subjects, so no dealer is blamed.
      const expected = state.subjectMark ?? parsed[0]?.subject;
      const others = parsed.filter((p) => p.subject !== expected).map((p) => p.dealer.id);
      if (others.length > 0) {
        throw new ProtocolError(
          'INCONSISTENT_TRANSCRIPT',
          `aggregation ${sessionId}: dealers ${others.join(', ')} dealt on another subject than this party`,
          [],
          { details: { check: 'aggregation.subject', parties: others } },
        );
      }
      const { excluded, revealed } = readSecondRound(parsed, body);
      for (const d of excluded) {
        const p = parsed.find((x) => x.dealer.id === d)!;
        if (
          !exclusionJustified({
            state,
            roster,
            sessionId,
            rosterDigest,
            dealing: p,
            proofs: body.exclusion_proofs,
          })
        )
          throw new AapsError(
            'FORBIDDEN',
            `body.excluded: nothing shows that ${d} failed in ${sessionId} (its box opened here, and fewer than ${session.threshold} receivers signed a request for its shares): excluding a dealer on the coordinator's word would let it read the others' inputs`,
            { details: { party: d, check: 'aggregation.exclusion' } },
          );
      }
      const boxes = new Map<string, SealedShares[]>();
      if (!Array.isArray(body.shares)) {
        throw new ValidationError('INVALID_ARGUMENT', 'body.shares: expected an array', ['body.shares']);
      }
      for (const item of body.shares as Partial<SealedShares>[]) {
        if (typeof item?.party !== 'string' || typeof item.box !== 'string' || typeof item.sig !== 'string') {
          throw new ValidationError('INVALID_ARGUMENT', 'body.shares: expected {party, box, sig} items', [
            'body.shares',
          ]);
        }
        // Relayed: `party` names the dealer; as the dealer sent it, the box named this receiver.
        const list = boxes.get(item.party) ?? [];
        list.push({ party: self.id, box: item.box, sig: item.sig });
        boxes.set(item.party, list);
      }
      /** Dealers whose box opened to shares this party can prove wrong, with the box's key. */
      const complaints: { dealer: ParsedDealing; key: Uint8Array }[] = [];
      /** Dealers whose box did not open here, each with this party's signed reveal request. */
      const unopened: { dealer: ParsedDealing; request: string }[] = [];
      const keys = new Map<ParsedDealing, Uint8Array>();
      const full: InputDealing[] = parsed.flatMap((p) => {
        const dealerId = frostIdentifier(roster, p.dealer);
        // An excluded dealer's inputs take the circuit's substitutes: its shares are not used.
        if (excluded.includes(p.dealer.id)) return [];
        const shown = revealed.get(p.dealer.id);
        if (shown !== undefined) {
          // Its shares revealed by the dealer (signed by it for this party), in place of the box;
          // checked against its commitments below like any box's.
          const plain = openRevealedShares({
            sessionId,
            rosterDigest,
            dealing: p,
            receiver: self.id,
            item: shown,
          });
          if (plain === undefined) {
            // The coordinator checked the dealer's signature before relaying: the relay.
            throw new ProtocolError(
              'INCONSISTENT_TRANSCRIPT',
              `the revealed shares from ${p.dealer.id} are not signed by it`,
              [],
              { details: { party: p.dealer.id } },
            );
          }
          const dealt = sharesOfBox(session, p, myId, plain);
          plain.fill(0);
          if (dealt === undefined) {
            throw new ProtocolError(
              'INVALID_DEALING',
              `the revealed shares from ${p.dealer.id} have the wrong length`,
              [dealerId],
              { details: { party: p.dealer.id } },
            );
          }
          return dealt;
        }
        const check = verifyShareBoxes({
          sessionId,
          roster,
          rosterDigest,
          dealer: p.dealer.id,
          payload: p.payload,
          payloadDigest: p.digest,
          sealed: boxes.get(p.dealer.id) ?? [],
          receivers: [self.id],
        });
        if (check.missing.length > 0 || check.duplicated.length > 0) {
          throw new ValidationError(
            'INVALID_ARGUMENT',
            `body.shares: not exactly one box from ${p.dealer.id}`,
            ['body.shares'],
          );
        }
        const sealed = check.boxes.get(self.id);
        if (!sealed) {
          // The coordinator checked the dealer's signed boxes when it received them: the relay.
          throw new ProtocolError(
            'INCONSISTENT_TRANSCRIPT',
            `the shares from ${p.dealer.id} are not signed by it`,
            [],
            { details: { party: p.dealer.id } },
          );
        }
        const { key, aad } = receivedBoxKey(channels, sessionId, rosterDigest, p);
        const plain = openShareBox(key, sealed, aad);
        if (plain === undefined) {
          // A claim only: nobody but the two parties can tell a box sealed wrong from a wrong key.
          // With it goes this party's signed request that the dealer reveal these shares.
          unopened.push({
            dealer: p,
            request: signRevealRequest({
              identity: deps.identity,
              session: sessionId,
              dealer: p.dealer.id,
              receiver: self.id,
              rosterDigest,
              payloadDigest: p.digest,
            }),
          });
          return [];
        }
        const dealt = sharesOfBox(session, p, myId, plain);
        plain.fill(0);
        if (dealt === undefined) {
          complaints.push({ dealer: p, key });
          return [];
        }
        keys.set(p, key);
        return dealt;
      });
      state.failedDealers ??= new Set();
      const failedHere = state.failedDealers;
      for (const u of unopened) failedHere.add(u.dealer.dealer.id);
      for (const c of complaints) failedHere.add(c.dealer.dealer.id);
      if (unopened.length > 0) {
        const dealers = unopened.map((u) => u.dealer.dealer.id);
        throw new ProtocolError(
          'INVALID_DEALING',
          `the shares from ${dealers.join(', ')} do not open`,
          unopened.map((u) => frostIdentifier(roster, u.dealer.dealer)),
          {
            details: {
              party: dealers[0],
              reveal_requests: Object.fromEntries(unopened.map((u) => [u.dealer.dealer.id, u.request])),
            },
          },
        );
      }
      const excludedIds = excluded.map((id) => frostIdentifier(roster, partyById(roster, id)!));
      const digestOfDealings = dealingsDigest(roster, parsed, excluded);
      // This party's own dealing came back under its own signature (parseSignedDealing): its range
      // proofs are the ones it made, so only the other dealers' proofs are checked.
      let verified!: ReturnType<typeof verifyDealings>;
      try {
        verified = verifyDealings(session, full, myId, rng ?? defaultRng, { ownProofsTrusted: true });
      } catch (e) {
        // Any proven fault (a share, a range proof, a bad scalar): complaints about the dealers
        // whose public dealing checks out go out all the same, so a second cheater is not hidden
        // behind a public failure the coordinator finds itself.
        if (!(e instanceof ProtocolError)) throw e;
        // A dealer whose public dealing checks out but whose shares here do not: this party alone
        // can show it, by revealing the box's key. (A public failure the coordinator finds itself.)
        for (const p of parsed) {
          const key = keys.get(p);
          if (
            key !== undefined &&
            e.culprits.includes(frostIdentifier(roster, p.dealer)) &&
            publicCheckFailure(session, p) === undefined
          )
            complaints.push({ dealer: p, key });
        }
        if (complaints.length === 0) throw e;
      }
      for (const c of complaints) failedHere.add(c.dealer.dealer.id);
      if (complaints.length > 0) {
        // Signed with the answer: the coordinator judges each (judgeShareComplaint) and names the
        // dealer or, for a false complaint, this party.
        deps.logger.warn('agg.complained', {
          session: sessionId,
          dealers: complaints.map((c) => c.dealer.dealer.id),
        });
        return {
          complaints: complaints.map(
            (c): ShareComplaint => ({ dealer: c.dealer.dealer.id, key: base64Encode(c.key) }),
          ),
          dealings_digest: digestOfDealings,
        };
      }
      // Every circuit input must be dealt exactly once (evaluateShares checks; fail early and clearly).
      const expectedInputs = session.circuit.inputs.filter(
        (inp) => !excluded.some((id) => partyById(roster, id)!.role === inp.role),
      ).length;
      if (full.length !== expectedInputs) {
        throw new ValidationError('INVALID_ARGUMENT', 'body.dealings: not one dealing per circuit input', [
          'body.dealings',
        ]);
      }
      const shares = evaluateShares(session, myId, verified, { excluded: excludedIds });
      // Result shares go out once per session: a second set over other exclusions would tell the
      // coordinator this party's share of the excluded dealer's input (their difference).
      dropSession(sessionId);
      for (const [k, e] of evaluated) if (Date.now() - e.evaluatedAt > TTL_MS) evaluated.delete(k);
      evaluated.set(sessionId, {
        evaluatedAt: Date.now(),
        session,
        proofs: verifiedProofs(session, full),
        excluded: excludedIds,
        ...(state.subject ? { subject: state.subject } : {}),
      });
      deps.logger.info('agg.evaluated', {
        session: sessionId,
        circuit: session.circuit.id,
        dealings: full.length,
        outputs: shares.length,
      });
      return {
        result_shares: resultSharesToWire(shares),
        dealings_digest: digestOfDealings,
        ...(excluded.length > 0 ? { excluded } : {}),
      };
    },

    /**
     * Round 3 (optional): the coordinator shows the opened record of a session this party
     * evaluated. The party checks it offline (`verifyAggregation` against its own circuit) and that
     * its inputs are the commitments this party verified, then remembers the session's digest and
     * pooled value, so a proposal citing it can be checked (`verifyAggregationRef`).
     */
    async confirm(sessionId: string, body: Record<string, unknown>) {
      pads?.touch();
      const state = evaluated.get(sessionId);
      if (!state) throw new AapsError('NOT_FOUND', `no aggregation ${sessionId} evaluated here`);
      // One confirmation at a time per session (the round stays evaluated until one is kept).
      if (confirming.has(sessionId))
        throw new AapsError('CONFLICT', `aggregation ${sessionId} is being confirmed here`);
      confirming.add(sessionId);
      try {
        return await confirmEvaluated(sessionId, state, body);
      } finally {
        confirming.delete(sessionId);
      }
    },
  };

  async function confirmEvaluated(
    sessionId: string,
    state: EvaluatedState,
    body: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    if (typeof body.record !== 'string') {
      throw new ValidationError('INVALID_ARGUMENT', 'body.record: expected the record JSON text', [
        'body.record',
      ]);
    }
    const { session } = state;
    // Every range proof it verified before it evaluated (and its own) is taken as verified when
    // the record carries the same bytes for the same session; the opening is checked in full.
    const checked = verifyAggregation(body.record, {
      circuit: session.circuit,
      suite,
      verified: state.proofs,
    });
    const record = decodeAggregationRecordJson(body.record);
    // The record's inputs are those this party evaluated (circuit order, the excluded dealers' left
    // out), with the commitments it verified, and it excludes exactly the dealers it excluded.
    const recordExcluded = (record.excluded ?? []).map((x) => x.provider);
    const dealt = session.circuit.inputs
      .map((inp, i) => ({ inp, i }))
      .filter(({ i }) => !state.excluded.includes(session.providers[i]!));
    // The session fields too: a record without range proofs binds them only through what the
    // parties confirm (its opening involves commitments, values and blindings alone), so another
    // threshold or renamed parties would verify offline and be confirmed under this digest.
    const same =
      checked.sessionId === sessionId &&
      record.threshold === session.threshold &&
      record.parties.length === session.parties.length &&
      record.parties.every(
        (p, i) => p.id === session.parties[i]!.id && p.role === session.parties[i]!.role,
      ) &&
      recordExcluded.length === state.excluded.length &&
      recordExcluded.every((id) => state.excluded.includes(id)) &&
      record.inputs.length === dealt.length &&
      record.inputs.every(
        (inp, k) =>
          dealt[k]!.inp.name === inp.name &&
          equalBytes(state.proofs.inputs[dealt[k]!.i]!.commitment, inp.commitment),
      );
    if (!same) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `the record of ${sessionId} is not what was evaluated`,
        [],
      );
    }
    const digest = bytesToHex(checked.digest);
    const out: Record<string, unknown> = {
      digest,
      outputs: checked.outputs.map((o) => ({ name: o.name, value: outputValueText(o.value) })),
    };
    const value = pooledRiskOf(session.circuit, checked.outputs);
    if (value !== undefined) {
      await ledger?.remember(sessionId, {
        circuit: session.circuit.id,
        digest,
        value,
        ...(state.subject ? { subject: state.subject } : {}),
      });
      out.value = value;
    }
    // Forgotten only once its confirmation is kept: a failed write leaves the round to confirm again.
    evaluated.delete(sessionId);
    await deps.store.audit({
      at: (deps.now?.() ?? new Date()).toISOString(),
      event: 'agg.confirmed',
      session: sessionId,
      detail: {
        circuit: session.circuit.id,
        digest,
        ...(out.value === undefined ? {} : { value: out.value }),
      },
    });
    deps.logger.info('agg.confirmed', { session: sessionId, circuit: session.circuit.id });
    return out;
  }
}

/**
 * The second-round fields of an `agg.evaluate` request: `excluded` (party ids of dealers whose
 * inputs take the circuit's substitutes) and `revealed` (dealer-signed shares the coordinator
 * relays in place of a box that did not open, `party` = the dealer). Each names a dealer of the
 * round once; a dealer is not both. (Whether the circuit can exclude a dealer is checked by the
 * evaluation itself: `CIRCUIT_INVALID`.)
 */
function readSecondRound(
  parsed: readonly ParsedDealing[],
  body: Record<string, unknown>,
): { excluded: string[]; revealed: Map<string, unknown> } {
  const dealers = new Set(parsed.map((p) => p.dealer.id));
  const excluded: string[] = [];
  if (body.excluded !== undefined) {
    if (
      !Array.isArray(body.excluded) ||
      body.excluded.some((d) => typeof d !== 'string' || !dealers.has(d)) ||
      new Set(body.excluded).size !== body.excluded.length
    ) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        'body.excluded: expected distinct dealers of this round',
        ['body.excluded'],
      );
    }
    excluded.push(...(body.excluded as string[]));
  }
  const revealed = new Map<string, unknown>();
  if (body.revealed !== undefined) {
    if (!Array.isArray(body.revealed)) {
      throw new ValidationError('INVALID_ARGUMENT', 'body.revealed: expected an array', ['body.revealed']);
    }
    for (const item of body.revealed as Partial<RevealedShares>[]) {
      const dealer = item?.party;
      if (
        typeof dealer !== 'string' ||
        !dealers.has(dealer) ||
        revealed.has(dealer) ||
        excluded.includes(dealer)
      ) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          'body.revealed: expected {party, shares, sig} items, one per dealer of this round not excluded',
          ['body.revealed'],
        );
      }
      revealed.set(dealer, item);
    }
  }
  return { excluded, revealed };
}

/**
 * Whether this party may evaluate without `dealing`'s dealer: it saw the dealer fail itself (a box
 * that did not open here, or opened to refuted shares), or `proofs[dealer]` holds at least t
 * distinct receivers' signed reveal requests for the dealer's shares in this session. Under the
 * honest-majority assumption (at most t - 1 faulty parties) t requests include an honest
 * receiver's, whose box really failed. Anything less is the coordinator's word, and a coordinator
 * that could exclude dealers at will would read an honest department's input from the opened
 * result (exclude all but one; or two rounds on one subject, with and without it).
 */
function exclusionJustified(args: {
  state: AggregationState;
  roster: Roster;
  sessionId: string;
  rosterDigest: string;
  dealing: ParsedDealing;
  proofs: unknown;
}): boolean {
  const dealer = args.dealing.dealer.id;
  if (args.state.failedDealers?.has(dealer) === true) return true;
  const all = args.proofs;
  const mine = isPlainRecord(all) && Object.hasOwn(all, dealer) ? all[dealer] : undefined;
  if (!isPlainRecord(mine)) return false;
  let holding = 0;
  for (const [receiver, sig] of Object.entries(mine)) {
    if (receiver === dealer) continue;
    if (
      revealRequestHolds({
        roster: args.roster,
        session: args.sessionId,
        dealer,
        receiver,
        rosterDigest: args.rosterDigest,
        payloadDigest: args.dealing.digest,
        sig,
      })
    )
      holding++;
  }
  return holding >= args.state.session.threshold;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The refusal of a second dealing under one session id. */
function dealtAlready(sessionId: string): AapsError {
  return new AapsError('CONFLICT', `aggregation ${sessionId} was already dealt here`, {
    details: { session: sessionId },
  });
}

/** Each input's `C_0` and range proof as dealt, in circuit input order, for {@link verifyAggregation}. */
function verifiedProofs(
  session: AggregationSession<unknown>,
  dealings: readonly InputDealing[],
): VerifiedProofs {
  const inputs: VerifiedProofs['inputs'][number][] = session.circuit.inputs.map(() => ({
    commitment: new Uint8Array(0),
    rangeProof: null,
  }));
  for (const d of dealings)
    inputs[session.inputIndex.get(d.input)!] = { commitment: d.commitments[0]!, rangeProof: d.rangeProof };
  return { sessionDigest: session.digest, inputs };
}

/** Random bytes drawn from `node:crypto` in 64 KiB blocks; every byte handed out is zeroed in the block. */
class RandomPool {
  readonly #block = new Uint8Array(65536);
  #at = this.#block.length;
  readonly rng = (n: number): Uint8Array => {
    if (n > 4096) return defaultRng(n);
    if (this.#at + n > this.#block.length) {
      // Refilled in place: the bytes not handed out are overwritten, not left in a dropped copy.
      randomFillSync(this.#block);
      this.#at = 0;
    }
    const out = this.#block.slice(this.#at, this.#at + n);
    this.#block.fill(0, this.#at, this.#at + n);
    this.#at += n;
    return out;
  };
  wipe(): void {
    this.#block.fill(0);
  }
}

/** Random bytes from `node:crypto`, for parts given no `rng`. */
export function defaultRng(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}
