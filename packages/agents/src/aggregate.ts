/**
 * The coordinator side of secret-shared aggregation over HTTP (the party side is
 * `party/routes/aggregation.ts`):
 *
 *  1. `agg.deal` to every party, with the party's own input values sealed to its X25519 key: either
 *     a box its department signed and sealed itself (`sealedInputs`, `sealSignedInput`), which the
 *     coordinator relays and cannot open, or plaintext `inputs` the coordinator seals unsigned
 *     (refused by a party whose policy lists `aggregation.input_signers`).
 *  2. The coordinator checks every dealer's signature and payload (naming bad dealers), then relays
 *     to each party every public dealing and the sealed share boxes addressed to it (which it cannot
 *     read).
 *  3. `agg.evaluate` on every party: each checks every dealing and its shares, refuses bad dealers,
 *     evaluates the circuit and returns its result shares.
 *  4. The coordinator opens each output from t result shares, each checked against the combined
 *     commitments (on a failure every share is checked, liars are named and skipped), and builds
 *     the `AggregationRecord` that anyone verifies offline with `verifyAggregation`.
 *
 * Blame (frost-core's rule: cheaters are named only when proven). A party's error body is not
 * signed, so the parties it names are a claim (`details.claimed_culprits`), never culprits. In
 * round 1 a party whose own `agg.deal` fails, or whose signed answer does not check (its dealing,
 * or its share boxes: exactly one per receiver, each signed by it), is the culprit; so a
 * receiver's `INCONSISTENT_TRANSCRIPT` over a box later means the relay changed it. In round 2 a
 * party that fails or accuses is left out (`AggregationOutcome.leftOut`) and the outputs open from
 * the others while at least t of them agree on the dealings; a party that signs an answer without
 * exactly one result share per circuit output is named and left out, and does not count toward t;
 * below t the run fails naming only what the coordinator proves itself (a signed dealing that
 * fails the public checks, a signed answer over other dealings or without its result shares),
 * with the accusations and accusers listed apart. A receiver's signed complaint (a box that opens
 * to shares its dealer's commitments refute, with that box's key) is judged here: it names the
 * dealer, or, when it does not hold up, the receiver.
 *
 * Then the complaint step (`aggregate-reveal.ts`): a dealer that fewer than t receivers claimed
 * against reveals their shares (`agg.reveal`) and they evaluate again with them; a dealer that will
 * not, reveals refuted shares, or that t or more claim against is excluded when the round cannot
 * open otherwise and the circuit gives its inputs public substitutes: the parties that have sent
 * no result shares evaluate with the substitutes, and the record (v2) lists the exclusion.
 */
import {
  AapsError,
  type AggregationRecord,
  type AggregationSession,
  aggregationDigest,
  base64Decode,
  buildAggregationRecord,
  bytesToHex,
  type Circuit,
  type ErrorCode,
  type Exclusion,
  type ExclusionReason,
  encodeAggregationRecordJson,
  getCiphersuite,
  type Identifier,
  type OpenedResult,
  type OutputValue,
  openResult,
  ProtocolError,
  type PublicInputDealing,
  precheckOpening,
  type ResultShare,
  type Rng,
  utf8,
  ValidationError,
} from '@aaps/mpc-core';
import { type AggregationInputs, sealedValuesFor } from './aggregate-input.js';
import { type ReceiverClaim, type RevealEntry, type RevealPlan, runRevealStep } from './aggregate-reveal.js';
import type { PartyClient } from './client.js';
import { partyIdsOf } from './coordinate.js';
import { namedFields } from './http-errors.js';
import { parseRiskSubject, pooledRiskOf, riskSubjectDigest } from './party/pooled-risk.js';
import {
  type CircuitCatalog,
  dealingsDigest,
  defaultRng,
  inputAad,
  inputSpecsOf,
  judgeShareComplaint,
  openAggregationSession,
  type ParsedDealing,
  parseSignedDealing,
  publicCheckFailure,
  readCircuitCatalog,
  resultSharesFromWire,
  SEALED_INPUT_SUBJECT,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type ShareComplaint,
  type SignedDealing,
  sealToParty,
  verifyShareBoxes,
  type WireResultShare,
} from './party/routes/aggregation.js';
import {
  frostIdentifier,
  partyById,
  partyByIdentifier,
  type Roster,
  type RosterParty,
  rosterDigest,
} from './roster.js';

export interface AggregationRunOptions {
  circuitId: string;
  /** The aggregation session id (`[A-Za-z0-9._:-]{1,128}`), bound into every proof. */
  sessionId: string;
  /**
   * Providing parties' inputs, by party id, in plaintext: the coordinator seals each to its party
   * unsigned, so a party whose policy lists `aggregation.input_signers` refuses it.
   */
  inputs?: Readonly<Record<string, AggregationInputs>>;
  /**
   * Boxes departments sealed themselves (`sealSignedInput`), by party id, relayed as they are: the
   * coordinator reads neither their values nor their signatures. A party is in `inputs` or here,
   * not both.
   */
  sealedInputs?: Readonly<Record<string, string>>;
  /**
   * A subject each providing party without `inputs` derives its own input from (pooled risk: a
   * `RiskSubject`); the coordinator never learns those inputs.
   */
  derive?: unknown;
  /**
   * After opening, show every party the record (`agg.confirm`): each checks it and remembers the
   * session's digest and value, so a proposal citing it can be verified. Default false.
   */
  confirm?: boolean;
  /** The circuits the coordinator trusts (default: the shipped ones, `SHIPPED_CIRCUITS_DIR`). */
  circuits?: CircuitCatalog;
  /** The identity the calls are made under (the client's caller id; default `gateway`). */
  callerId?: string;
  traceId?: string;
  rng?: Rng;
  /**
   * Per-call timeout of the `agg.deal`, `agg.evaluate` and `agg.confirm` calls, in ms. Default: the client's,
   * plus 1 ms per share element of the circuit (every party deals and checks every element: five
   * 16,384-element vectors get 92 s with the client's default 10 s).
   */
  timeoutMs?: number;
}

