/**
 * The coordinator of a robust threshold signing (ROAST-style, Ruffing et al. 2022): it gathers
 * commitments, picks a quorum of `t` responsive parties, runs round two through a pluggable
 * transport, checks each share as it arrives, drops every party that times out, fails or cheats,
 * and retries with a fresh signing package until `t` honest parties have signed. Each round-one
 * commitment goes into exactly one signing package. Fewer than `t` parties left gives
 * `ProtocolError('QUORUM_UNREACHABLE')` naming every proven cheater.
 *
 * The transport, the timer (`sleep`) and the randomness are injected; this module does no I/O.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { AapsError, type ErrorCode, ProtocolError, ValidationError } from '../errors.js';
import { assertSuite } from '../guards.js';
import { type Identifier, type PublicKeyPackage, preparePublic } from '../keys.js';
import { randomBytesOf } from '../suite/rng.js';
import type { AnyCiphersuite, Rng } from '../suite/types.js';
import { aggregate, verifyShare } from './aggregate.js';
import type { SigningPackage } from './context.js';
import type { Round1Commitment } from './round1.js';
import type { SignatureShare } from './round2.js';

/** Round-one request to a party: `count` fresh commitments (more than one preprocesses). */
export interface CommitRequest {
  readonly sessionId: string;
  readonly count: number;
}

/** Round-two request to a party. `payload` is passed through untouched (e.g. the proposal). */
export interface SignRequest<P = unknown> {
  readonly sessionId: string;
  /** 1 for the first signing package of a session, then 2, 3, ... on each retry. */
  readonly attempt: number;
  readonly signingPackage: SigningPackage;
  readonly payload?: P;
  /**
   * Fresh commitments the party may send back with its share (round one riding on round two), so
   * that a pooling session gets one back for each it spends. Absent or 0: none.
   */
  readonly replenish?: number;
}

/** A party's round-two answer: its share, and the fresh commitments asked for with `replenish`. */
export interface SignAnswer extends SignatureShare {
  /**
   * At most `replenish` of them; a party may send none (e.g. one that does not replenish). `null`
   * when the party sent some that the transport could not decode: the session names the party
   * (round-one misbehaviour), as for unsound ones.
   */
  readonly commitments?: readonly Round1Commitment[] | null;
}

/**
 * How the coordinator reaches the parties. Each call may reject or never settle; the session
 * bounds it with its timeout and then aborts `signal`.
 */
export interface SigningTransport<P = unknown> {
  commit(
    party: Identifier,
    request: CommitRequest,
    signal: AbortSignal,
  ): Promise<readonly Round1Commitment[]>;
  sign(party: Identifier, request: SignRequest<P>, signal: AbortSignal): Promise<SignAnswer>;
}

/**
 * Abort reasons, made once: `AbortController.abort()` without one builds a DOMException (and its
 * stack) each time, and every transport call aborts at least its timer.
 */
const RUN_CLOSED = new Error('signing run closed');
const CALL_TIMED_OUT = new Error('signing call timed out');
const CALL_SETTLED = new Error('signing call settled');

/** Resolve after `ms` milliseconds, or as soon as `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The default {@link Sleep}, on the host's `setTimeout`. */
export const timerSleep: Sleep = (ms, signal) => {
  if (typeof ms !== 'number' || !(ms >= 0)) badOption('ms', 'expected a non-negative number');
  if (!(signal instanceof AbortSignal)) badOption('signal', 'expected an AbortSignal');
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(id);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const id = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
};

/** What went wrong with one party in one round. `detail` never holds secret material. */
export interface PartyFault {
  readonly party: Identifier;
  readonly round: 1 | 2;
  /** The signing attempt (0 when the fault came before the first signing package). */
  readonly attempt: number;
  /** The party's error code when it sent one; `UNAVAILABLE` for a transport failure without one. */
  readonly code: ErrorCode;
  readonly detail: string;
}

