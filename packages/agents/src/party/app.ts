/**
 * `createPartyApp(deps)`: the party node as a Hono app value. It never listens and opens nothing;
 * `main.ts` does. Every protocol route is authenticated by {@link authenticate}, answers with a
 * `ProtocolResponse` envelope signed by this party, and refusals carry a signed refusal too.
 */
import {
  AapsError,
  bytesToHex,
  type Circuit,
  PolicyRefusal,
  PublicKeyPackageCodec,
  type SignedEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { BodyBudget } from '../http-body.js';
import { errorBody } from '../http-errors.js';
import { PROMETHEUS_TEXT_MEDIA_TYPE } from '../metrics.js';
import { policyInForce } from '../policy/in-force.js';
import type { AggregationRef, ApprovalProposal } from '../policy/proposal.js';
import {
  type BatchCall,
  type BatchResult,
  isBatchable,
  MAX_BATCH_CALLS,
  makeErrorAnswer,
  makeResponse,
  type RpcKind,
  type RpcRequestPayload,
} from '../rpc.js';
import { partyVersion } from '../version.js';
import { authenticate } from './auth.js';
import {
  createPartyMetrics,
  type Env,
  type PartyDeps,
  type PartyMetrics,
  type PartyState,
} from './context.js';
import { DealingPadPool, PAD_SCALAR_BUDGET, padTargets } from './dealing-pads.js';
import { createKeyCommitHandlers } from './key-commit.js';
import { noLogReason, witnessedLog } from './log-origin.js';
import { citedAggregationSessions, PooledRiskLedger, riskViewDigest } from './pooled-risk.js';
import { type RejectionLog, rejectionLog } from './rejection-log.js';
import {
  aggregationBodyAllowance,
  createAggregationHandlers,
  DEALT_SESSION_RETENTION_MS,
  readPartyCircuits,
} from './routes/aggregation.js';
import { createDkgHandlers } from './routes/dkg.js';
import { createKeyHandlers } from './routes/keys.js';
import { createSignHandlers, refusalFactsOf } from './routes/sign.js';
import { createStepHandler } from './routes/step.js';
import { createUnsealHandler } from './routes/unseal.js';
import { createWitnessHandler } from './routes/witness.js';
import { createRequestRecordChecker } from './unseal-record.js';

/** The least a party's body budget holds (see `BodyBudget`). */
const BODY_BUDGET_FLOOR = 8 * 1024 * 1024;

export interface PartyApp {
  app: Hono<Env>;
  state: PartyState;
  metrics: PartyMetrics;
  /** Dealing pads for vector inputs, when the app was asked to prepare them (see `dealingPads`). */
  pads?: DealingPadPool;
  /** Refuse new sessions, wait (bounded) for those in flight. */
  drain(timeoutMs?: number): Promise<void>;
}

/** A protocol call's handler; `request` is the authenticated request (for a batched call, its view). */
type Handler = (
  session: string,
  body: Record<string, unknown>,
  request: SignedEnvelope<RpcRequestPayload>,
) => unknown | Promise<unknown>;

export interface PartyAppOptions {
  /**
   * Prepare dealing pads for the vector inputs this party provides, while idle (`dealing-pads.ts`;
   * a running party node does; in-process tests get dealings computed in full unless they ask).
   */
  dealingPads?: boolean;
  /**
   * The party's metrics and refusal log, when its server made them first (`main.ts`: what the
   * server refuses before the app sees a request is counted and logged with the app's refusals).
   */
  metrics?: PartyMetrics;
  rejections?: RejectionLog;
}

export async function createPartyApp(deps: PartyDeps, options: PartyAppOptions = {}): Promise<PartyApp> {
  const metrics = options.metrics ?? createPartyMetrics();
  const state: PartyState = {
    key: await deps.store.loadKey(),
    pending: await deps.store.loadPendingKey(),
    dkg: new Map(),
    inflight: 0,
    shuttingDown: false,
  };
  const me = { id: deps.self.id, key: deps.identity };
  const now = deps.now ?? (() => new Date());
  const commits = createKeyCommitHandlers(deps, state);
  const dkg = createDkgHandlers(deps, state, commits);
  // Aggregations this party evaluated and saw opened: the only pooled risk refs it accepts, for
  // 30 days. Kept in its store (a restart between pooling and signing loses none); memory holds
  // the newest 10,000, read at start through the store's time index.
  const pooled = await PooledRiskLedger.open(deps.store, {
    now,
    retentionMs: DEALT_SESSION_RETENTION_MS,
    // A score pooled under another risk view of this department's (its policy changed and the
    // party restarted) decides nothing here; evidence of what it decided is still signed.
    riskView: riskViewDigest(deps.policy),
    onDamaged: (session) =>
      deps.logger.warn('agg.ledger_damaged', {
        session,
        note: 'a stored confirmation does not read: skipped (references to that round are refused)',
      }),
  });
  // For a decision: `'stale'` for a round confirmed here that no longer counts (see checkRef).
  const verifyAggregationRef = (ref: AggregationRef, proposal: ApprovalProposal) => {
    const standing = pooled.checkRef(ref, proposal);
    return standing === 'holds' ? true : standing === 'stale' ? ('stale' as const) : false;
  };
  const sign = createSignHandlers(deps, state, verifyAggregationRef, (ref, proposal) =>
    pooled.verifyRef(ref, proposal, { anyRiskView: true }),
  );
  const step = createStepHandler(deps, verifyAggregationRef);
  const keys = createKeyHandlers(deps, state, commits);
  const unseal = createUnsealHandler({
    ...deps,
    requestRecord: createRequestRecordChecker({
      roster: deps.roster,
      group: () =>
        state.key && {
          groupPublicKey: state.key.publicPackage.groupPublicKey,
          threshold: state.key.publicPackage.threshold,
          ciphersuite: deps.suite.id,
        },
      // The log it witnesses (configured, or pinned by its first checkpoint): a record in any
      // other log, a side log the gateway started say, shows nothing logged.
      logOrigin: () => witnessedLog(deps.config, deps.store).origin,
      noLogReason: () => noLogReason(witnessedLog(deps.config, deps.store)),
    }),
  });
  const witness = createWitnessHandler(deps, state);
  const circuits = readPartyCircuits(deps);
  // What operators compare across parties: every party must trust the same circuits.
  deps.logger.info('circuits.trusted', {
    circuits: [...circuits.values()].map((c) => `${c.id} v${c.version} ${c.digestHex}`).sort(),
  });
  // Started last, once the app is built (`agg` is read only from then on).
  const pads = options.dealingPads ? dealingPadPool(deps, circuits.values(), () => agg.inRound()) : undefined;
  const agg = createAggregationHandlers(deps, circuits, pooled, pads);
  // Aggregation requests carry share vectors: their limit grows with the largest trusted circuit.
  const aggBodyBytes = deps.config.maxBodyBytes + aggregationBodyAllowance(circuits, deps.suite);
  // Bodies are read once their call header shows the coordinator sent them (before the envelope
  // authenticates the body): all of them together may hold twice the largest one, and at least
  // 8 MiB; past that a request is refused (503), not buffered.
  const bodies = new BodyBudget(Math.max(BODY_BUDGET_FLOOR, 2 * aggBodyBytes));
  // Refusals are logged coalesced per reason across all routes (strangers must not grow the log).
  const rejections = options.rejections ?? rejectionLog(deps.logger);
  const app = new Hono<Env>();

  /**
   * The answer a failed request gets: {@link failureBody}, signed by the party as it signs a
   * success (`response`: `makeErrorAnswer`) once the request is authenticated.
   */
  const failure = (
    err: unknown,
    request: SignedEnvelope<RpcRequestPayload> | undefined,
    routeKind?: RpcKind | 'batch',
  ): { status: number; json: ErrorAnswer } => {
    const answer = failureBody(err, request, routeKind);
    if (request === undefined) return answer;
    return { status: answer.status, json: makeErrorAnswer(me, request, answer.status, answer.json, now()) };
  };
  /**
   * A failed call's HTTP status and error body, with a signed refusal for a refusal: what a call
   * in a batch answers as it is (the batch's signed answer carries it), and what {@link failure}
   * signs for a request of its own.
   */
  const failureBody = (
    err: unknown,
    request: SignedEnvelope<RpcRequestPayload> | undefined,
    routeKind?: RpcKind | 'batch',
  ): { status: number; json: ErrorAnswer } => {
    const { status, body } = errorBody(err);
    // A call refused before its envelope is read (a stranger, a body over the limit, a store that
    // takes no nonce) is counted under its route's kind.
    const kind = request?.payload.kind ?? routeKind ?? 'unknown';
    metrics.requests.inc({ kind, outcome: body.error.code });
    if (err instanceof PolicyRefusal) {
      metrics.refusals.inc({ rule: err.rule });
      // The message says why (it goes to the caller in the signed refusal too; no secret is in one).
      deps.logger.info('policy.refused', {
        kind,
        rule: err.rule,
        message: err.message,
        session: request?.payload.session_id,
        trace_id: request?.meta.trace_id,
      });
      if (request) {
        // Marked a refusal (`outcome`): it answers the request too, and must not pass for a success.
        const refusal = makeResponse(
          me,
          request,
          { refused: { rule: err.rule, message: err.message, ...refusalFactsOf(err.details) } },
          now(),
          'refused',
        );
        return { status, json: { ...body, refusal } };
      }
    } else if (!(err instanceof AapsError)) {
      // The error's name and codes only (an I/O code such as LEVEL_IO_ERROR or ENOSPC says what
      // broke); never its message, which could quote what the party was handling.
      const codeOf = (x: unknown) => {
        const c = (x as { code?: unknown } | null | undefined)?.code;
        return typeof c === 'string' && /^[A-Z0-9_]{1,64}$/.test(c) ? c : undefined;
      };
      deps.logger.error('request.failed', {
        kind,
        error: err instanceof Error ? err.name : 'unknown',
        code: codeOf(err),
        cause_code: codeOf((err as { cause?: unknown } | null)?.cause),
      });
    } else if (status >= 500 || err.code === 'NONCE_REUSE') {
      deps.logger.warn('request.error', { kind, code: err.code, session: request?.payload.session_id });
    }
    return { status, json: body };
  };

  app.onError((err, c) => {
    const { status, json } = failure(err, c.get('request'), c.get('kind'));
    return c.json(json, status as 400);
  });

  app.notFound((c) =>
    c.json(
      { error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` } },
      404,
    ),
  );

  // Which policy this party enforces (its file, or its role's default) and the digest of it.
  const inForce = policyInForce(deps.config.policyPath, deps.policy);
  app.get('/healthz', (c) => {
    const log = witnessedLog(deps.config, deps.store);
    const storage = deps.store.writeHealth();
    const health = {
      status: storage.ok ? (state.shuttingDown ? 'draining' : 'ok') : 'unavailable',
      party: deps.self.id,
      role: deps.self.role,
      version: partyVersion(),
      ...inForce,
      has_key: state.key !== undefined,
      group_public_key: state.key ? bytesToHex(state.key.publicPackage.groupPublicKey) : null,
      roster_digest: deps.rosterDigest,
      // The log this party witnesses, and whether its configuration or its first checkpoint set it.
      log_origin: log.origin ?? null,
      log_origin_source: log.source,
      ...(log.source === 'undecided' ? { log_origin_candidates: log.candidates } : {}),
      ...(pads ? { dealing_pads: pads.status() } : {}),
    };
    if (!storage.ok) {
      // A party whose database takes no writes refuses every call (each one's nonce is stored
      // before it is handled): say so, so that a supervisor or a liveness probe restarts it.
      const message = `the database takes no writes since ${storage.since} (${storage.error}); restart the party once the cause is gone`;
      return c.json({ error: { code: 'UNAVAILABLE', message }, ...health }, 503);
    }
    // A stopping party refuses new calls (`run`), so a probe must not count it ready; the
    // gateway answers 503 while it stops too.
    if (state.shuttingDown) {
      const error = { code: 'UNAVAILABLE', message: 'the party is stopping; retry' };
      return c.json({ error, ...health }, 503, { 'retry-after': '1' });
    }
    return c.json(health);
  });
  app.get('/metrics', (c) =>
    c.body(metrics.registry.render(), 200, { 'content-type': PROMETHEUS_TEXT_MEDIA_TYPE }),
  );

  const handlers = new Map<RpcKind, Handler>();
  /** Runs one call: counted, timed, and refused while the party drains. */
  const run = async (kind: RpcKind, request: SignedEnvelope<RpcRequestPayload>) => {
    if (state.shuttingDown) throw new AapsError('UNAVAILABLE', 'party is shutting down');
    const handler = handlers.get(kind);
    if (!handler) throw new ValidationError('INVALID_ARGUMENT', `no handler for ${kind}`, ['payload.kind']);
    const started = performance.now();
    state.inflight++;
    try {
      const body = (await handler(request.payload.session_id, request.payload.body, request)) as Record<
        string,
        unknown
      >;
      metrics.requests.inc({ kind, outcome: 'ok' });
      return body;
    } finally {
      state.inflight--;
      metrics.latency.observe((performance.now() - started) / 1000, { kind });
    }
  };
  const route = (path: string, kind: RpcKind, handler: Handler) => {
    handlers.set(kind, handler);
    const maxBodyBytes = kind.startsWith('agg.') ? aggBodyBytes : undefined;
    const auth = authenticate(deps, metrics, kind, maxBodyBytes, bodies, rejections);
    app.post(path, routeKind(kind), auth, async (c) => {
      const request = c.get('request');
      return c.json(makeResponse(me, request, await run(kind, request), now()));
    });
  };

  route('/v1/dkg/round1', 'dkg.round1', (s, b) => dkg.round1(s, b));
  route('/v1/dkg/round2', 'dkg.round2', (s, b) => dkg.round2(s, b));
  route('/v1/dkg/round3', 'dkg.round3', async (s, b) => {
    const out = await dkg.round3(s, b);
    deps.logger.info('dkg.verified', { session: s, group_public_key: out.group_public_key });
    return out;
  });
  route('/v1/sign/commit', 'sign.commit', (s, b) => sign.commit(s, b));
  route('/v1/sign/round2', 'sign.round2', async (s, b, request) => {
    // A round the proposal or transcript cites that the ledger's memory no longer holds (newer
    // rounds pushed it out): read back from the store by key, before the sync policy check.
    await pooled.recall(citedAggregationSessions(b));
    const out = await sign.round2(s, b);
    metrics.sessions.inc({ kind: 'sign' });
    deps.logger.info('round2.sent', { session: s, trace_id: request.meta.trace_id });
    return out;
  });
  route('/v1/agent/step', 'agent.step', async (s, b, request) => {
    // Likewise for strategy's `pooled` input and the proposals a step's transcript carries.
    await pooled.recall(citedAggregationSessions(b));
    return step(s, b, request);
  });
  route('/v1/refresh/round1', 'refresh.round1', (s) => keys.refreshRound1(s));
  route('/v1/refresh/round2', 'refresh.round2', (s, b) => keys.refreshRound2(s, b));
  route('/v1/refresh/round3', 'refresh.round3', async (s, b) => {
    const out = await keys.refreshRound3(s, b);
    deps.logger.info('refresh.verified', { session: s, group_public_key: out.group_public_key });
    return out;
  });
  route('/v1/key/commit', 'key.commit', async (s, b) => {
    const { installed, ...out } = await commits.commit(s, b);
    // A commit repeated after it took effect answers the same, and is no second completion.
    if (installed) {
      const kind = String(b.protocol);
      metrics.sessions.inc({ kind });
      deps.logger.info(`${kind}.completed`, { session: s, group_public_key: out.group_public_key });
    }
    return out;
  });
  route('/v1/key/pending', 'key.pending', () => commits.pendingInfo());
  route('/v1/repair/step1', 'repair.step1', (s, b) => keys.repairStep1(s, b));
  route('/v1/repair/step2', 'repair.step2', (s, b) => keys.repairStep2(s, b));
  route('/v1/repair/step3', 'repair.step3', async (s, b) => {
    const out = await keys.repairStep3(s, b);
    metrics.sessions.inc({ kind: 'repair' });
    deps.logger.info('repair.completed', { session: s });
    return out;
  });
  route('/v1/agg/deal', 'agg.deal', (s, b, request) => agg.deal(s, b, request.meta.source_agent));
  route('/v1/agg/evaluate', 'agg.evaluate', (s, b) => {
    const out = agg.evaluate(s, b);
    metrics.sessions.inc({ kind: 'aggregation' });
    return out;
  });
  route('/v1/agg/confirm', 'agg.confirm', (s, b) => agg.confirm(s, b));
  route('/v1/agg/reveal', 'agg.reveal', (s, b) => agg.reveal(s, b));
  route('/v1/sealed/release', 'sealed.release', (s, b, request) => unseal(s, b, request.meta.source_agent));
  route('/v1/checkpoint/witness', 'checkpoint.witness', (s, b) => witness(s, b));
  route('/v1/key/info', 'key.info', () => {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key yet');
    return {
      group_public_key: bytesToHex(state.key.publicPackage.groupPublicKey),
      verifying_share: bytesToHex(state.key.keyPackage.verifyingShare),
      public_package: PublicKeyPackageCodec.toJSON(deps.suite.id, state.key.publicPackage),
      roster_digest: state.key.rosterDigest,
    };
  });

  // Several hot-path calls under one signed envelope (see `CallCoalescer`). Each call runs as it
  // would alone, against a view of the request with its own kind, session and trace, and gets the
  // answer it would have got alone; one failing call does not fail the others.
  const batchAuth = authenticate(deps, metrics, 'batch', undefined, bodies, rejections);
  app.post('/v1/batch', routeKind('batch'), batchAuth, async (c) => {
    const request = c.get('request');
    const calls = parseBatch(request.payload.body);
    const results = await Promise.all(
      calls.map(async (call): Promise<BatchResult> => {
        const view: SignedEnvelope<RpcRequestPayload> = {
          ...request,
          meta: { ...request.meta, trace_id: call.ctx.trace_id },
          context: {
            ...request.context,
            ...(call.ctx.namespace === undefined ? {} : { namespace: call.ctx.namespace }),
            ...(call.ctx.cluster === undefined ? {} : { cluster: call.ctx.cluster }),
          },
          payload: { kind: call.kind, session_id: call.session_id, body: call.body },
        };
        try {
          return { body: await run(call.kind, view) };
        } catch (e) {
          // Signed with the batch's answer.
          const { status, json } = failureBody(e, view);
          return { status, ...json };
        }
      }),
    );
    metrics.requests.inc({ kind: 'batch', outcome: 'ok' });
    return c.json(makeResponse(me, request, { results }, now()));
  });

  pads?.start();
  return {
    app,
    state,
    metrics,
    ...(pads ? { pads } : {}),
    async drain(timeoutMs = 5000) {
      state.shuttingDown = true;
      const stopping = pads?.stop();
      const deadline = Date.now() + timeoutMs;
      while (state.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await stopping;
      agg.stop();
    },
  };
}

/** A failed call's JSON body: `{error}`, a signed refusal for a refusal, and the signed answer. */
type ErrorAnswer = ReturnType<typeof errorBody>['body'] & { refusal?: unknown; response?: unknown };

/** Marks a request with its route's kind before anything else runs (see `failure`). */
function routeKind(kind: RpcKind | 'batch') {
  return createMiddleware<Env>(async (c, next) => {
    c.set('kind', kind);
    await next();
  });
}

/** The party's pad pool for the circuits it trusts (not started); none if it provides no vector input. */
function dealingPadPool(
  deps: PartyDeps,
  circuits: Iterable<Circuit>,
  busy: () => boolean,
): DealingPadPool | undefined {
  const threshold = deps.roster.threshold.min;
  const { targets, dropped } = padTargets(circuits, deps.self.role, threshold);
  if (dropped.length > 0) {
    deps.logger.warn('pads.over_budget', {
      lengths: dropped.map(String),
      note: `vector inputs of these lengths are dealt without pads (budget ${PAD_SCALAR_BUDGET} scalars)`,
    });
  }
  if (targets.size === 0) return undefined;
  return new DealingPadPool({
    suite: deps.suite,
    threshold,
    targets,
    logger: deps.logger,
    busy,
    ...(deps.rng ? { rng: deps.rng } : {}),
  });
}

/** The calls of a `batch` request body, checked: 1..MAX_BATCH_CALLS hot-path calls. */
function parseBatch(body: Record<string, unknown>): BatchCall[] {
  const calls = body['calls'];
  if (!Array.isArray(calls) || calls.length < 1 || calls.length > MAX_BATCH_CALLS) {
    throw new ValidationError('INVALID_ARGUMENT', `calls: expected 1..${MAX_BATCH_CALLS} calls`, [
      'body.calls',
    ]);
  }
  return calls.map((raw, i) => {
    const call = raw as Partial<BatchCall> | null;
    const at = `body.calls[${i}]`;
    if (!call || typeof call !== 'object' || typeof call.kind !== 'string' || !isBatchable(call.kind)) {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.kind: not a call a batch may carry`, [
        `${at}.kind`,
      ]);
    }
    if (typeof call.session_id !== 'string' || call.session_id === '') {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.session_id: expected a string`, [
        `${at}.session_id`,
      ]);
    }
    if (!call.body || typeof call.body !== 'object' || Array.isArray(call.body)) {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.body: expected an object`, [`${at}.body`]);
    }
    const ctx = call.ctx as BatchCall['ctx'] | undefined;
    if (!ctx || typeof ctx.trace_id !== 'string') {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.ctx.trace_id: expected a string`, [
        `${at}.ctx.trace_id`,
      ]);
    }
    for (const k of ['namespace', 'cluster'] as const) {
      if (ctx[k] !== undefined && typeof ctx[k] !== 'string') {
        throw new ValidationError('INVALID_ARGUMENT', `${at}.ctx.${k}: expected a string`, [
          `${at}.ctx.${k}`,
        ]);
      }
    }
    return { kind: call.kind, session_id: call.session_id, ctx, body: call.body as Record<string, unknown> };
  });
}