/** The default per-call timeout of an aggregation round (see {@link AggregationRunOptions.timeoutMs}). */
export function aggregationTimeoutMs(circuit: Circuit, clientTimeoutMs: number): number {
  let elements = 0;
  for (const input of circuit.inputs) elements += input.length;
  return clientTimeoutMs + elements;
}

export interface AggregationOutcome {
  /** Each output's opened value, by name (in units of its scale; a vector output's elements). */
  result: Record<string, OutputValue>;
  outputs: { name: string; value: OutputValue; scale: number }[];
  record: AggregationRecord;
  /** `aggregationDigest(record)`, hex: bind it into what the parties sign. */
  digest: string;
  /**
   * Parties proven to have misbehaved, left out of the opening: result shares that failed the check
   * against the commitments, a signed answer without exactly one result share per output, or a
   * signed answer over other dealings than those relayed.
   */
  culprits: string[];
  /**
   * Evaluators whose `agg.evaluate` failed, left out while at least t others agreed: each with its
   * code and the parties its error body named (`claimedCulprits`: unsigned, unverified, nobody is
   * blamed on it). A signed answer without exactly one result share per output is here too (code
   * `INVALID_OPENING`), and its party in `culprits`.
   */
  leftOut: { party: string; code: ErrorCode; claimedCulprits: string[] }[];
  /** The parties whose result shares opened the outputs. */
  openers: string[];
  /**
   * Complaints evaluators signed about a dealer's shares, each judged: the dealer or the complaining
   * receiver is proven to have cheated (and is in `culprits`); the receiver is in `leftOut`.
   */
  complaints?: JudgedComplaint[];
  /** The complaint step, when receivers claimed against dealers: each dealer's outcome. */
  reveals?: RevealEntry[];
  /**
   * Dealers excluded from the round (record v2 `excluded`): their inputs took the circuit's public
   * substitutes (for pooled risk: 100, the range maximum), so the opened value is not the circuit
   * on every party's own input. A decision citing the value must say so.
   */
  excluded?: { party: string; reason: ExclusionReason; inputs: { name: string; value: string }[] }[];
  /** With `confirm`: the parties that checked and remembered the record. */
  confirmed?: string[];
  /** For the pooled-risk circuit: the pooled score (the weighted mean, rounded up; 0..100). */
  pooledRisk?: number;
}

/** Dealings whose commitments the coordinator decodes between two turns of the event loop. */
const PRECHECK_SLICE = 250;

let shipped: CircuitCatalog | undefined;

/** The shipped circuits (`SHIPPED_CIRCUITS_DIR`), read once. */
function shippedCircuits(): CircuitCatalog {
  shipped ??= readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
  return shipped;
}

/**
 * A party whose call failed, or whose answer the coordinator refused, with the error. `signed`:
 * the failure was found in the party's own signed answer (proof against it); a failed call's error
 * body is not signed (anything on the path could have sent it), so it proves nothing.
 */
interface PartyFailure {
  party: string;
  error: unknown;
  signed?: boolean;
}

/**
 * Codes that say a party did not answer, or not in time (it may be down, or its request arrived
 * slowly): worth trying again.
 */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT', 'REQUEST_TIMEOUT']);

function codeOf(error: unknown): ErrorCode {
  return error instanceof AapsError ? error.code : 'INTERNAL';
}

/**
 * The roster identifiers a failed call's error body named (`details.claimed_culprits`, set by the
 * client). The body is not signed, so this is a claim: it is reported, never blamed on.
 */
function claimedBy(roster: Roster, error: unknown): Identifier[] {
  const list = error instanceof AapsError ? error.details['claimed_culprits'] : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is Identifier => typeof c === 'string' && partyByIdentifier(roster, c) !== undefined,
  );
}

/**
 * Dealers that at least `threshold` distinct evaluators claim against (a share box that does not
 * open, a share its commitments refute). A claim is no proof, so these are not `culprits`; but the
 * protocol assumes at most t - 1 faulty parties, and then t claimants include an honest one whose
 * box from that dealer really failed (no relay can have spoiled it: every box is signed by its
 * dealer and checked by the coordinator before it is relayed). So a dealer who spoils the boxes of
 * so many receivers that fewer than t can evaluate is named (`details.named_by_claims`), not left
 * as a stall that names nobody; fewer claimants name nobody (and then t others can evaluate, so the
 * round opens without them). t colluding parties could name an honest dealer this way, as they
 * could sign anything: that is the trust the threshold expresses.
 */