export interface SigningSessionOptions<P = unknown> {
  readonly suite: AnyCiphersuite;
  readonly publicPackage: PublicKeyPackage;
  readonly transport: SigningTransport<P>;
  /** Bound on each transport call, in milliseconds (default 10 000). */
  readonly timeoutMs?: number;
  /** The timer behind the timeout (default {@link timerSleep}). */
  readonly sleep?: Sleep;
  /** Parties to try first, in order; the others follow in key-set order. */
  readonly preference?: readonly Identifier[];
  /**
   * Commitments to ask of a party at a time; extras are kept for later signings (default 1). From
   * 4 on, the session also asks each signer for one fresh commitment with its share
   * ({@link SignRequest.replenish}), so a warm pool stays full without batches, and tops a pool up
   * in the background once it is half spent (a party that does not replenish, or failed).
   */
  readonly batchSize?: number;
  /** Randomness for session ids (default: the platform CSPRNG). */
  readonly rng?: Rng;
}

export interface SignInput<P = unknown> {
  /** The bytes to sign. Give this, or `payload` with `messageFor`. */
  readonly message?: Uint8Array;
  /** Passed to every party in round two; each party derives the bytes it signs from it. */
  readonly payload?: P;
  /** Derives the message from `payload` (as the parties do). */
  readonly messageFor?: (payload: P) => Uint8Array;
  readonly sessionId?: string;
  /** Parties not to ask this time. */
  readonly exclude?: readonly Identifier[];
  /**
   * Parties every quorum must include (at most `t`; none excluded): they are asked first, and once
   * one of them fails or refuses the signing fails (`QUORUM_UNREACHABLE` with
   * `details.requiredLost`) rather than going on without it: a veto holder.
   */
  readonly required?: readonly Identifier[];
}

export interface SigningResult {
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  readonly sessionId: string;
  /** The signing package that produced the signature. */
  readonly signingPackage: SigningPackage;
  /** The parties whose shares make up the signature, in package order. */
  readonly signers: readonly Identifier[];
  /** Signing packages sent (1 when nobody failed in round two). */
  readonly attempts: number;
  /** Proven misbehaviour: bad commitments, bad shares. */
  readonly misbehaved: readonly PartyFault[];
  readonly timedOut: readonly PartyFault[];
  /** Transport errors and refusals. */
  readonly failed: readonly PartyFault[];
}

type Outcome<T> = { kind: 'value'; value: T } | { kind: 'timeout' } | { kind: 'error'; error: unknown };

interface Run {
  readonly sessionId: string;
  attempt: number;
  closed: boolean;
  readonly abort: AbortController;
  readonly dropped: Set<Identifier>;
  readonly inflight: Map<Identifier, Promise<void>>;
  /** Parties whose pooled commitments were flushed once after a stale-nonce refusal. */
  readonly flushed: Set<Identifier>;
  readonly misbehaved: PartyFault[];
  readonly timedOut: PartyFault[];
  readonly failed: PartyFault[];
}

/** A fresh run: nothing asked, dropped or blamed yet. */
function newRun(sessionId: string): Run {
  return {
    sessionId,
    attempt: 0,
    closed: false,
    abort: new AbortController(),
    dropped: new Set(),
    inflight: new Map(),
    flushed: new Set(),
    misbehaved: [],
    timedOut: [],
    failed: [],
  };
}

const MAX_TIMEOUT_MS = 2_147_483_647;

/** Commitments a session remembers per party as spent (one id is 128 characters). */
const SPENT_MEMORY = 1024;

/**
 * A commitment's id within one party's commitments: the hex of its two points (the sender is known
 * from context). Cheaper than `commitmentKey`'s hash, which the pool checks of every answer and
 * the spent memory of every package would otherwise compute again and again on the signing path.
 */
const idOf = (c: Round1Commitment): string => bytesToHex(c.hiding) + bytesToHex(c.binding);

function errorCode(e: unknown): ErrorCode {
  return e instanceof AapsError ? e.code : 'UNAVAILABLE';
}

function errorDetail(e: unknown): string {
  if (e instanceof AapsError) return `${e.name}: ${e.message}`;
  if (e instanceof Error) return `transport error: ${e.name}: ${e.message}`;
  return 'transport error';
}

function badOption(path: string, what: string): never {
  throw new ValidationError('INVALID_ARGUMENT', `${path}: ${what}`, [path]);
}

/**
 * A robust signing coordinator for one key set. `sign` may be called many times; commitments a
 * party sent ahead (batches) are kept and used one signing package at a time.
 */
