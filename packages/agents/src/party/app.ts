/**
 * `createPartyApp(deps)`: the party node as a Hono app value. It never listens and opens nothing;
 * `main.ts` does. Every protocol route is authenticated by {@link authenticate}, answers with a
 * `ProtocolResponse` envelope signed by this party, and refusals carry a signed refusal too.
 */
import { AapsError, bytesToHex, PolicyRefusal, PublicKeyPackageCodec } from '@aaps/mpc-core';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { errorBody } from '../http-errors.js';
import { makeResponse, type RpcKind } from '../rpc.js';
import { authenticate } from './auth.js';
import {
  createPartyMetrics,
  type Env,
  type PartyDeps,
  type PartyMetrics,
  type PartyState,
} from './context.js';
import { PooledRiskLedger } from './pooled-risk.js';
import { createAggregationHandlers, partyCircuitDirs, readCircuitCatalog } from './routes/aggregation.js';
import { createDkgHandlers } from './routes/dkg.js';
import { createKeyHandlers } from './routes/keys.js';
import { createSignHandlers } from './routes/sign.js';
import { createStepHandler } from './routes/step.js';
import { createUnsealHandler } from './routes/unseal.js';

export interface PartyApp {
  app: Hono<Env>;
  state: PartyState;
  metrics: PartyMetrics;
  /** Refuse new sessions, wait (bounded) for those in flight. */
  drain(timeoutMs?: number): Promise<void>;
}

type Handler = (
  session: string,
  body: Record<string, unknown>,
  c: Context<Env>,
) => unknown | Promise<unknown>;

