/**
 * `PartyClient`: how the gateway (and `aaps dkg`, and the tests) call a party. Each call sends a
 * signed `AAPS-Call` header (`call-auth.ts`: the party checks it before reading the body) and a
 * signed `ProtocolRequest` and accepts only a `ProtocolResponse` signed by that party's roster
 * key, answering this very request as a success (no `outcome`: the signed part of an error answer
 * or refusal is none). Failures become `AapsError`s carrying the party's own error code, the party
 * id and, for policy refusals, the party-signed refusal. An error answer counts only as the party
 * signed it for this request (`response` beside the `{error}` body, marked `outcome: 'error'`);
 * any other is no answer from the party (`UNAVAILABLE`). The parties an error names are kept as
 * `details.claimed_culprits`, the party's claim, never culprits.
 */
import {
  AapsError,
  type ErrorCode,
  hexToBytes,
  type IdentityKey,
  PolicyRefusal,
  type SignedEnvelope,
  validateEnvelope,
  verifyEnvelope,
} from '@aaps/mpc-core';
import { type CallSigner, callSigner } from './call-auth.js';
import { CallCoalescer } from './call-coalescer.js';
import { type HttpPostInit, httpPost, MAX_ANSWER_BYTES } from './http-post.js';
import { type RefusalFacts, refusalFactsOf } from './party/routes/sign.js';
import { partyById, type Roster, type RosterParty } from './roster.js';
import {
  isBatchable,
  makeRequest,
  type RpcContext,
  type RpcKind,
  type RpcRequestPayload,
  type RpcResponsePayload,
} from './rpc.js';

export const RPC_PATHS: Readonly<Record<RpcKind, string>> = {
  'dkg.round1': '/v1/dkg/round1',
  'dkg.round2': '/v1/dkg/round2',
  'dkg.round3': '/v1/dkg/round3',
  'sign.commit': '/v1/sign/commit',
  'sign.round2': '/v1/sign/round2',
  'agent.step': '/v1/agent/step',
  'key.info': '/v1/key/info',
  'key.pending': '/v1/key/pending',
  'key.commit': '/v1/key/commit',
  'refresh.round1': '/v1/refresh/round1',
  'refresh.round2': '/v1/refresh/round2',
  'refresh.round3': '/v1/refresh/round3',
  'repair.step1': '/v1/repair/step1',
  'repair.step2': '/v1/repair/step2',
  'repair.step3': '/v1/repair/step3',
  'agg.deal': '/v1/agg/deal',
  'agg.evaluate': '/v1/agg/evaluate',
  'agg.confirm': '/v1/agg/confirm',
  'agg.reveal': '/v1/agg/reveal',
  'sealed.release': '/v1/sealed/release',
  'checkpoint.witness': '/v1/checkpoint/witness',
  batch: '/v1/batch',
};

export interface PartyClientOptions {
  roster: Roster;
  caller: { id: string; key: IdentityKey };
  /**
   * The transport (default {@link httpPost}: node:http keep-alive, answers read up to a bound;
   * tests wrap it or pass `fetch`, which ignores `maxAnswerBytes`).
   */
  fetch?: (input: URL, init: HttpPostInit) => Promise<Response>;
  /** Per-call timeout (default 10 s). */
  timeoutMs?: number;
  now?: () => Date;
  /**
   * Coalesce concurrent commitment, round-two and agent-step calls to one party into `batch`
   * requests ({@link CallCoalescer}): at most `maxInflight` requests per party at a time (default
   * 2). Off by default: every call is its own request.
   */
  coalesce?: { maxInflight?: number };
}

/** Per-call options of {@link PartyClient.call}. */
export interface CallOptions {
  signal?: AbortSignal;
  /** This call's timeout in ms (default: the client's `timeoutMs`). */
  timeoutMs?: number;
}

/**
 * The most bytes of a party's answer the client reads: an aggregation answer may be as large as the
 * largest aggregation request a party accepts; every other answer (a batch of 16 hot-path calls at
 * most) far below 16 MiB. A party that sends more is cut off and its call fails (`UNAVAILABLE`).
 */
function maxAnswerBytes(kind: RpcKind): number {
  return kind.startsWith('agg.') ? MAX_ANSWER_BYTES : 16 * 1024 * 1024;
}

/**
 * The most bytes of a party's error answer (a status that is not 2xx) the client reads: until its
 * signature is checked anything on the path could have sent it, and an honest one (a code, a
 * message, at most 100 fields, a signed refusal, reveal requests, and the signed answer repeating
 * them) is a few KiB. Past it the call fails (`UNAVAILABLE`), as for an answer over
 * {@link maxAnswerBytes}.
 */