export class SigningSession<P = unknown> {
  readonly threshold: number;
  readonly #suite: AnyCiphersuite;
  #pub: PublicKeyPackage;
  /** `sign` calls under way (a refreshed package is taken only when there are none). */
  #running = 0;
  /** Bumped by {@link adoptRefresh}: a top-up asked for before it brings commitments for old shares. */
  #generation = 0;
  readonly #transport: SigningTransport<P>;
  readonly #timeoutMs: number;
  readonly #sleep: Sleep;
  readonly #order: readonly Identifier[];
  readonly #batchSize: number;
  readonly #rng: Rng;
  readonly #pool = new Map<Identifier, Round1Commitment[]>();
  /**
   * The ids ({@link idOf}) of the commitments each party's pool gave to signing packages, the
   * latest {@link SPENT_MEMORY} of them: a party that sends one again (as fresh, or in a batch) is
   * named, and the commitment goes into no second package.
   */
  readonly #spent = new Map<Identifier, Set<string>>();
  /** Parties whose pool is being topped up in the background. */
  readonly #refilling = new Set<Identifier>();
  #refills = 0;

  constructor(opts: SigningSessionOptions<P>) {
    if (!opts || typeof opts !== 'object') badOption('options', 'expected object');
    const { suite, publicPackage, transport } = opts;
    assertSuite(suite);
    const prep = preparePublic(suite, publicPackage);
    if (!transport || typeof transport.commit !== 'function' || typeof transport.sign !== 'function') {
      badOption('transport', 'expected {commit, sign} functions');
    }
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      badOption('timeoutMs', `expected an integer in [1, ${MAX_TIMEOUT_MS}], got ${displayValue(timeoutMs)}`);
    }
    const batchSize = opts.batchSize ?? 1;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      badOption('batchSize', `expected an integer in [1, 10000], got ${displayValue(batchSize)}`);
    }
    if (opts.sleep !== undefined && typeof opts.sleep !== 'function')
      badOption('sleep', 'expected a function');
    if (opts.rng !== undefined && typeof opts.rng !== 'function') badOption('rng', 'expected a function');
    const known = [...prep.ids.keys()];
    const preference = this.#checkIds(opts.preference ?? [], 'preference', prep.ids);
    this.#order = Object.freeze([...preference, ...known.filter((id) => !preference.includes(id))]);
    this.threshold = prep.threshold.min;
    this.#suite = suite;
    this.#pub = publicPackage;
    this.#transport = transport;
    this.#timeoutMs = timeoutMs;
    this.#batchSize = batchSize;
    this.#sleep = opts.sleep ?? timerSleep;
    this.#rng = opts.rng ?? randomBytes;
  }

  /** Commitments held for later signings (for one party, or in all). */
  pooled(party?: Identifier): number {
    if (party !== undefined && typeof party !== 'string') badOption('party', 'expected an identifier');
    if (party !== undefined) return this.#pool.get(party)?.length ?? 0;
    let n = 0;
    for (const list of this.#pool.values()) n += list.length;
    return n;
  }

  /**
   * Take the public key package of a proactive refresh: the same group key, parties and
   * threshold, new verifying shares. Pooled commitments are dropped: a party binds each nonce to
   * the share it was drawn for (`keySetIdOf`), so it refuses those issued before the refresh, and
   * the next signing asks for fresh ones. Throws `AapsError('CONFLICT')` while a {@link sign} is
   * running (its shares would be judged against the wrong verifying shares: drain signings
   * first), and `ValidationError('INVALID_ARGUMENT')` naming the field for a package that is not
   * a refresh of this one (a re-key needs a new session).
   */
  adoptRefresh(publicPackage: PublicKeyPackage): void {
    const next = preparePublic(this.#suite, publicPackage);
    const current = preparePublic(this.#suite, this.#pub);
    const differs = (field: string, what: string): never => {
      throw new ValidationError('INVALID_ARGUMENT', `publicPackage.${field}: ${what}; a refresh keeps it`, [
        `publicPackage.${field}`,
      ]);
    };
    if (!equalBytes(publicPackage.groupPublicKey, this.#pub.groupPublicKey))
      differs('groupPublicKey', 'another group key');
    if (next.threshold.min !== current.threshold.min || next.threshold.max !== current.threshold.max)
      differs('threshold', 'another threshold');
    if (next.ids.size !== current.ids.size || [...current.ids.keys()].some((id) => !next.ids.has(id)))
      differs('verifyingShares', 'other parties');
    if (this.#running > 0) {
      throw new AapsError(
        'CONFLICT',
        `${this.#running} signing(s) under way: wait for them before adopting a refreshed package`,
      );
    }
    this.#pub = publicPackage;
    this.#pool.clear();
    this.#generation++;
  }

  /**
   * Produce a signature over the message with `t` honest parties. Throws
   * `ProtocolError('QUORUM_UNREACHABLE', culprits)` when fewer than `t` usable parties remain;
   * `culprits` are the parties proven to have misbehaved, and `details` carries the full report.
   */
  async sign(input: SignInput<P>): Promise<SigningResult> {
    if (!input || typeof input !== 'object') badOption('input', 'expected object');
    const message = this.#messageOf(input);
    const sessionId = input.sessionId ?? bytesToHex(randomBytesOf(this.#rng, 16));
    if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 128) {
      badOption('input.sessionId', 'expected a string of 1 to 128 characters');
    }
    const known = preparePublic(this.#suite, this.#pub).ids;
    const exclude = this.#checkIds(input.exclude ?? [], 'input.exclude', known);
    const required = this.#checkIds(input.required ?? [], 'input.required', known);
    if (required.length > this.threshold) {
      badOption(
        'input.required',
        `at most ${this.threshold} parties can be required, got ${required.length}`,
      );
    }
    const excludedRequired = required.findIndex((id) => exclude.includes(id));
    if (excludedRequired >= 0) {
      badOption(`input.required[${excludedRequired}]`, `${required[excludedRequired]} is also excluded`);
    }
    const candidates = [
      ...required,
      ...this.#order.filter((id) => !exclude.includes(id) && !required.includes(id)),
    ];
    const run = newRun(sessionId);
    this.#running++;
    try {
      for (;;) {
        const commitments = await this.#gatherQuorum(run, candidates, required);
        const quorum = commitments.map((c) => c.identifier);
        run.attempt++;
        const signingPackage: SigningPackage = Object.freeze({
          commitments: Object.freeze(commitments),
          message,
        });
        const replenish = this.#batchSize >= 4 ? 1 : 0;
        const request: SignRequest<P> = Object.freeze({
          sessionId,
          attempt: run.attempt,
          signingPackage,
          ...('payload' in input ? { payload: input.payload } : {}),
          ...(replenish > 0 ? { replenish } : {}),
        });
        const shares = await Promise.all(
          quorum.map((p) =>
            this.#call(run, (signal) => this.#transport.sign(p, request, signal)).then((out) =>
              this.#judgeShare(run, p, out, replenish),
            ),
          ),
        );
        if (shares.every((s): s is SignatureShare => s !== undefined)) {
          // Optimistic aggregation (RFC 9591 §5.3): one group-commitment computation and one
          // signature check; per-share checks (§5.4) run only when it fails, to name culprits.
          let signature: Uint8Array;
          try {
            signature = aggregate(this.#suite, signingPackage, shares, this.#pub);
          } catch (e) {
            if (
              !(e instanceof ProtocolError) ||
              e.code !== 'INVALID_SIGNATURE_SHARE' ||
              e.culprits.length === 0
            )
              throw e;
            for (const party of e.culprits) {
              this.#pool.delete(party);
              this.#fault(
                run,
                run.misbehaved,
                party,
                2,
                'INVALID_SIGNATURE_SHARE',
                'share fails the RFC 9591 §5.4 check',
              );
            }
            continue;
          }
          return Object.freeze({
            signature,
            message,
            sessionId,
            signingPackage,
            signers: Object.freeze([...quorum]),
            attempts: run.attempt,
            misbehaved: Object.freeze([...run.misbehaved]),
            timedOut: Object.freeze([...run.timedOut]),
            failed: Object.freeze([...run.failed]),
          });
        }
        // Some party failed this attempt: check the shares that did arrive, so that a cheater
        // among them is named now rather than carried into the next quorum.
        for (const share of shares) {
          if (share === undefined) continue;
          try {
            verifyShare(this.#suite, signingPackage, share, this.#pub);
          } catch (e) {
            if (!(e instanceof ProtocolError) || e.code !== 'INVALID_SIGNATURE_SHARE') throw e;
            this.#pool.delete(share.identifier);
            this.#fault(
              run,
              run.misbehaved,
              share.identifier,
              2,
              'INVALID_SIGNATURE_SHARE',
              'share fails the RFC 9591 §5.4 check',
            );
          }
        }
      }
    } finally {
      this.#running--;
      run.closed = true;
      run.abort.abort(RUN_CLOSED);
    }
  }

  #checkIds(
    ids: readonly Identifier[],
    path: string,
    known: ReadonlyMap<Identifier, bigint>,
  ): readonly Identifier[] {
    if (!Array.isArray(ids)) badOption(path, 'expected an array of identifiers');
    const seen = new Set<Identifier>();
    ids.forEach((id, i) => {
      if (!known.has(id)) {
        throw new ValidationError(
          'UNKNOWN_IDENTIFIER',
          `${path}[${i}]: ${displayValue(id)} is not in the key set`,
          [`${path}[${i}]`],
        );
      }
      if (seen.has(id)) {
        throw new ValidationError('DUPLICATE_IDENTIFIER', `${path}[${i}]: ${id} appears twice`, [
          `${path}[${i}]`,
        ]);
      }
      seen.add(id);
    });
    return [...ids];
  }

  #messageOf(input: SignInput<P>): Uint8Array {
    const hasMessage = input.message !== undefined;
    const hasDerive = input.messageFor !== undefined;
    if (hasMessage === hasDerive) badOption('input', 'give exactly one of message and messageFor');
    if (hasMessage) {
      if (!(input.message instanceof Uint8Array)) badOption('input.message', 'expected Uint8Array');
      return Uint8Array.from(input.message);
    }
    if (typeof input.messageFor !== 'function') badOption('input.messageFor', 'expected a function');
    if (!('payload' in input)) badOption('input.payload', 'messageFor needs a payload');
    const message = input.messageFor(input.payload as P);
    if (!(message instanceof Uint8Array)) badOption('input.messageFor', 'expected it to return Uint8Array');
    return Uint8Array.from(message);
  }

  #fault(run: Run, list: PartyFault[], party: Identifier, round: 1 | 2, code: ErrorCode, detail: string) {
    run.dropped.add(party);
    list.push(Object.freeze({ party, round, attempt: run.attempt, code, detail }));
  }

  /** One transport call, bounded by the timeout and by the end of the run. */
  async #call<T>(run: Run, fn: (signal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
    const call = new AbortController();
    const timer = new AbortController();
    const onClose = () => {
      call.abort(RUN_CLOSED);
      timer.abort(RUN_CLOSED);
    };
    run.abort.signal.addEventListener('abort', onClose, { once: true });
    try {
      const result = Promise.resolve()
        .then(() => fn(call.signal))
        .then(
          (value): Outcome<T> => ({ kind: 'value', value }),
          (error: unknown): Outcome<T> => ({ kind: 'error', error }),
        );
      const timeout = Promise.resolve()
        .then(() => this.#sleep(this.#timeoutMs, timer.signal))
        .then(
          (): Outcome<T> => ({ kind: 'timeout' }),
          (): Outcome<T> => ({ kind: 'timeout' }),
        );
      const out = await Promise.race([result, timeout]);
      if (out.kind === 'timeout') call.abort(CALL_TIMED_OUT);
      return out;
    } finally {
      timer.abort(CALL_SETTLED);
      run.abort.signal.removeEventListener('abort', onClose);
    }
  }

  /**
   * One commitment each from the first `t` candidates, in preference order, that hold one. Asks
   * every candidate without one for a batch, and waits only for the answers that decide the
   * quorum: those of parties earlier in the order that are still answering. The commitments are
   * taken from the pool in the same step, so no other signing can take them too.
   */
  async #gatherQuorum(
    run: Run,
    candidates: readonly Identifier[],
    required: readonly Identifier[],
  ): Promise<Round1Commitment[]> {
    const t = this.threshold;
    for (;;) {
      const alive = candidates.filter((p) => !run.dropped.has(p));
      const lost = required.filter((p) => run.dropped.has(p));
      if (alive.length < t || lost.length > 0) throw this.#unreachable(run, alive.length, lost);
      for (const p of alive) if (this.pooled(p) === 0 && !run.inflight.has(p)) this.#startCommit(run, p);
      const ready: Identifier[] = [];
      let pending: Promise<void> | undefined;
      for (const p of alive) {
        if (this.pooled(p) > 0) {
          ready.push(p);
          if (ready.length === t) {
            return ready.map((q) => {
              const c = this.#pool.get(q)!.shift()!;
              this.#remember(q, c);
              this.#maybeRefill(q);
              return c;
            });
          }
        } else {
          pending = run.inflight.get(p);
          break;
        }
      }
      if (pending) await pending;
    }
  }

  /** Note that `c` went into a signing package (only the latest {@link SPENT_MEMORY} are kept). */
  #remember(party: Identifier, c: Round1Commitment): void {
    const spent = this.#spent.get(party) ?? new Set<string>();
    this.#spent.set(party, spent);
    spent.add(idOf(c));
    if (spent.size > SPENT_MEMORY) spent.delete(spent.values().next().value!);
  }

  /**
   * With batched commitments, top a party's pool up in the background once it is half spent, so
   * that a warm session never waits for round one. A failed top-up is simply dropped: the next
   * signing that finds the pool empty asks in the foreground and attributes any fault.
   */
  #maybeRefill(party: Identifier): void {
    if (this.#batchSize < 4 || this.pooled(party) > this.#batchSize / 2 || this.#refilling.has(party)) return;
    this.#refilling.add(party);
    const run = newRun(`refill-${bytesToHex(randomBytesOf(this.#rng, 8))}-${(this.#refills++).toString(36)}`);
    const count = this.#batchSize;
    const generation = this.#generation;
    const request: CommitRequest = Object.freeze({ sessionId: run.sessionId, count });
    void this.#call(run, (signal) => this.#transport.commit(party, request, signal))
      .then((out) => {
        if (out.kind !== 'value' || generation !== this.#generation) return;
        if (this.#checkCommitments(party, out.value, count) !== undefined) return;
        const list = this.#pool.get(party) ?? [];
        list.push(...out.value);
        this.#pool.set(party, list);
      })
      .finally(() => {
        this.#refilling.delete(party);
        run.abort.abort(RUN_CLOSED);
      });
  }

  #startCommit(run: Run, party: Identifier): void {
    const count = this.#batchSize;
    const request: CommitRequest = Object.freeze({ sessionId: run.sessionId, count });
    const task = this.#call(run, (signal) => this.#transport.commit(party, request, signal)).then((out) => {
      run.inflight.delete(party);
      if (out.kind === 'value') {
        const problem = this.#checkCommitments(party, out.value, count);
        if (problem === undefined) {
          const list = this.#pool.get(party) ?? [];
          list.push(...out.value);
          this.#pool.set(party, list);
        } else if (!run.closed) {
          this.#pool.delete(party);
          this.#fault(run, run.misbehaved, party, 1, problem.code, problem.detail);
        }
      } else if (run.closed) {
        return;
      } else if (out.kind === 'timeout') {
        this.#fault(run, run.timedOut, party, 1, 'TIMEOUT', `no commitments within ${this.#timeoutMs} ms`);
      } else {
        this.#fault(run, run.failed, party, 1, errorCode(out.error), errorDetail(out.error));
      }
    });
    run.inflight.set(party, task);
  }

  /** Why a party's round-one answer is unusable, or undefined when every commitment is sound. */
  #checkCommitments(
    party: Identifier,
    value: unknown,
    count: number,
  ): { code: ErrorCode; detail: string } | undefined {
    if (!Array.isArray(value) || value.length < 1 || value.length > count) {
      return { code: 'DECODE_FAILED', detail: `expected an array of 1 to ${count} commitments` };
    }
    // Ids are the points' hex, not commitmentKey: hashing the whole pool on every answer cost the
    // coordinator about a millisecond an approval (a CPU profile of party.approval.3of5.http).
    const seen = new Set((this.#pool.get(party) ?? []).map(idOf));
    const spent = this.#spent.get(party);
    const { group } = this.#suite;
    for (const [i, c] of value.entries()) {
      const path = `commitments[${i}]`;
      if (!c || typeof c !== 'object' || c.identifier !== party) {
        return { code: 'COMMITMENT_MISMATCH', detail: `${path}: not a commitment from ${party}` };
      }
      for (const k of ['hiding', 'binding'] as const) {
        try {
          group.deserialize(c[k], `${path}.${k}`);
        } catch (e) {
          return { code: e instanceof AapsError ? e.code : 'INVALID_POINT', detail: `${path}.${k}: invalid` };
        }
      }
      const id = idOf(c);
      if (seen.has(id)) return { code: 'NONCE_REUSE', detail: `${path}: commitment sent twice` };
      if (spent?.has(id))
        return { code: 'NONCE_REUSE', detail: `${path}: commitment already spent in a signing package` };
      seen.add(id);
    }
    return undefined;
  }

  /**
   * Check the form of a round-two answer as it arrives; record the fault and return undefined when
   * it fails. The RFC 9591 §5.4 check runs later: only when the aggregate does not verify, or when
   * the attempt failed anyway.
   */
  #judgeShare(
    run: Run,
    party: Identifier,
    out: Outcome<SignAnswer>,
    replenish: number,
  ): SignatureShare | undefined {
    if (out.kind === 'timeout') {
      this.#fault(run, run.timedOut, party, 2, 'TIMEOUT', `no signature share within ${this.#timeoutMs} ms`);
      return undefined;
    }
    if (out.kind === 'error') {
      const code = errorCode(out.error);
      if ((code === 'UNKNOWN_NONCE' || code === 'NONCE_REUSE') && !run.flushed.has(party)) {
        // The party no longer holds the nonces of its pooled commitments (e.g. it lost its store):
        // forget them and ask it for fresh ones, once per run.
        run.flushed.add(party);
        this.#pool.delete(party);
        return undefined;
      }
      this.#fault(run, run.failed, party, 2, code, errorDetail(out.error));
      return undefined;
    }
    const v = out.value;
    if (!v || typeof v !== 'object' || v.identifier !== party || !(v.share instanceof Uint8Array)) {
      this.#fault(
        run,
        run.misbehaved,
        party,
        2,
        'INVALID_SIGNATURE_SHARE',
        `not a signature share from ${party}`,
      );
      return undefined;
    }
    const share: SignatureShare = Object.freeze({ identifier: party, share: Uint8Array.from(v.share) });
    if (share.share.length !== this.#suite.field.BYTES) {
      this.#pool.delete(party);
      this.#fault(run, run.misbehaved, party, 2, 'INVALID_SIGNATURE_SHARE', 'share has the wrong length');
      return undefined;
    }
    if (v.commitments !== undefined && !this.#poolFresh(run, party, v.commitments, replenish))
      return undefined;
    return share;
  }

  /**
   * Pool the fresh commitments a round-two answer brought. Commitments not asked for, or unsound,
   * are proven misbehaviour like a bad round one: the party is dropped from the run, its pool
   * flushed, and false returned. (No refresh is adopted while a signing runs, so they are for the
   * key set of the package they came with.)
   */
  #poolFresh(run: Run, party: Identifier, fresh: unknown, replenish: number): boolean {
    if (Array.isArray(fresh) && fresh.length === 0) return true;
    const problem =
      replenish > 0
        ? this.#checkCommitments(party, fresh, replenish)
        : { code: 'DECODE_FAILED' as const, detail: 'commitments sent with a share that asked for none' };
    if (problem !== undefined) {
      this.#pool.delete(party);
      this.#fault(run, run.misbehaved, party, 1, problem.code, `with its share: ${problem.detail}`);
      return false;
    }
    const list = this.#pool.get(party) ?? [];
    list.push(...(fresh as readonly Round1Commitment[]));
    this.#pool.set(party, list);
    return true;
  }

  #unreachable(run: Run, alive: number, requiredLost: readonly Identifier[] = []): ProtocolError {
    const culprits = [...new Set(run.misbehaved.map((f) => f.party))];
    const message =
      requiredLost.length > 0
        ? `required ${requiredLost.length === 1 ? 'party' : 'parties'} ${requiredLost.join(', ')} did not sign (after ${run.attempt} signing attempts)`
        : `${alive} usable parties remain, ${this.threshold} are needed (after ${run.attempt} signing attempts)`;
    return new ProtocolError('QUORUM_UNREACHABLE', message, culprits, {
      details: {
        sessionId: run.sessionId,
        attempts: run.attempt,
        misbehaved: [...run.misbehaved],
        timedOut: [...run.timedOut],
        failed: [...run.failed],
        ...(requiredLost.length > 0 ? { requiredLost: [...requiredLost] } : {}),
      },
    });
  }
}