export async function createPartyApp(deps: PartyDeps): Promise<PartyApp> {
  const metrics = createPartyMetrics();
  const state: PartyState = {
    key: await deps.store.loadKey(),
    dkg: new Map(),
    inflight: 0,
    shuttingDown: false,
  };
  const me = { id: deps.self.id, key: deps.identity };
  const now = deps.now ?? (() => new Date());
  const dkg = createDkgHandlers(deps, state);
  // Aggregations this party evaluated and saw opened: the only pooled risk refs it accepts.
  const pooled = new PooledRiskLedger();
  const verifyAggregationRef = pooled.verifyRef.bind(pooled);
  const sign = createSignHandlers(deps, state, verifyAggregationRef);
  const step = createStepHandler(deps, verifyAggregationRef);
  const keys = createKeyHandlers(deps, state);
  const unseal = createUnsealHandler(deps);
  const agg = createAggregationHandlers(deps, readCircuitCatalog(partyCircuitDirs(deps)), pooled);
  const app = new Hono<Env>();

  app.onError((err, c) => {
    const { status, body } = errorBody(err);
    const request = c.get('request');
    const kind = request?.payload.kind ?? 'unknown';
    metrics.requests.inc({ kind, outcome: body.error.code });
    if (err instanceof PolicyRefusal) {
      metrics.refusals.inc({ rule: err.rule });
      deps.logger.info('policy.refused', {
        kind,
        rule: err.rule,
        session: request?.payload.session_id,
        trace_id: request?.meta.trace_id,
      });
      if (request) {
        const refusal = makeResponse(
          me,
          request,
          { refused: { rule: err.rule, message: err.message } },
          now(),
        );
        return c.json({ ...body, refusal }, status as 403);
      }
    } else if (!(err instanceof AapsError)) {
      deps.logger.error('request.failed', { kind, error: err instanceof Error ? err.name : 'unknown' });
    } else if (status >= 500 || err.code === 'NONCE_REUSE') {
      deps.logger.warn('request.error', { kind, code: err.code, session: request?.payload.session_id });
    }
    return c.json(body, status as 400);
  });

  app.notFound((c) =>
    c.json(
      { error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` } },
      404,
    ),
  );

  app.get('/healthz', (c) =>
    c.json({
      status: state.shuttingDown ? 'draining' : 'ok',
      party: deps.self.id,
      role: deps.self.role,
      has_key: state.key !== undefined,
      group_public_key: state.key ? bytesToHex(state.key.publicPackage.groupPublicKey) : null,
      roster_digest: deps.rosterDigest,
    }),
  );
  app.get('/metrics', (c) =>
    c.text(metrics.registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }),
  );

  const route = (path: string, kind: RpcKind, handler: Handler) => {
    app.post(path, authenticate(deps, metrics, kind), async (c) => {
      if (state.shuttingDown) throw new AapsError('UNAVAILABLE', 'party is shutting down');
      const request = c.get('request');
      const started = performance.now();
      state.inflight++;
      try {
        const body = (await handler(request.payload.session_id, request.payload.body, c)) as Record<
          string,
          unknown
        >;
        metrics.requests.inc({ kind, outcome: 'ok' });
        return c.json(makeResponse(me, request, body, now()));
      } finally {
        state.inflight--;
        metrics.latency.observe((performance.now() - started) / 1000, { kind });
      }
    });
  };

  route('/v1/dkg/round1', 'dkg.round1', (s, b) => dkg.round1(s, b));
  route('/v1/dkg/round2', 'dkg.round2', (s, b) => dkg.round2(s, b));
  route('/v1/dkg/round3', 'dkg.round3', async (s, b) => {
    const out = await dkg.round3(s, b);
    metrics.sessions.inc({ kind: 'dkg' });
    deps.logger.info('dkg.completed', { session: s, group_public_key: out.group_public_key });
    return out;
  });
  route('/v1/sign/commit', 'sign.commit', (s, b) => sign.commit(s, b));
  route('/v1/sign/round2', 'sign.round2', async (s, b, c) => {
    const out = await sign.round2(s, b);
    metrics.sessions.inc({ kind: 'sign' });
    deps.logger.info('round2.sent', { session: s, trace_id: c.get('request').meta.trace_id });
    return out;
  });
  route('/v1/agent/step', 'agent.step', (s, b, c) => step(s, b, c.get('request')));
  route('/v1/refresh/round1', 'refresh.round1', (s) => keys.refreshRound1(s));
  route('/v1/refresh/round2', 'refresh.round2', (s, b) => keys.refreshRound2(s, b));
  route('/v1/refresh/round3', 'refresh.round3', async (s, b) => {
    const out = await keys.refreshRound3(s, b);
    metrics.sessions.inc({ kind: 'refresh' });
    deps.logger.info('refresh.completed', { session: s, group_public_key: out.group_public_key });
    return out;
  });
  route('/v1/repair/step1', 'repair.step1', (s, b) => keys.repairStep1(s, b));
  route('/v1/repair/step2', 'repair.step2', (s, b) => keys.repairStep2(s, b));
  route('/v1/repair/step3', 'repair.step3', async (s, b) => {
    const out = await keys.repairStep3(s, b);
    metrics.sessions.inc({ kind: 'repair' });
    deps.logger.info('repair.completed', { session: s });
    return out;
  });
  route('/v1/agg/deal', 'agg.deal', (s, b, c) => agg.deal(s, b, c.get('request').meta.source_agent));
  route('/v1/agg/evaluate', 'agg.evaluate', (s, b) => {
    const out = agg.evaluate(s, b);
    metrics.sessions.inc({ kind: 'aggregation' });
    return out;
  });
  route('/v1/agg/confirm', 'agg.confirm', (s, b) => agg.confirm(s, b));
  route('/v1/sealed/release', 'sealed.release', (s, b, c) =>
    unseal(s, b, c.get('request').meta.source_agent),
  );
  route('/v1/key/info', 'key.info', () => {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key yet');
    return {
      group_public_key: bytesToHex(state.key.publicPackage.groupPublicKey),
      verifying_share: bytesToHex(state.key.keyPackage.verifyingShare),
      public_package: PublicKeyPackageCodec.toJSON(deps.suite.id, state.key.publicPackage),
      roster_digest: state.key.rosterDigest,
    };
  });

  return {
    app,
    state,
    metrics,
    async drain(timeoutMs = 5000) {
      state.shuttingDown = true;
      const deadline = Date.now() + timeoutMs;
      while (state.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