function namedByClaims(
  roster: Roster,
  failures: readonly PartyFailure[],
  threshold: number,
): { dealer: Identifier; accusers: string[] }[] {
  const accusersOf = new Map<Identifier, Set<string>>();
  for (const f of failures) {
    for (const dealer of claimedBy(roster, f.error)) {
      if (partyByIdentifier(roster, dealer)?.id === f.party) continue; // no one accuses itself
      accusersOf.set(dealer, (accusersOf.get(dealer) ?? new Set()).add(f.party));
    }
  }
  return [...accusersOf]
    .filter(([, accusers]) => accusers.size >= threshold)
    .map(([dealer, accusers]) => ({ dealer, accusers: [...accusers].sort() }));
}

/** The signed reveal requests a failed `agg.evaluate` carried (kept by the client), if any. */
function revealRequestsIn(error: unknown): { requests?: Record<string, string> } {
  const requests = error instanceof AapsError ? error.details['reveal_requests'] : undefined;
  return requests !== null && typeof requests === 'object' && !Array.isArray(requests)
    ? { requests: requests as Record<string, string> }
    : {};
}

function identifierOfParty(roster: Roster, id: string): Identifier {
  return frostIdentifier(roster, partyById(roster, id)!);
}

/** A failed run's `details.errors`: each failing party's code, fields and (unverified) claim. */
function errorEntries(roster: Roster, failures: readonly PartyFailure[]) {
  return failures.map(({ party, error }) => {
    const claimed = claimedBy(roster, error);
    return {
      party,
      code: codeOf(error),
      ...(error instanceof ValidationError || namedFields(error).length > 0
        ? { fields: namedFields(error) }
        : {}),
      ...(error instanceof AapsError && typeof error.details['check'] === 'string'
        ? { check: error.details['check'] }
        : {}),
      ...(claimed.length ? { claimed_culprits: claimed } : {}),
      ...(error instanceof ProtocolError && error.details['share_boxes']
        ? { share_boxes: error.details['share_boxes'] }
        : {}),
    };
  });
}

/**
 * Round 1 failures as one error. A party whose signed answer the coordinator refused (its dealing,
 * its share boxes, the subject it signed) is proven to have failed: it is a culprit. A failed call
 * blames nobody, whatever its error body says or names (an unsigned body proves nothing: its code
 * and claim are in `details.errors`): those that did not answer in time are listed in
 * `details.unavailable`, the others in `details.refused`. The code is the first proven failure's,
 * else the first refusal's, else the first failure's (so a run nobody answered can be tried again).
 */
function dealFailure(roster: Roster, failures: readonly PartyFailure[]): ProtocolError {
  const blamed = failures.filter((f) => f.signed === true);
  const unavailable = failures.filter((f) => f.signed !== true && TRANSIENT.has(codeOf(f.error)));
  const refused = failures.filter((f) => f.signed !== true && !TRANSIENT.has(codeOf(f.error)));
  const culprits = blamed.map((f) => identifierOfParty(roster, f.party));
  const first = (blamed[0] ?? refused[0] ?? failures[0]!).error;
  return new ProtocolError(
    codeOf(first),
    `aggregation refused at agg.deal: ${failures.map((f) => f.party).join(', ')}`,
    culprits,
    {
      cause: first,
      details: {
        round: 'deal',
        parties: blamed.map((f) => f.party),
        refused: refused.map((f) => f.party),
        unavailable: unavailable.map((f) => f.party),
        errors: errorEntries(roster, failures),
      },
    },
  );
}

/**
 * Dealers whose signed public dealing fails the public checks here (commitments decode strictly,
 * range proofs verify): proven, since the coordinator checks the very payload the dealer signed.
 * Run only when a round fails below t evaluators (about 35 ms per dealer of a 30-bit range proof).
 */
function provenBadDealers(
  session: AggregationSession<unknown>,
  parsed: readonly ParsedDealing[],
  roster: Roster,
): { culprits: Identifier[]; code: ErrorCode | undefined } {
  const culprits: Identifier[] = [];
  let code: ErrorCode | undefined;
  for (const p of parsed) {
    const failure = publicCheckFailure(session, p);
    if (failure === undefined) continue;
    culprits.push(frostIdentifier(roster, p.dealer));
    code ??= failure.code;
  }
  return { culprits, code };
}

/** A party's signed `agg.evaluate` answer: its result shares, or its complaints about dealers. */
type EvaluateAnswer =
  | { result_shares: WireResultShare[]; dealings_digest: string }
  | { complaints: unknown; dealings_digest: string };

/** A complaint judged: the party it proves to have cheated (`proven`: the dealer, or the receiver). */
export interface JudgedComplaint {
  receiver: string;
  dealer: string;
  proven: 'dealer' | 'receiver';
}

/** The parties judged complaints prove to have cheated: dealers whose shares they showed wrong, receivers that lied. */
function provenByComplaints(roster: Roster, complaints: readonly JudgedComplaint[]): Identifier[] {
  return complaints.map((c) => identifierOfParty(roster, c.proven === 'dealer' ? c.dealer : c.receiver));
}

/**
 * Judge the complaints in `receiver`'s signed answer ({@link judgeShareComplaint}). A complaint the
 * receiver signed that cannot be checked (malformed, about itself, an unknown dealer, repeated, a
 * key that is not 32 bytes) proves the receiver wrong, as one that does not hold up does; so does
 * an answer with no complaint in it.
 */