export const MAX_ERROR_ANSWER_BYTES = 64 * 1024;

/** The most characters of an error body's message the client keeps (the rest is cut, with `…`). */
const MAX_ERROR_MESSAGE_CHARS = 1024;

export class PartyClient {
  readonly #opts: PartyClientOptions;
  readonly #fetch: NonNullable<PartyClientOptions['fetch']>;
  readonly #coalescer: CallCoalescer | undefined;
  /** The call header of every request (call-auth.ts), one key per party. */
  readonly #calls: CallSigner;

  constructor(opts: PartyClientOptions) {
    this.#opts = opts;
    this.#fetch = opts.fetch ?? httpPost;
    this.#calls = callSigner(opts.caller, opts.roster.parties);
    this.#coalescer = opts.coalesce
      ? new CallCoalescer(
          (party, kind, session, body, ctx, signal) => this.#post(party, kind, session, body, ctx, signal),
          (party, kind, status, json, session) => this.#errorFrom(party, kind, status, json, session),
          opts.coalesce.maxInflight,
        )
      : undefined;
  }

  get roster(): Roster {
    return this.#opts.roster;
  }

  /** The per-call timeout calls get unless they name their own. */
  get timeoutMs(): number {
    return this.#opts.timeoutMs ?? 10_000;
  }

  /**
   * One call. `options.signal` aborts it; `options.timeoutMs` replaces the client's timeout for it
   * (long aggregation rounds use it), except for a call coalesced into a `batch` request, which
   * keeps the client's.
   */
  async call<T = Record<string, unknown>>(
    partyId: string,
    kind: RpcKind,
    sessionId: string,
    body: Record<string, unknown>,
    ctx: RpcContext = { trace_id: sessionId },
    options: CallOptions = {},
  ): Promise<T> {
    const { signal, timeoutMs } = options;
    if (this.#coalescer && isBatchable(kind)) {
      return this.#coalescer.call(partyId, { kind, session_id: sessionId, ctx, body }, signal) as Promise<T>;
    }
    return this.#post(partyId, kind, sessionId, body, ctx, signal, timeoutMs) as Promise<T>;
  }

