/**
 * Pooled risk on the party node (docs/aggregation.md, "Pooled risk"):
 *
 *  - the subject a coordinator shows a party (`agg.deal` with `derive`): the proposal's action,
 *    target namespace and risk factors, from which the party computes its own department score
 *    under its policy's `risk` view, on the heavier of the declared environment and its own view
 *    of that namespace ({@link scoredFactors}); the value never leaves the party except as
 *    Pedersen shares;
 *    (only derived: the pooled-risk circuit takes no caller-supplied input), and whose digest
 *    ({@link riskSubjectDigest}) every dealer signs into its dealing, so a party evaluates only a
 *    round in which every department scored the subject it scored itself;
 *  - the ledger of aggregations this party evaluated and then saw opened (`agg.confirm`, after the
 *    party checked the record itself), which `verifyAggregationRef` consults: a proposal's
 *    `risk.aggregation_ref` is accepted only for such a session, with the same digest and value,
 *    and only while the party runs the risk view it scored under ({@link riskViewDigest}); one
 *    that once held and no longer does (another view, past the retention window) is refused as
 *    stale (`risk.aggregation_stale`), so the gateway knows to pool again.
 */
import {
  AapsError,
  bytesToHex,
  type Circuit,
  canonicalBytes,
  type OutputValue,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { ownEnvironment } from '../policy/environments.js';
import type { AggregationRef, ApprovalProposal } from '../policy/proposal.js';
import { tryParseResourceUri } from '../policy/resource-uri.js';
import {
  ENVIRONMENTS,
  environmentWeight,
  heavierEnvironment,
  pooledRiskValue,
  type RiskFactors,
  URGENCY_LEVELS,
} from '../policy/risk.js';
import type { Policy } from '../policy/schema.js';

/** The circuit pooled risk runs on. */
export const POOLED_RISK_CIRCUIT = 'weighted-risk';

/**
 * The pooled score an opened aggregation gives, when it is the pooled-risk circuit's (its first
 * output, the weighted sum, over the sum of the weights, rounded up); undefined for other circuits.
 */
export function pooledRiskOf(
  circuit: Circuit,
  outputs: readonly { readonly value: OutputValue }[],
): number | undefined {
  if (circuit.id !== POOLED_RISK_CIRCUIT || circuit.outputs.length === 0) return undefined;
  const value = outputs[0]?.value;
  if (typeof value !== 'bigint') throw new AapsError('INTERNAL', 'the pooled-risk output is not a scalar');
  return pooledRiskValue(
    value,
    circuit.outputs[0]!.terms.reduce((a, t) => a + t.weight, 0n),
  );
}

/** What a party is shown to derive its department score from. */
export interface RiskSubject {
  incident_id: string;
  action: string;
  /**
   * The namespace of the fix's target, `null` for a cluster-scoped one. Carried so each party
   * scores on its own view of where the target runs, not only on the declared environment; always
   * present (as `null` too), so a subject of this shape never has the digest of an older one.
   */
  namespace: string | null;
  factors: RiskFactors;
}

/**
 * A subject as a release before the namespace was added showed it (no `namespace` key): its
 * departments scored the declared environment alone. Only read back from a party's ledger
 * (confirmed before an upgrade); `agg.deal` refuses it.
 */
export type LegacyRiskSubject = Omit<RiskSubject, 'namespace'>;

const ACTION = /^[a-z][a-z0-9_]{0,63}$/;
const INCIDENT = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
// A Kubernetes namespace (DNS-1123 label), as resource URIs carry it.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Validate a {@link RiskSubject}; throws `ValidationError` naming the field. A subject without
 * `namespace` (an older coordinator's) is refused: scored without it, a department would take the
 * declared environment on trust.
 */
export function parseRiskSubject(value: unknown, field: string): RiskSubject {
  const common = parseSubjectFields(value, field);
  const ns = (value as Record<string, unknown>).namespace;
  if (ns !== null && !(typeof ns === 'string' && NAMESPACE.test(ns))) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${field}.namespace: expected the target's namespace, or null for a cluster-scoped target`,
      [`${field}.namespace`],
    );
  }
  return {
    incident_id: common.incident_id,
    action: common.action,
    namespace: ns as string | null,
    factors: common.factors,
  };
}

/** A ledger entry's subject: a {@link RiskSubject}, or (no `namespace` key) a {@link LegacyRiskSubject}. */
function parseStoredSubject(value: unknown, field: string): RiskSubject | LegacyRiskSubject {
  return value !== null && typeof value === 'object' && Object.hasOwn(value, 'namespace')
    ? parseRiskSubject(value, field)
    : parseSubjectFields(value, field);
}