function judgeComplaints(
  session: AggregationSession<unknown>,
  sessionId: string,
  roster: Roster,
  digestOfRoster: string,
  parsed: readonly ParsedDealing[],
  signedBoxes: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>,
  receiver: RosterParty,
  complaints: unknown,
): JudgedComplaint[] {
  const lied = (dealer: unknown): JudgedComplaint => ({
    receiver: receiver.id,
    dealer: typeof dealer === 'string' ? dealer : '',
    proven: 'receiver',
  });
  if (!Array.isArray(complaints) || complaints.length === 0 || complaints.length > parsed.length)
    return [lied('')];
  const seen = new Set<string>();
  return complaints.map((c: Partial<ShareComplaint> | null): JudgedComplaint => {
    const dealing = parsed.find((d) => d.dealer.id === c?.dealer);
    const box = dealing && signedBoxes.get(dealing.dealer.id)?.get(receiver.id);
    if (
      !dealing ||
      !box ||
      dealing.dealer.id === receiver.id ||
      seen.has(dealing.dealer.id) ||
      typeof c?.key !== 'string'
    )
      return lied(c?.dealer);
    seen.add(dealing.dealer.id);
    let key: Uint8Array;
    try {
      key = base64Decode(c.key, 'key');
    } catch {
      return lied(c.dealer);
    }
    const proven = judgeShareComplaint({
      session,
      sessionId,
      roster,
      rosterDigest: digestOfRoster,
      dealing,
      receiver,
      box,
      key,
    });
    return { receiver: receiver.id, dealer: dealing.dealer.id, proven };
  });
}

/**
 * Why a signed `result_shares` does not carry exactly one result share per circuit output (not a
 * list, the wrong count, an entry naming no output of the circuit or one output twice), or
 * undefined when it does. The share bytes are not checked here: the opening checks them against
 * the commitments and names the party whose bytes fail.
 */
function resultSharesShapeFault(circuit: Circuit, wire: unknown): string | undefined {
  const n = circuit.outputs.length;
  if (!Array.isArray(wire)) return `no result shares (expected ${n})`;
  if (wire.length !== n) return `${wire.length} result shares (expected ${n}, one per output)`;
  const names = new Set(circuit.outputs.map((o) => o.name));
  const seen = new Set<string>();
  for (const w of wire as unknown[]) {
    const output = (w as { output?: unknown } | null)?.output;
    if (typeof output !== 'string' || !names.has(output))
      return 'a result share for no output of the circuit';
    if (seen.has(output)) return `two result shares for ${output}`;
    seen.add(output);
  }
  return undefined;
}

/** The evaluators proven by their own signed answer (a failure the coordinator found in it). */
function provenInSignedAnswers(roster: Roster, failures: readonly PartyFailure[]): Identifier[] {
  return failures.filter((f) => f.signed === true).map((f) => identifierOfParty(roster, f.party));
}

/**
 * Round 2 ended with fewer than t usable evaluators: one error. The culprits are only what is
 * proven (dealers whose signed dealing fails the public checks, evaluators that signed another
 * `dealings_digest` or an answer without one result share per output); what failing parties
 * claimed is listed apart (`details.claimed_culprits`, `details.accusers`), unverified. Code: the
 * proven fault's; else, when every failure was a party not answering, that code (worth trying
 * again); else `QUORUM_UNREACHABLE`.
 */
function evaluateFailure(
  roster: Roster,
  threshold: number,
  failures: readonly PartyFailure[],
  mismatched: readonly Identifier[],
  proven: { culprits: Identifier[]; code: ErrorCode | undefined },
  usable: readonly string[],
  complaints: readonly JudgedComplaint[],
  plan?: RevealPlan,
): ProtocolError {
  const byClaims = namedByClaims(roster, failures, threshold);
  const culprits = [
    ...new Set([
      ...proven.culprits,
      ...provenByComplaints(roster, complaints),
      ...(plan?.refuted ?? []).map((d) => identifierOfParty(roster, d)),
      ...mismatched,
      ...provenInSignedAnswers(roster, failures),
    ]),
  ];
  const accusers = failures.filter((f) => claimedBy(roster, f.error).length > 0).map((f) => f.party);
  const claimed = [...new Set(failures.flatMap((f) => claimedBy(roster, f.error)))];
  const allTransient =
    failures.length > 0 && mismatched.length === 0 && failures.every((f) => TRANSIENT.has(codeOf(f.error)));
  const badShares = [
    ...new Set([
      ...complaints.filter((c) => c.proven === 'dealer').map((c) => c.dealer),
      ...(plan?.refuted ?? []),
    ]),
  ];
  const code: ErrorCode =
    proven.code ??
    (badShares.length > 0 || byClaims.length > 0
      ? 'INVALID_DEALING'
      : allTransient
        ? codeOf(failures[0]!.error)
        : 'QUORUM_UNREACHABLE');
  const why = proven.code
    ? `dealings of ${partyIdsOf(roster, proven.culprits).join(', ')} fail the public checks`
    : badShares.length > 0
      ? `${badShares.join(', ')} dealt shares its commitments refute (shown by its receivers' complaints or its own reveal)`
      : byClaims.length > 0
        ? byClaims
            .map(
              (c) =>
                `${partyIdsOf(roster, [c.dealer]).join('')} dealt shares that ${c.accusers.length} evaluators could not use (${c.accusers.join(', ')}: at least t = ${threshold}, so at least one honest while fewer than t are faulty; a claim, not a proof)`,
            )
            .join('; ')
        : `${usable.length} of the ${threshold} evaluators needed answered with the expected dealings`;
  return new ProtocolError(code, `aggregation failed at agg.evaluate: ${why}`, culprits, {
    ...(failures[0] ? { cause: failures[0].error } : {}),
    details: {
      round: 'evaluate',
      parties: partyIdsOf(roster, culprits),
      evaluators: [...usable],
      unavailable: failures.filter((f) => TRANSIENT.has(codeOf(f.error))).map((f) => f.party),
      accusers,
      claimed_culprits: claimed,
      claimed_parties: partyIdsOf(roster, claimed),
      complaints: [...complaints],
      ...(plan && plan.entries.length > 0 ? { reveals: plan.entries } : {}),
      named_by_claims: byClaims.map((c) => ({
        dealer: partyIdsOf(roster, [c.dealer])[0],
        accusers: c.accusers,
      })),
      errors: errorEntries(roster, failures),
    },
  });
}