  /** One signed request, one verified answer. */
  async #post(
    partyId: string,
    kind: RpcKind,
    sessionId: string,
    body: Record<string, unknown>,
    ctx: RpcContext,
    signal?: AbortSignal,
    timeoutMs = this.timeoutMs,
  ): Promise<Record<string, unknown>> {
    const party = partyById(this.#opts.roster, partyId);
    if (!party) throw new AapsError('UNKNOWN_IDENTIFIER', `party ${partyId} is not in the roster`);
    const at = this.#opts.now?.() ?? new Date();
    const request = makeRequest(this.#opts.caller, partyId, kind, sessionId, body, ctx, at);
    const timeout = AbortSignal.timeout(timeoutMs);
    const text = JSON.stringify(request);
    let res: Response;
    try {
      res = await this.#fetch(new URL(RPC_PATHS[kind], party.url), {
        method: 'POST',
        // The call header lets the party refuse strangers before reading a body (call-auth.ts).
        headers: this.#calls.headers(partyId, RPC_PATHS[kind], text, at),
        body: text,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        maxAnswerBytes: maxAnswerBytes(kind),
        maxErrorBytes: MAX_ERROR_ANSWER_BYTES,
      });
    } catch (cause) {
      if (cause instanceof AapsError && cause.code === 'PAYLOAD_TOO_LARGE') {
        const max = cause.details['max_bytes'];
        throw new AapsError(
          'UNAVAILABLE',
          `${partyId} answered more than ${typeof max === 'number' ? max : maxAnswerBytes(kind)} bytes (${kind})`,
          {
            cause,
            details: { party: partyId, kind },
          },
        );
      }
      const timedOut = timeout.aborted;
      throw new AapsError(
        timedOut ? 'TIMEOUT' : 'UNAVAILABLE',
        `${partyId} ${timedOut ? 'timed out' : 'is unreachable'} (${kind})`,
        {
          cause,
          details: { party: partyId, kind },
        },
      );
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch (cause) {
      throw new AapsError('UNAVAILABLE', `${partyId} answered ${res.status} without JSON (${kind})`, {
        cause,
        details: { party: partyId },
      });
    }
    if (!res.ok) throw this.#errorAnswer(party, kind, res.status, json, request, sessionId);
    let env: SignedEnvelope<RpcResponsePayload>;
    try {
      env = verifiedResponse(party, json);
    } catch (cause) {
      throw new AapsError('INVALID_SIGNATURE', `${partyId} sent an unsigned or forged response (${kind})`, {
        cause,
        details: { party: partyId },
      });
    }
    if (env.payload.in_reply_to !== request.meta.idempotency_key || env.payload.kind !== kind) {
      throw new AapsError('INCONSISTENT_TRANSCRIPT', `${partyId} answered another request (${kind})`, {
        details: { party: partyId },
      });
    }
    if (env.payload.outcome !== undefined) {
      // The signed part of the party's error answer or refusal, sent on alone as a success: the
      // party never answered so (its error answer is not a 2xx); anything on the path could cut
      // it out. No answer from the party, as an error answer it did not sign is.
      throw new AapsError(
        'UNAVAILABLE',
        `${partyId} answered ${res.status} with what it signed as ${env.payload.outcome === 'refused' ? 'a refusal' : 'an error answer'}, not as a success (${kind})`,
        { details: { party: partyId, kind } },
      );
    }
    return env.payload.body;
  }

  /**
   * The error a party answered to `request`: taken only from the `ProtocolResponse` it signed
   * beside the body (`response`: `{status, error}`, answering this very request, as a success
   * does). An error answer without one, with one that does not verify, or with one answering
   * another request (replayed) could come from anything on the path: it is no answer from the
   * party (`UNAVAILABLE`, naming it, as a lost connection), never the code it claims. What it
   * claimed is kept for the operator (`details.claimed`), and decides nothing.
   */
  #errorAnswer(
    party: RosterParty,
    kind: RpcKind,
    status: number,
    json: unknown,
    request: SignedEnvelope<RpcRequestPayload>,
    sessionId: string,
  ): AapsError {
    const signed = signedErrorOf(party, kind, json, request);
    if (signed !== undefined) {
      const refusal = (json as { refusal?: unknown } | null)?.refusal;
      return this.#errorFrom(
        party.id,
        kind,
        signed.status,
        { error: signed.error, refusal },
        sessionId,
        request.meta.idempotency_key,
      );
    }
    const err = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof err?.code === 'string' ? err.code.slice(0, 64) : undefined;
    const said = typeof err?.message === 'string' ? cut(err.message) : undefined;
    return new AapsError(
      'UNAVAILABLE',
      `${party.id} answered ${status} with an error it did not sign for this request (${kind})${code === undefined ? '' : `: claimed ${code}${said === undefined ? '' : `: ${said}`}`}`,
      {
        details: {
          party: party.id,
          kind,
          claimed: {
            status,
            ...(code === undefined ? {} : { code }),
            ...(said === undefined ? {} : { message: said }),
          },
        },
      },
    );
  }

  /**
   * The error of a failed call as the party stated it (`json`: `{error, refusal?}`, from its signed
   * error answer, or a call's result in a signed batch answer). `inReplyTo`: the idempotency key
   * of the request it answers, which a refusal must answer too (a call in a batch has none: the
   * batch's signed answer carries its refusal).
   */
  #errorFrom(
    partyId: string,
    kind: RpcKind,
    status: number,
    json: unknown,
    sessionId: string,
    inReplyTo?: string,
  ): AapsError {
    const err = (
      json as {
        error?: {
          code?: string;
          message?: string;
          rule?: string;
          culprits?: unknown;
          fields?: unknown;
          details?: { check?: unknown; reveal_requests?: unknown };
        };
      }
    )?.error;
    const code = (typeof err?.code === 'string' ? err.code : 'UNAVAILABLE') as ErrorCode;
    const said = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
    const message = `${partyId}: ${cut(said)}`;
    // The parties an error names are the party's claim (a lying party names honest ones), kept for
    // the record, never culprits (those are named only on proof).
    // What failed, as the party said (for the record and the operator): the fields and the check.
    const fields = Array.isArray(err?.fields)
      ? err.fields
          .filter((f): f is string => typeof f === 'string')
          .map((f) => f.slice(0, 200))
          .slice(0, 16)
      : [];
    const check = typeof err?.details?.check === 'string' ? err.details.check.slice(0, 100) : undefined;
    const revealRequests = revealRequestsOf(this.roster, err?.details?.reveal_requests);
    const details = {
      party: partyId,
      kind,
      status,
      claimed_culprits: claimedCulprits(err?.culprits),
      ...(fields.length > 0 ? { fields } : {}),
      ...(check === undefined ? {} : { check }),
      ...(revealRequests === undefined ? {} : { reveal_requests: revealRequests }),
    };
    if (code === 'POLICY_REFUSED') {
      // A refusal counts only as the party signed it (a veto ends an approval; a refusal names a
      // rule), for this call: the party's refusal of an earlier one could be put beside it.
      const refusal = (json as { refusal?: unknown }).refusal;
      const signed = this.#signedRefusal(partyId, refusal, kind, sessionId, inReplyTo);
      if (signed === undefined) {
        return new AapsError('INVALID_SIGNATURE', `${partyId} sent a refusal it did not sign (${kind})`, {
          details,
        });
      }
      const { rule, ...facts } = signed;
      return new PolicyRefusal(rule, message, { details: { ...details, rule, refusal, ...facts } });
    }
    return new AapsError(code, message, { details });
  }

  /**
   * The rule and facts (`RefusalFacts`: `signed_size`, the checkpoint size it last signed) of a
   * refusal of this call (its kind and session, and, given `inReplyTo`, this very request) signed
   * by that party's roster key, or undefined when it is not.
   */
  #signedRefusal(
    partyId: string,
    refusal: unknown,
    kind: RpcKind,
    sessionId: string,
    inReplyTo: string | undefined,
  ): ({ rule: string } & RefusalFacts) | undefined {
    const party = partyById(this.#opts.roster, partyId);
    if (party === undefined || refusal === undefined) return undefined;
    try {
      const env = verifiedResponse(party, refusal);
      // A refusal, as the party signed it (not its success or error answer to the call).
      if (env.payload.outcome !== 'refused') return undefined;
      // Of this call (a party's refusal of another session, or of an earlier request, is none).
      if (env.payload.kind !== kind || env.payload.session_id !== sessionId) return undefined;
      if (inReplyTo !== undefined && env.payload.in_reply_to !== inReplyTo) return undefined;
      const refused = (env.payload.body as { refused?: { rule?: unknown } } | undefined)?.refused;
      if (typeof refused?.rule !== 'string') return undefined;
      return { rule: refused.rule, ...refusalFactsOf(refused) };
    } catch {
      return undefined;
    }
  }
}