/** The fields every subject has, validated (throws `ValidationError` naming the field). */
function parseSubjectFields(value: unknown, field: string): LegacyRiskSubject {
  const bad = (path: string, why: string): never => {
    throw new ValidationError('INVALID_ARGUMENT', `${path}: ${why}`, [path]);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(field, 'expected an object');
  const v = value as Record<string, unknown>;
  if (typeof v.incident_id !== 'string' || !INCIDENT.test(v.incident_id))
    bad(`${field}.incident_id`, 'expected an incident id');
  if (typeof v.action !== 'string' || !ACTION.test(v.action)) bad(`${field}.action`, 'expected an action');
  const f = v.factors as Record<string, unknown> | null;
  if (f === null || typeof f !== 'object' || Array.isArray(f))
    return bad(`${field}.factors`, 'expected an object');
  const blast = f.blast_radius;
  if (typeof blast !== 'number' || !Number.isSafeInteger(blast) || blast < 1)
    bad(`${field}.factors.blast_radius`, 'expected an integer >= 1');
  if (!(URGENCY_LEVELS as readonly unknown[]).includes(f.urgency))
    bad(`${field}.factors.urgency`, `expected one of ${URGENCY_LEVELS.join(', ')}`);
  if (!(ENVIRONMENTS as readonly unknown[]).includes(f.environment))
    bad(`${field}.factors.environment`, `expected one of ${ENVIRONMENTS.join(', ')}`);
  return {
    incident_id: v.incident_id as string,
    action: v.action as string,
    factors: {
      blast_radius: blast as number,
      urgency: f.urgency as RiskFactors['urgency'],
      environment: f.environment as RiskFactors['environment'],
    },
  };
}

/**
 * SHA-256 (hex) of the canonical JSON (RFC 8785) of a subject as {@link parseRiskSubject} returns
 * it: what a dealer signs into its dealing to say which subject its department scored.
 */
export function riskSubjectDigest(subject: RiskSubject): string {
  return bytesToHex(sha256(canonicalBytes(subject)));
}

/**
 * The factors a party scores a subject on: the declared ones, with the environment raised to this
 * party's own view of the subject's namespace when that weighs more (`risk.environments`, as
 * strategy does for the proposal), so a coordinator declaring `development` for a namespace the
 * party knows to be production does not lower its input.
 */
export function scoredFactors(policy: Policy, subject: RiskSubject): RiskFactors {
  const own = ownEnvironment(policy, subject.namespace ?? undefined);
  return { ...subject.factors, environment: heavierEnvironment(subject.factors.environment, own) };
}

/**
 * SHA-256 (hex) of the canonical JSON of what a department's score reads from its policy's `risk`
 * section ({@link scoredFactors}, `departmentRiskScore`): `weight_percent`, `offset` and a
 * non-empty `environments` map, as `{risk: {...}}`, or `{risk: null}` for the formula's own view
 * (no section, or weight 100, offset 0 and no mapped namespace, which score alike). A ledger entry
 * records the one its party scored under, and a reference counts only while the party runs the
 * same one: a department that changed how it scores risk does not let a score pooled under its old
 * view decide a change. `require_pooled` is left out: it decides whether a reference is needed, not
 * what a round scored, so turning it on does not refuse the rounds pooled before.
 */
export function riskViewDigest(policy: Policy): string {
  const r = policy.risk;
  const environments = r?.environments !== undefined && Object.keys(r.environments).length > 0;
  const view =
    r === undefined || (r.weight_percent === 100 && r.offset === 0 && !environments)
      ? null
      : {
          weight_percent: r.weight_percent,
          offset: r.offset,
          ...(environments ? { environments: r.environments } : {}),
        };
  return bytesToHex(sha256(canonicalBytes({ risk: view })));
}

/** An aggregation this party evaluated and whose opened record it checked. */
export interface ConfirmedAggregation {
  circuit: string;
  /** `aggregationDigest(record)`, hex. */
  digest: string;
  /** The pooled score the record's output stands for (0..100). */
  value: number;
  /**
   * What the departments scored, if pooled risk: the `derive` subject this party was shown, which
   * every dealer of the round signed the same digest of (checked at `agg.evaluate`). A legacy one
   * (no namespace) only in an entry confirmed by an earlier release.
   */
  subject?: RiskSubject | LegacyRiskSubject;
  /**
   * The party's {@link riskViewDigest} when it confirmed the round, set by a ledger that knows its
   * party's (absent in entries an earlier release kept).
   */
  risk_view?: string;
}

/**
 * Where a ledger keeps what it confirmed: the party's LevelDB (`PartyStore`), which drops an entry
 * with its session's other records after the retention window. The source of truth: the ledger's
 * memory only caches it.
 */
export interface LedgerStore {
  saveConfirmedAggregation(id: string, entry: unknown, at: Date): Promise<void>;
  /** One kept confirmation, `[entry, when]` (entry `undefined` when it does not read), if kept. */
  confirmedAggregation(id: string): Promise<[unknown, Date] | undefined>;
  /** The newest kept confirmations, at most `n`, oldest first, read without the rest of the window. */
  newestConfirmedAggregations(n: number): Promise<[string, unknown, Date][]>;
}

/** A stored ledger entry as it was saved; anything else is refused (`DECODE_FAILED`). */
function parseConfirmed(id: string, value: unknown): ConfirmedAggregation {
  const v = value as Partial<ConfirmedAggregation> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    typeof v.circuit === 'string' &&
    typeof v.digest === 'string' &&
    /^[0-9a-f]{64}$/.test(v.digest) &&
    typeof v.value === 'number' &&
    Number.isInteger(v.value) &&
    (v.risk_view === undefined || (typeof v.risk_view === 'string' && /^[0-9a-f]{64}$/.test(v.risk_view)));
  if (!ok) throw new AapsError('DECODE_FAILED', `the stored confirmation of aggregation ${id} is damaged`);
  return {
    circuit: v.circuit!,
    digest: v.digest!,
    value: v.value!,
    ...(v.subject === undefined ? {} : { subject: parseStoredSubject(v.subject, `aggc/${id}.subject`) }),
    ...(v.risk_view === undefined ? {} : { risk_view: v.risk_view }),
  };
}

/** At most this many cited rounds are read back from the store for one request. */
const MAX_RECALLS = 16;

/** The keys a request cites a round under: a proposal's risk, and strategy's step input. */
const CITING_KEYS = new Set(['aggregation_ref', 'pooled']);

/**
 * The session ids of the rounds `value` (a signing subject, a transcript, a step request) cites,
 * each an object with a `session_id` under `aggregation_ref` (a proposal's risk) or `pooled`
 * (strategy's step input), the first {@link MAX_RECALLS} in reverse document order: what
 * {@link PooledRiskLedger.recall} reads back. Reverse, because a transcript begins with the
 * incident signal, whose metadata is whatever its submitter posted (sixteen look-alike citations
 * there would otherwise fill the limit), and the agents' envelopes that cite the real round come
 * after it. The whole value is walked, without recursion: it is a request body already parsed
 * within the party's body limit, and a transcript with a long diagnosis must still have its round
 * found.
 */
export function citedAggregationSessions(value: unknown): string[] {
  const found = new Set<string>();
  // Depth first, last member first; `cites` marks a value under a citing key.
  const pending: { v: unknown; cites: boolean }[] = [{ v: value, cites: false }];
  while (pending.length > 0 && found.size < MAX_RECALLS) {
    const { v, cites } = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const id = cites ? (v as { session_id?: unknown }).session_id : undefined;
    if (typeof id === 'string') {
      if (id.length <= 256) found.add(id);
      continue;
    }
    const children = Array.isArray(v)
      ? v.map((x) => ({ v: x as unknown, cites: false }))
      : Object.entries(v).map(([k, x]) => ({ v: x as unknown, cites: CITING_KEYS.has(k) }));
    for (const child of children) pending.push(child);
  }
  return [...found];
}

/**
 * Session id to confirmed aggregation. With a store ({@link PooledRiskLedger.open}) the store is
 * the ledger: each entry is saved (synced) before `remember` returns, and memory holds at most
 * `limit` of them (the newest confirmed or read back; the oldest dropped past it), so the round a
 * signing checks right after its pooling is at hand. A cited round memory no longer holds (newer
 * rounds pushed it out, or the party restarted) is read back by key by {@link recall} before its
 * check, so a party knows a round it confirmed for as long as its store keeps it (the retention
 * window, 30 days), and refuses it after, whether memory still holds it or not. An entry is never
 * replaced: remembering a session id again, held or kept, is `CONFLICT`.
 */
export class PooledRiskLedger {
  readonly #entries = new Map<string, { entry: ConfirmedAggregation; at: number }>();
  /** Session ids being remembered: a concurrent second confirmation of one is a conflict too. */
  readonly #remembering = new Set<string>();
  readonly #limit: number;
  readonly #store: LedgerStore | undefined;
  readonly #now: () => Date;
  readonly #retentionMs: number | undefined;
  readonly #onDamaged: ((sessionId: string) => void) | undefined;
  /** The party's {@link riskViewDigest}, if the ledger was given it: stamped and then required. */
  readonly #riskView: string | undefined;

  constructor(
    limit = 10_000,
    store?: LedgerStore,
    now: () => Date = () => new Date(),
    retentionMs?: number,
    onDamaged?: (sessionId: string) => void,
    riskView?: string,
  ) {
    this.#limit = limit;
    this.#store = store;
    this.#now = now;
    this.#retentionMs = retentionMs;
    this.#onDamaged = onDamaged;
    this.#riskView = riskView;
  }

  /**
   * A ledger over `store`, holding the newest `limit` entries it kept (read through the store's
   * time index: a month of rounds is not read to find them). A damaged entry is skipped and passed
   * to `onDamaged` (the party logs it), here or when a request cites it: without it the party
   * only refuses references to that round, which is safe, rather than not starting at all.
   */
  static async open(
    store: LedgerStore,
    opts: {
      limit?: number;
      now?: () => Date;
      /** A round confirmed longer ago than this is refused, held in memory or not. */
      retentionMs?: number;
      onDamaged?: (sessionId: string) => void;
      /**
       * The party's {@link riskViewDigest}: each entry remembered records it, and a decision citing
       * an entry that records another is refused ({@link verifyRef}).
       */
      riskView?: string;
    } = {},
  ): Promise<PooledRiskLedger> {
    const ledger = new PooledRiskLedger(
      opts.limit,
      store,
      opts.now,
      opts.retentionMs,
      opts.onDamaged,
      opts.riskView,
    );
    for (const [id, entry, at] of await store.newestConfirmedAggregations(ledger.#limit)) {
      ledger.#load(id, entry, at);
    }
    return ledger;
  }

  async remember(sessionId: string, confirmed: ConfirmedAggregation): Promise<void> {
    const entry: ConfirmedAggregation =
      this.#riskView === undefined ? confirmed : { ...confirmed, risk_view: this.#riskView };
    const conflict = () =>
      new AapsError('CONFLICT', `aggregation ${sessionId} was already confirmed here`, {
        details: { session: sessionId },
      });
    if (this.#entries.has(sessionId) || this.#remembering.has(sessionId)) throw conflict();
    this.#remembering.add(sessionId);
    try {
      const at = this.#now();
      if (this.#store !== undefined) {
        // Kept though no longer held: still confirmed, never replaced.
        if ((await this.#store.confirmedAggregation(sessionId)) !== undefined) throw conflict();
        await this.#store.saveConfirmedAggregation(sessionId, entry, at);
      }
      this.#add(sessionId, entry, at.getTime());
    } finally {
      this.#remembering.delete(sessionId);
    }
  }

  #add(sessionId: string, entry: ConfirmedAggregation, at: number): void {
    this.#entries.delete(sessionId);
    this.#entries.set(sessionId, { entry, at });
    while (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /**
   * Holds a kept record read back from the store, unless damaged (reported) or, at start
   * (`keepExpired` false), expired. A round a request cites is held expired too, so that
   * {@link checkRef} can say it is past the window ({@link RefStanding} `stale`) rather than
   * unknown; it is never taken for a live one.
   */
  #load(sessionId: string, stored: unknown, at: Date, keepExpired = false): void {
    let entry: ConfirmedAggregation;
    try {
      entry = parseConfirmed(sessionId, stored);
    } catch (e) {
      if (!(e instanceof AapsError)) throw e;
      this.#onDamaged?.(sessionId);
      return;
    }
    if (!keepExpired && this.#expired(at.getTime())) return;
    this.#add(sessionId, entry, at.getTime());
  }

  /** Whether a round confirmed at `at` (ms) is past the retention window. */
  #expired(at: number): boolean {
    return this.#retentionMs !== undefined && this.#now().getTime() - at > this.#retentionMs;
  }

  /**
   * Reads back from the store each of `sessionIds` (at most {@link MAX_RECALLS}) this party
   * confirmed and no longer holds in memory, one record by key each, so that {@link verifyRef}
   * knows it. One kept past the retention window (no later dealing has dropped it yet) is held
   * as such, and refused as `stale`; a damaged one stays unknown (refused, as a round never
   * confirmed is), and is reported.
   */
  async recall(sessionIds: Iterable<string>): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    for (const id of [...new Set(sessionIds)].slice(0, MAX_RECALLS)) {
      if (this.#entries.has(id)) continue;
      const kept = await store.confirmedAggregation(id);
      if (kept === undefined || this.#entries.has(id)) continue;
      this.#load(id, kept[0], kept[1], true);
    }
  }

  /** The entry memory holds for `sessionId` (whatever its age): see {@link verifyRef} for a check. */
  get(sessionId: string): ConfirmedAggregation | undefined {
    return this.#entries.get(sessionId)?.entry;
  }

  /**
   * True only for a session this party confirmed, within the retention window, with the same
   * circuit, digest and value, and (given the proposal) pooled for that proposal's incident,
   * action, target namespace and risk factors, under the party's current risk view: that is,
   * {@link checkRef} says `holds`. `opts.anyRiskView` skips the view: evidence of what was decided
   * is signed whatever view the party has come to hold since.
   */
  verifyRef(
    ref: AggregationRef,
    proposal?: Pick<ApprovalProposal, 'incident_id' | 'action' | 'target' | 'risk'>,
    opts: { anyRiskView?: boolean } = {},
  ): boolean {
    return this.checkRef(ref, proposal, opts) === 'holds';
  }

  /**
   * What this party says of a cited round ({@link RefStanding}). Synchronous, on memory: a round
   * the request cites is read back first ({@link recall}). The subject compared is the one this
   * party scored; the round it confirmed had every dealer sign that same subject's digest (and no
   * caller-supplied input), so the value pools every department's own score on the proposal's
   * subject. A legacy subject (confirmed by an earlier release, no namespace) is compared without
   * one, as that release did. A round this party confirmed, with the cited circuit, digest and
   * value and pooled for this proposal, that no longer counts is `stale`: confirmed under another
   * risk view of this party's (its risk policy changed since), or past the retention window. An
   * entry that records no view (kept by an earlier release) is taken as that release took it, so
   * an incident in flight across the upgrade still goes through. Anything else that does not hold
   * (a round never confirmed here or no longer kept, another value or digest, another subject) is
   * `refused`.
   */
  checkRef(
    ref: AggregationRef,
    proposal?: Pick<ApprovalProposal, 'incident_id' | 'action' | 'target' | 'risk'>,
    opts: { anyRiskView?: boolean } = {},
  ): RefStanding {
    const held = this.#entries.get(ref.session_id);
    if (held === undefined) return 'refused';
    const e = held.entry;
    if (e.circuit !== ref.circuit || e.digest !== ref.output_digest.toLowerCase() || e.value !== ref.value) {
      return 'refused';
    }
    if (proposal !== undefined && !pooledFor(e.subject, proposal)) return 'refused';
    if (this.#expired(held.at)) return 'stale';
    if (
      opts.anyRiskView !== true &&
      this.#riskView !== undefined &&
      e.risk_view !== undefined &&
      e.risk_view !== this.#riskView
    )
      return 'stale';
    return 'holds';
  }
}

/**
 * What a party's ledger says of a round a proposal cites ({@link PooledRiskLedger.checkRef}):
 * `holds`; `stale`, a round it confirmed for this very proposal that no longer counts (its risk
 * view changed since, or the round is past the retention window), which a fresh round of pooling
 * can replace (the rule `risk.aggregation_stale`, on which the gateway pools again); `refused`,
 * anything else (`risk.aggregation_unverified`).
 */
export type RefStanding = 'holds' | 'stale' | 'refused';

/** Whether a confirmed round's subject is the proposal's (see {@link PooledRiskLedger.checkRef}). */
function pooledFor(
  s: RiskSubject | LegacyRiskSubject | undefined,
  proposal: Pick<ApprovalProposal, 'incident_id' | 'action' | 'target' | 'risk'>,
): boolean {
  const f = proposal.risk.factors;
  if (s !== undefined && 'namespace' in s) {
    // Pooled on another namespace, the departments scored another target's environment.
    const target = tryParseResourceUri(proposal.target);
    if (target === undefined || (target.namespace ?? null) !== s.namespace) return false;
  }
  return (
    s !== undefined &&
    s.incident_id === proposal.incident_id &&
    s.action === proposal.action &&
    s.factors.blast_radius === f.blast_radius &&
    s.factors.urgency === f.urgency &&
    // Each department scored the heavier of the declared environment and its own view of the
    // namespace; strategy may have raised the declared one to its view too (never lowered). A
    // heavier one only raises the formula's score, and the pooled score can only raise that
    // (combineRiskScores): the reference still holds.
    environmentWeight(f.environment) >= environmentWeight(s.factors.environment)
  );
}