/** Run one aggregation across every roster party; see the module comment for the rounds. */
export async function runAggregationOverHttp(
  client: PartyClient,
  opts: AggregationRunOptions,
): Promise<AggregationOutcome> {
  const roster = client.roster;
  const suite = getCiphersuite(roster.ciphersuite);
  const digestOfRoster = rosterDigest(roster);
  const rng = opts.rng ?? defaultRng;
  const catalog = opts.circuits ?? shippedCircuits();
  const circuit: Circuit | undefined = catalog.get(opts.circuitId);
  if (!circuit) {
    throw new ValidationError('CIRCUIT_INVALID', `circuitId: unknown circuit ${opts.circuitId}`, [
      'circuitId',
    ]);
  }
  const session = openAggregationSession(suite, roster, circuit, opts.sessionId);
  const sid = opts.sessionId;
  const caller = opts.callerId ?? roster.gateway.id;
  const ctx = { trace_id: opts.traceId ?? sid };
  const timeoutMs = opts.timeoutMs ?? aggregationTimeoutMs(circuit, client.timeoutMs);
  const inputs = opts.inputs ?? {};
  const sealedInputs = opts.sealedInputs ?? {};
  for (const id of Object.keys(inputs)) {
    if (!roster.parties.some((p) => p.id === id)) {
      throw new ValidationError('UNKNOWN_IDENTIFIER', `inputs.${id}: not in the roster`, [`inputs.${id}`]);
    }
  }
  for (const [id, box] of Object.entries(sealedInputs)) {
    const field = `sealedInputs.${id}`;
    const party = partyById(roster, id);
    if (party === undefined) {
      throw new ValidationError('UNKNOWN_IDENTIFIER', `${field}: not in the roster`, [field]);
    }
    if (inputs[id] !== undefined) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}: ${id} is given plaintext inputs too`, [field]);
    }
    if (typeof box !== 'string' || box.length === 0) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a sealed box (base64)`, [field]);
    }
    if (inputSpecsOf(circuit, party).length === 0) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}: provides no input to ${circuit.id}`, [field]);
    }
  }

  // What each dealer must sign it dealt on: the digest of the subject it was sent, or "sealed".
  const derivedFrom =
    opts.derive === undefined ? undefined : riskSubjectDigest(parseRiskSubject(opts.derive, 'derive'));

  // Round 1: every party deals its own inputs (sealed to it) and seals shares to every receiver.
  const dealBodies = roster.parties.map((p) => {
    const specs = inputSpecsOf(circuit, p);
    const body: Record<string, unknown> = { circuit: circuit.id, circuit_digest: circuit.digestHex };
    if (specs.length === 0 && inputs[p.id] !== undefined) {
      throw new ValidationError('INVALID_ARGUMENT', `inputs.${p.id}: provides no input to ${circuit.id}`, [
        `inputs.${p.id}`,
      ]);
    }
    const sealed = sealedInputs[p.id];
    if (sealed !== undefined) {
      // The department's own box (signed, then sealed): relayed unread.
      body.input = sealed;
    } else if (specs.length > 0 && inputs[p.id] === undefined && opts.derive !== undefined) {
      body.derive = opts.derive;
    } else if (specs.length > 0) {
      const values = sealedValuesFor(specs, inputs[p.id], `inputs.${p.id}`);
      body.input = sealToParty(
        p,
        utf8(JSON.stringify({ values })),
        inputAad(sid, caller, p.id, digestOfRoster),
        rng,
      );
    }
    return body;
  });
  const dealt = await Promise.allSettled(
    roster.parties.map((p, i) =>
      client.call<{ dealing: SignedDealing | null; sealed: SealedShares[] }>(
        p.id,
        'agg.deal',
        sid,
        dealBodies[i]!,
        ctx,
        { timeoutMs },
      ),
    ),
  );
  // Check each answer (names its sender): the dealer's signature and payload, its dealing present
  // exactly when its role provides inputs, its share boxes. Range proofs and shares are checked by
  // every party in round 2 (and here only if one of them fails), and the record carries the proofs
  // for anyone to check again.
  const parsed: ParsedDealing[] = [];
  const outboxes: { dealer: string; sealed: SealedShares[] }[] = [];
  /** Each dealer's signed share boxes by receiver, to judge a receiver's complaint. */
  const signedBoxes = new Map<string, ReadonlyMap<string, Uint8Array>>();
  const signedDealings: SignedDealing[] = [];
  const dealFailures: PartyFailure[] = [];
  dealt.forEach((r, i) => {
    const p = roster.parties[i]!;
    if (r.status === 'rejected') {
      dealFailures.push({ party: p.id, error: r.reason });
      return;
    }
    const out = r.value;
    const provides = inputSpecsOf(circuit, p).length > 0;
    try {
      if (!provides && out?.dealing === null) return;
      if (!provides || out?.dealing === null || out?.dealing === undefined) {
        throw new ProtocolError(
          'INVALID_DEALING',
          `${p.id} ${provides ? 'provides inputs but dealt none' : 'provides no input but dealt'}`,
          [frostIdentifier(roster, p)],
        );
      }
      const pd = parseSignedDealing(
        { suite, roster, rosterDigest: digestOfRoster, session },
        out.dealing,
        p.id,
        true,
      );
      if (pd.dealer.id !== p.id) {
        throw new ProtocolError('INVALID_DEALING', `${p.id} sent a dealing of ${pd.dealer.id}`, [
          frostIdentifier(roster, p),
        ]);
      }
      // The subject it signed it dealt on is the one it was sent: the evaluators can only refuse a
      // round of mixed subjects, blaming nobody (they cannot tell a lying coordinator from a lying
      // dealer); this coordinator knows what it sent, so a dealer that signed another is named.
      const sent = dealBodies[i]!.derive === undefined ? SEALED_INPUT_SUBJECT : derivedFrom;
      if (pd.subject !== sent) {
        throw new ProtocolError(
          'INVALID_DEALING',
          `${p.id} signed a dealing on another subject than the one it was sent`,
          [frostIdentifier(roster, p)],
          { details: { party: p.id, check: 'aggregation.subject' } },
        );
      }
      // Its share boxes, checked now (the receivers cannot name a dealer for a box they never got
      // or cannot tell from a relay's change): one per receiver, each signed by the dealer.
      const boxes = verifyShareBoxes({
        sessionId: sid,
        roster,
        rosterDigest: digestOfRoster,
        dealer: p.id,
        payload: pd.payload,
        payloadDigest: pd.digest,
        sealed: out.sealed,
      });
      if (!boxes.ok) {
        throw new ProtocolError(
          'INVALID_DEALING',
          `${p.id} sent share boxes that are missing, duplicated, badly signed or addressed to no party`,
          [frostIdentifier(roster, p)],
          {
            details: {
              party: p.id,
              share_boxes: {
                missing: boxes.missing,
                duplicated: boxes.duplicated,
                badly_signed: boxes.badlySigned,
                unexpected: boxes.unexpected,
              },
            },
          },
        );
      }
      parsed.push(pd);
      signedDealings.push(out.dealing);
      outboxes.push({ dealer: p.id, sealed: out.sealed });
      signedBoxes.set(p.id, boxes.boxes);
    } catch (error) {
      if (!(error instanceof AapsError)) throw error;
      dealFailures.push({ party: p.id, error, signed: true });
    }
  });
  if (dealFailures.length) throw dealFailure(roster, dealFailures);
  const publicDealings: PublicInputDealing[] = parsed.flatMap((p) => p.dealings);
  const expectedDigest = dealingsDigest(roster, parsed);

  // Round 2: relay every public dealing and each party's own boxes; collect result shares.
  const inbox = new Map<string, SealedShares[]>();
  for (const { dealer, sealed } of outboxes) {
    for (const item of sealed) {
      const list = inbox.get(item.party) ?? [];
      list.push({ party: dealer, box: item.box, sig: item.sig });
      inbox.set(item.party, list);
    }
  }
  /** `agg.evaluate` again on `parties`, each with the round's dealings, its boxes and `extra(party)`. */
  const evaluateAgain = async (
    parties: readonly string[],
    extra: (party: string) => Record<string, unknown>,
  ): Promise<[RosterParty, PromiseSettledResult<EvaluateAnswer>][]> => {
    const settled = await Promise.allSettled(
      parties.map((id) =>
        client.call<EvaluateAnswer>(
          id,
          'agg.evaluate',
          sid,
          { dealings: signedDealings, shares: inbox.get(id) ?? [], ...extra(id) },
          ctx,
          { timeoutMs },
        ),
      ),
    );
    return settled.map((r, k) => [partyById(roster, parties[k]!)!, r]);
  };
  const evaluating = Promise.allSettled(
    roster.parties.map((p) =>
      client.call<EvaluateAnswer>(
        p.id,
        'agg.evaluate',
        sid,
        { dealings: signedDealings, shares: inbox.get(p.id) ?? [] },
        ctx,
        { timeoutMs },
      ),
    ),
  );
  // While the parties evaluate, decode the input commitments the opening needs (strictly: the
  // record carries them), in slices that leave the event loop free for the calls in flight.
  for (let at = 0; at < publicDealings.length; at += PRECHECK_SLICE) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    precheckOpening(session, publicDealings.slice(at, at + PRECHECK_SLICE));
  }
  const evaluated = await evaluating;
  // An evaluator that fails or accuses is left out: with Pedersen VSS a dealer that gave one
  // receiver a bad share still has consistent shares at the others, so the outputs open from any t
  // evaluators that agree on the dealings. What a failing party claims (its unsigned error body)
  // blames nobody; only what the coordinator can check itself does.
  let groups: ResultShare[][] = [];
  let usable: string[] = [];
  const mismatched: Identifier[] = [];
  let evalFailures: PartyFailure[] = [];
  const complaints: JudgedComplaint[] = [];
  /** Sort one party's settled `agg.evaluate` answer, made over `digest`, into the lists above. */
  const sortAnswer = (p: RosterParty, r: PromiseSettledResult<EvaluateAnswer>, digest: string) => {
    if (r.status === 'rejected') {
      evalFailures.push({ party: p.id, error: r.reason });
      return;
    }
    // Signed by the party: a party that evaluated other dealings than those relayed is proven.
    if (r.value?.dealings_digest !== digest) {
      mismatched.push(frostIdentifier(roster, p));
      return;
    }
    if ('complaints' in r.value) {
      // Signed by the party too: each complaint proves its dealer or its author wrong.
      const judged = judgeComplaints(
        session,
        sid,
        roster,
        digestOfRoster,
        parsed,
        signedBoxes,
        p,
        r.value.complaints,
      );
      complaints.push(...judged);
      evalFailures.push({
        party: p.id,
        error: new ProtocolError(
          'INVALID_DEALING',
          `${p.id} complained about the shares of ${judged.map((c) => c.dealer).join(', ')}`,
          [],
          {
            details: { complaints: judged },
          },
        ),
      });
      return;
    }
    // Signed by the party: an answer that does not carry one result share per output (none, a
    // list short or long, one output twice) is proven, like an answer over other dealings. It must
    // not count toward t: the opening would skip a party with no shares without naming it.
    const shapeFault = resultSharesShapeFault(circuit, r.value.result_shares);
    if (shapeFault !== undefined) {
      evalFailures.push({
        party: p.id,
        signed: true,
        error: new ProtocolError('INVALID_OPENING', `${p.id} signed an answer with ${shapeFault}`, [
          frostIdentifier(roster, p),
        ]),
      });
      return;
    }
    usable.push(p.id);
    groups.push(resultSharesFromWire(session, p, roster, r.value.result_shares));
  };
  evaluated.forEach((r, i) => {
    sortAnswer(roster.parties[i]!, r, expectedDigest);
  });
  // A party the first call did not reach (a transient failure: it has sent no result shares)
  // evaluates again with the dealings as they are: with enough of them the round opens with every
  // dealer in, before any complaint step or exclusion is needed.
  const unreached = evalFailures
    .filter((f) => f.signed !== true && TRANSIENT.has(codeOf(f.error)))
    .map((f) => f.party);
  if (groups.length < session.threshold && unreached.length > 0) {
    const answers = await evaluateAgain(unreached, () => ({}));
    const retried = new Set(unreached);
    evalFailures = evalFailures.filter((f) => !retried.has(f.party));
    for (const [p, r] of answers) sortAnswer(p, r, expectedDigest);
  }

  // The complaint step (aggregate-reveal.ts): a dealer that receivers claimed against reveals
  // their shares (fewer than t), or is marked for exclusion.
  const claims: ReceiverClaim[] = [
    ...evalFailures
      .filter((f) => f.signed !== true)
      .map((f) => ({
        party: f.party,
        dealers: partyIdsOf(roster, claimedBy(roster, f.error)),
        ...revealRequestsIn(f.error),
      })),
    ...complaints
      .filter((c) => c.proven === 'dealer')
      .map((c) => ({ party: c.receiver, dealers: [c.dealer] })),
  ].filter((c) => c.dealers.length > 0);
  let plan: RevealPlan | undefined;
  let exclusions: Exclusion[] = [];
  if (claims.length > 0) {
    plan = await runRevealStep({
      client,
      roster,
      session,
      sessionId: sid,
      rosterDigest: digestOfRoster,
      parsed,
      claims,
      refuted: complaints.filter((c) => c.proven === 'dealer').map((c) => c.dealer),
      ctx,
      timeoutMs,
    });
    // Receivers whose every claimed dealer revealed good shares evaluate again with them (the same
    // dealings, no exclusion: they have sent no result shares yet, so this tells nothing new).
    const again = claims.filter(
      (c) =>
        !usable.includes(c.party) &&
        c.dealers.every((d) => plan!.relay.get(c.party)?.some((x) => x.party === d) === true),
    );
    if (again.length > 0) {
      const answers = await evaluateAgain(
        again.map((c) => c.party),
        (party) => ({
          revealed: plan!.relay.get(party)!,
        }),
      );
      const retried = new Set(again.map((c) => c.party));
      evalFailures = evalFailures.filter((f) => !retried.has(f.party));
      for (const [p, r] of answers) sortAnswer(p, r, expectedDigest);
    }
    // Exclusion, only where the round cannot open otherwise and the circuit says how: each party
    // sends result shares at most once per round (two sets over different exclusions would tell
    // the coordinator its share of the excluded dealer's input), so the round then opens from the
    // parties that have sent none, over the excluded dealers' public substitutes.
    const excludable = [...plan.exclude].filter(([d]) =>
      inputSpecsOf(circuit, partyById(roster, d)!).every((i) => i.substitute !== undefined),
    );
    // A dealer whose signed dealing fails the coordinator's own public checks (commitments, range
    // proofs) is not excluded: it is proven, and the round fails naming it as before.
    const publicFault = () =>
      provenBadDealers(session, parsed, roster).culprits.some((c) =>
        excludable.some(([d]) => identifierOfParty(roster, d) === c),
      );
    if (
      groups.length < session.threshold &&
      excludable.length > 0 &&
      excludable.length === plan.exclude.size &&
      !publicFault()
    ) {
      const excludedIds = excludable.map(([d]) => d);
      const provenWrong = new Set([
        ...partyIdsOf(roster, mismatched),
        ...evalFailures.filter((f) => f.signed === true).map((f) => f.party),
        ...complaints.filter((c) => c.proven === 'receiver').map((c) => c.receiver),
      ]);
      const askParties = roster.parties
        .map((p) => p.id)
        .filter((id) => !usable.includes(id) && !provenWrong.has(id));
      // What shows each party that the excluded dealers failed: the receivers' signed reveal
      // requests (a party takes an exclusion only on its own failed box, or on t such requests).
      const exclusionProofs = Object.fromEntries(
        excludedIds.map((d) => [
          d,
          Object.fromEntries(
            claims.flatMap((c) => (c.requests?.[d] === undefined ? [] : [[c.party, c.requests[d]]])),
          ),
        ]),
      );
      const answers = await evaluateAgain(askParties, (party) => {
        const relay = (plan!.relay.get(party) ?? []).filter((x) => !excludedIds.includes(x.party));
        return {
          excluded: excludedIds,
          exclusion_proofs: exclusionProofs,
          ...(relay.length > 0 ? { revealed: relay } : {}),
        };
      });
      const before = { groups, usable, evalFailures };
      groups = [];
      usable = [];
      const asked = new Set(askParties);
      evalFailures = evalFailures.filter((f) => !asked.has(f.party));
      const digest = dealingsDigest(roster, parsed, excludedIds);
      for (const [p, r] of answers) sortAnswer(p, r, digest);
      if (groups.length >= session.threshold) {
        exclusions = excludable.map(([d, reason]) => ({ dealer: identifierOfParty(roster, d), reason }));
      } else {
        // Not enough either way: report the first pass (the round fails as it would have).
        ({ groups, usable, evalFailures } = before);
      }
    }
  }
  const shares = groups.flat();
  if (groups.length < session.threshold) {
    // Parties refused: check every signed dealing's public part here, where a failure is proof.
    // (Not needed while t agree: at least one of them is honest and checked every other dealer's
    // range proofs; and so a lone liar cannot make the coordinator do this work every round.)
    const proven = evalFailures.some((f) => f.signed !== true && !TRANSIENT.has(codeOf(f.error)))
      ? provenBadDealers(session, parsed, roster)
      : { culprits: [], code: undefined };
    throw evaluateFailure(
      roster,
      session.threshold,
      evalFailures,
      mismatched,
      proven,
      usable,
      complaints,
      plan,
    );
  }
  const leftOut = evalFailures.map(({ party, error }) => ({
    party,
    code: codeOf(error),
    claimedCulprits: partyIdsOf(roster, claimedBy(roster, error)),
  }));

  // Opening: every result share used is checked against the combined commitments. The first t
  // parties' shares are tried first; if any fails, all shares are checked, the liars named and left
  // out. The range proofs were checked by the parties that evaluated.
  const firstT = groups.slice(0, session.threshold).flat();
  let opened: OpenedResult;
  try {
    opened = openResult(session, publicDealings, firstT, rng, { verifyProofs: false, excluded: exclusions });
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.code !== 'INVALID_OPENING' || firstT.length === shares.length)
      throw e;
    opened = openResult(session, publicDealings, shares, rng, { verifyProofs: false, excluded: exclusions });
  }
  const record = buildAggregationRecord(session, publicDealings, opened);
  const toParty = (id: string) => partyByIdentifier(roster, id)?.id ?? id;
  const result: Record<string, OutputValue> = {};
  const outputs = opened.outputs.map((o, i) => {
    result[o.name] = o.value;
    return { name: o.name, value: o.value, scale: circuit.outputs[i]!.scale };
  });
  const outcome: AggregationOutcome = {
    result,
    outputs,
    record,
    digest: bytesToHex(aggregationDigest(record)),
    culprits: [
      ...new Set([
        ...opened.culprits,
        ...mismatched,
        ...provenInSignedAnswers(roster, evalFailures),
        ...provenByComplaints(roster, complaints),
        ...(plan?.refuted ?? []).map((d) => identifierOfParty(roster, d)),
      ]),
    ].map(toParty),
    openers: opened.openers.map(toParty),
    leftOut,
    ...(complaints.length > 0 ? { complaints } : {}),
    ...(plan && plan.entries.length > 0 ? { reveals: plan.entries } : {}),
    ...(record.excluded
      ? {
          excluded: record.excluded.map((x) => ({
            party: toParty(x.provider),
            reason: x.reason,
            inputs: x.inputs.map((i) => ({ name: i.name, value: i.value.toString() })),
          })),
        }
      : {}),
  };
  const pooledRisk = pooledRiskOf(circuit, outputs);
  if (pooledRisk !== undefined) outcome.pooledRisk = pooledRisk;
  if (opts.confirm) {
    const text = encodeAggregationRecordJson(record);
    const answers = await Promise.allSettled(
      roster.parties.map((p) =>
        client.call<{ digest?: string }>(p.id, 'agg.confirm', sid, { record: text }, ctx, { timeoutMs }),
      ),
    );
    outcome.confirmed = roster.parties
      .filter((_, i) => {
        const a = answers[i]!;
        return a.status === 'fulfilled' && a.value.digest === outcome.digest;
      })
      .map((p) => p.id);
  }
  return outcome;
}