/** `said` cut to {@link MAX_ERROR_MESSAGE_CHARS} characters (the rest as `…`). */
const cut = (said: string) =>
  said.length > MAX_ERROR_MESSAGE_CHARS ? `${said.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…` : said;

/**
 * The status and error `party` signed in an error answer to `request` (`response`: a
 * `ProtocolResponse` from its roster key answering this request's idempotency key and kind, marked
 * `outcome: 'error'`, its body `{status, error: {code, ...}}`), or undefined when the answer
 * carries none such.
 */
function signedErrorOf(
  party: RosterParty,
  kind: RpcKind,
  json: unknown,
  request: SignedEnvelope<RpcRequestPayload>,
): { status: number; error: Record<string, unknown> } | undefined {
  const response = (json as { response?: unknown } | null)?.response;
  if (response === undefined) return undefined;
  let env: SignedEnvelope<RpcResponsePayload>;
  try {
    env = verifiedResponse(party, response);
  } catch {
    return undefined;
  }
  if (env.payload.in_reply_to !== request.meta.idempotency_key || env.payload.kind !== kind) return undefined;
  // An error answer, as the party signed it (not its success or refusal of this request).
  if (env.payload.outcome !== 'error') return undefined;
  const { status, error } = env.payload.body as { status?: unknown; error?: unknown };
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
    return undefined;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return undefined;
  if (typeof (error as { code?: unknown }).code !== 'string') return undefined;
  return { status, error: error as Record<string, unknown> };
}

/** The most identifiers kept from one error body's claim. */
const MAX_CLAIMED = 64;

/** The identifiers an unsigned error body names (strings only, each once, at most {@link MAX_CLAIMED}). */
function claimedCulprits(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return [...new Set(list.filter((c): c is string => typeof c === 'string'))].slice(0, MAX_CLAIMED);
}

/**
 * An aggregation receiver's reveal requests in an error body (`details.reveal_requests`: by dealer
 * party id, a base64 signature each), kept for the complaint step: roster party ids only, strings
 * of at most 200 characters. The body is unsigned, but each request is signed by the receiver, and
 * the dealer checks it; `undefined` if there are none.
 */
function revealRequestsOf(roster: Roster, raw: unknown): Record<string, string> | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const out: Record<string, string> = {};
  for (const p of roster.parties) {
    const v = (raw as Record<string, unknown>)[p.id];
    if (typeof v === 'string' && v.length <= 200) out[p.id] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A `ProtocolResponse` envelope from `party`, signed by its roster key; throws otherwise. */
function verifiedResponse(party: RosterParty, json: unknown): SignedEnvelope<RpcResponsePayload> {
  const env = validateEnvelope(json) as unknown as SignedEnvelope<RpcResponsePayload>;
  if (env.meta.source_agent !== party.id || env.meta.message_type !== 'ProtocolResponse')
    throw new Error('wrong sender or type');
  verifyEnvelope(env, hexToBytes(party.identity_key));
  return env;
}
