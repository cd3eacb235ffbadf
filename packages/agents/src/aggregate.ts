/**
 * The coordinator side of secret-shared aggregation over HTTP (the party side is
 * `party/routes/aggregation.ts`):
 *
 *  1. `agg.deal` to every party, with the party's own input values sealed to its X25519 key. Here
 *     the caller passes each party its input; in a deployment the department's own system seals
 *     it, and the coordinator only relays a box it cannot open.
 *  2. The coordinator checks every dealer's signature and payload (naming bad dealers), then relays
 *     to each party every public dealing and the sealed share boxes addressed to it (which it cannot
 *     read).
 *  3. `agg.evaluate` on every party: each checks every dealing and its shares, names bad dealers,
 *     evaluates the circuit and returns its result shares.
 *  4. The coordinator opens each output from t result shares, each checked against the combined
 *     commitments (on a failure every share is checked, liars are named and skipped), and builds
 *     the `AggregationRecord` that anyone verifies offline with `verifyAggregation`.
 */
import {
  AapsError,
  type AggregationRecord,
  aggregationDigest,
  buildAggregationRecord,
  bytesToHex,
  type Circuit,
  type CircuitInput,
  type Culprit,
  encodeAggregationRecordJson,
  getCiphersuite,
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
import type { PartyClient } from './client.js';
import { pooledRiskOf } from './party/pooled-risk.js';
import {
  type CircuitCatalog,
  dealingsDigest,
  defaultRng,
  inputAad,
  inputSpecsOf,
  openAggregationSession,
  type ParsedDealing,
  parseSignedDealing,
  readCircuitCatalog,
  resultSharesFromWire,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
  sealToParty,
  type WireResultShare,
} from './party/routes/aggregation.js';
import { frostIdentifier, partyByIdentifier, type Roster, rosterDigest } from './roster.js';

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

export interface AggregationRunOptions {
  circuitId: string;
  /** The aggregation session id (`[A-Za-z0-9._:-]{1,128}`), bound into every proof. */
  sessionId: string;
  /** Each providing party's inputs, by party id. */
  inputs: Readonly<Record<string, AggregationInputs>>;
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
  /** The circuits the coordinator trusts (default: the repository's `circuits/`). */
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
  /** Parties whose result shares failed the check (left out of the opening). */
  culprits: string[];
  /** The parties whose result shares opened the outputs. */
  openers: string[];
  /** With `confirm`: the parties that checked and remembered the record. */
  confirmed?: string[];
  /** For the pooled-risk circuit: the pooled score (the weighted mean, rounded up; 0..100). */
  pooledRisk?: number;
}

/** Dealings whose commitments the coordinator decodes between two turns of the event loop. */
const PRECHECK_SLICE = 250;

let shipped: CircuitCatalog | undefined;

/** The repository's `circuits/`, read once. */
function shippedCircuits(): CircuitCatalog {
  shipped ??= readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
  return shipped;
}

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

function valuesFor(
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

/** Failures from several parties as one error: blaming codes win, culprits merged. */
function combine(
  errors: readonly { party: string; error: unknown }[],
  roster: Roster,
  blameSender: boolean,
): AapsError {
  const culprits = new Set<Culprit>();
  let code: AapsError['code'] | undefined;
  for (const { party, error } of errors) {
    const e = error instanceof AapsError ? error : new AapsError('INTERNAL', String(error));
    const named = (e.details as { culprits?: readonly string[] } | undefined)?.culprits ?? [];
    const own = e instanceof ProtocolError ? e.culprits : named;
    for (const c of own) culprits.add(c);
    if (blameSender && own.length === 0 && e.code !== 'UNAVAILABLE' && e.code !== 'TIMEOUT') {
      const p = roster.parties.find((q) => q.id === party);
      if (p) culprits.add(frostIdentifier(roster, p));
    }
    if (!code || (own.length > 0 && code !== 'INVALID_RANGE_PROOF')) code = e.code;
  }
  const list = [...culprits];
  const parties = list.map((c) => partyByIdentifier(roster, c)?.id ?? c);
  const first = errors[0]!.error;
  return new ProtocolError(
    code ?? 'INTERNAL',
    `aggregation refused: ${errors.map((e) => e.party).join(', ')}`,
    list,
    {
      cause: first,
      details: {
        parties,
        errors: errors.map(({ party, error }) => ({
          party,
          code: error instanceof AapsError ? error.code : 'INTERNAL',
          fields: (error instanceof ValidationError ? error.fields : undefined) ?? undefined,
        })),
      },
    },
  );
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
  const caller = opts.callerId ?? 'gateway';
  const ctx = { trace_id: opts.traceId ?? sid };
  const timeoutMs = opts.timeoutMs ?? aggregationTimeoutMs(circuit, client.timeoutMs);
  for (const id of Object.keys(opts.inputs)) {
    if (!roster.parties.some((p) => p.id === id)) {
      throw new ValidationError('UNKNOWN_IDENTIFIER', `inputs.${id}: not in the roster`, [`inputs.${id}`]);
    }
  }

  // Round 1: every party deals its own inputs (sealed to it) and seals shares to every receiver.
  const dealBodies = roster.parties.map((p) => {
    const specs = inputSpecsOf(circuit, p);
    const body: Record<string, unknown> = { circuit: circuit.id, circuit_digest: circuit.digestHex };
    if (specs.length === 0 && opts.inputs[p.id] !== undefined) {
      throw new ValidationError('INVALID_ARGUMENT', `inputs.${p.id}: provides no input to ${circuit.id}`, [
        `inputs.${p.id}`,
      ]);
    }
    if (specs.length > 0 && opts.inputs[p.id] === undefined && opts.derive !== undefined) {
      body.derive = opts.derive;
    } else if (specs.length > 0) {
      const values = valuesFor(specs, opts.inputs[p.id], `inputs.${p.id}`);
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
  const dealFailures = dealt.flatMap((r, i) =>
    r.status === 'rejected' ? [{ party: roster.parties[i]!.id, error: r.reason as unknown }] : [],
  );
  if (dealFailures.length) throw combine(dealFailures, roster, true);

  // Check each dealer's signature and payload (names dealers). Range proofs and shares are checked
  // by every party in round 2 (an honest party refuses a bad dealing and names its dealer), and the
  // record carries the proofs for anyone to check again.
  const parsed: ParsedDealing[] = [];
  const outboxes: { dealer: string; sealed: SealedShares[] }[] = [];
  const badDealers: { party: string; error: unknown }[] = [];
  dealt.forEach((r, i) => {
    const p = roster.parties[i]!;
    const out = (r as PromiseFulfilledResult<{ dealing: SignedDealing | null; sealed: SealedShares[] }>)
      .value;
    if (out.dealing === null) return;
    try {
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
      parsed.push(pd);
      outboxes.push({ dealer: p.id, sealed: Array.isArray(out.sealed) ? out.sealed : [] });
    } catch (error) {
      if (!(error instanceof AapsError)) throw error;
      badDealers.push({ party: p.id, error });
    }
  });
  if (badDealers.length) throw combine(badDealers, roster, true);
  const publicDealings: PublicInputDealing[] = parsed.flatMap((p) => p.dealings);
  const signedDealings = dealt.flatMap((r) => {
    const d = (r as PromiseFulfilledResult<{ dealing: SignedDealing | null }>).value.dealing;
    return d ? [d] : [];
  });
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
  const evaluating = Promise.allSettled(
    roster.parties.map((p) =>
      client.call<{ result_shares: WireResultShare[]; dealings_digest: string }>(
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
  // A party that names bad dealers stops the run (a dealing every honest party rejects).
  const named = evaluated.flatMap((r, i) =>
    r.status === 'rejected' &&
    r.reason instanceof AapsError &&
    ((r.reason.details as { culprits?: string[] } | undefined)?.culprits ?? []).length > 0
      ? [{ party: roster.parties[i]!.id, error: r.reason as unknown }]
      : [],
  );
  if (named.length) throw combine(named, roster, false);
  const groups: ResultShare[][] = [];
  const mismatched: string[] = [];
  evaluated.forEach((r, i) => {
    if (r.status !== 'fulfilled') return;
    const p = roster.parties[i]!;
    if (r.value.dealings_digest !== expectedDigest) {
      mismatched.push(frostIdentifier(roster, p));
      return;
    }
    groups.push(resultSharesFromWire(session, p, roster, r.value.result_shares));
  });
  const shares = groups.flat();
  if (groups.length < session.threshold) {
    const failures = evaluated.flatMap((r, i) =>
      r.status === 'rejected' ? [{ party: roster.parties[i]!.id, error: r.reason as unknown }] : [],
    );
    if (failures.length) throw combine(failures, roster, false);
  }

  // Opening: every result share used is checked against the combined commitments. The first t
  // parties' shares are tried first; if any fails, all shares are checked, the liars named and left
  // out. The range proofs were checked by the parties that evaluated.
  const firstT = groups.slice(0, session.threshold).flat();
  let opened: OpenedResult;
  try {
    opened = openResult(session, publicDealings, firstT, rng, { verifyProofs: false });
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.code !== 'INVALID_OPENING' || firstT.length === shares.length)
      throw e;
    opened = openResult(session, publicDealings, shares, rng, { verifyProofs: false });
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
    culprits: [...opened.culprits, ...mismatched].map(toParty),
    openers: opened.openers.map(toParty),
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
