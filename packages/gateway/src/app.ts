/**
 * The gateway as a value: `createGateway(deps)` wires the workflow runner, intake and evidence
 * writer to the routes and returns the Hono app (which never listens; `app.request()` drives it in
 * tests, `@hono/node-server` serves it in `cli/`).
 */
import { BodyBudget, type Environment, type Logger } from '@aaps/agents';
import {
  type DetectionPolicy,
  hexToBytes,
  type IdentityKey,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { Hono } from 'hono';
import type { Coordinator } from './coordinator.js';
import { createEvidenceWriter, type EvidenceWriter } from './evidence-writer.js';
import type { Executor } from './executor/types.js';
import type { GatewayEnv } from './http-env.js';
import { createIntakeService, type IntakeService } from './intake-service.js';
import { GatewayMetrics } from './metrics.js';
import { createTokenAuth, type TokenGrant } from './middleware/auth.js';
import { bodyLimit, DEFAULT_BODY_LIMIT } from './middleware/body-limit.js';
import {
  createErrorHandler,
  createNotFound,
  type Rejection,
  type RejectionLog,
  rejectionLog,
} from './middleware/errors.js';
import { requestId } from './middleware/request-id.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { approvalRouteDocs, registerApprovalRoutes } from './routes/approvals.js';
import type { RouteDeps } from './routes/deps.js';
import { evidenceRouteDocs, registerEvidenceRoutes } from './routes/evidence.js';
import { incidentRouteDocs, registerIncidentRoutes } from './routes/incidents.js';
import { logRouteDocs, registerLogRoutes } from './routes/log.js';
import {
  createStreamSlots,
  DEFAULT_MAX_EVENT_STREAMS,
  DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN,
  DEFAULT_STREAM_MAX_MS,
} from './routes/stream-slots.js';
import { registerSystemRoutes, systemRouteDocs } from './routes/system.js';
import { finishInterruptedUnseals, registerUnsealRoutes, unsealRouteDocs } from './routes/unseal.js';
import { registerWebhookRoutes, webhookRouteDocs } from './routes/webhooks.js';
import type { GatewayStore } from './store.js';
import type { TrustedKeys } from './trust.js';
import { createIncidentEvents } from './workflow/events.js';
import { WorkflowRunner } from './workflow/runner.js';

export const API_VERSION = '0.1.0';

/** GitHub deliveries being read at once (they are read before they are authenticated). */
export const UNAUTHENTICATED_BODIES_AT_ONCE = 32;

/** Every route of the API, in the order the OpenAPI document lists them. */
export const ROUTE_DOCS: readonly RouteDoc[] = [
  ...incidentRouteDocs,
  ...webhookRouteDocs,
  ...approvalRouteDocs,
  ...evidenceRouteDocs,
  ...unsealRouteDocs,
  ...logRouteDocs,
  ...systemRouteDocs,
];

/** The OpenAPI document the gateway serves at `/v1/openapi.json`. */
export function openApiDocument(): Record<string, unknown> {
  return buildOpenApi(ROUTE_DOCS, { version: API_VERSION });
}

export interface GatewayAppConfig {
  tokens: readonly TokenGrant[];
  /** GitHub webhook secret; unset turns GitHub webhooks off (503). */
  githubSecret?: string;
  maxBodyBytes?: number;
  /** `context.cluster` for payloads that name none. */
  cluster?: string;
  /** Namespaces whose alerts are a controller's, besides the built-in ones (`--controller-namespaces`). */
  controllerNamespaces?: readonly string[];
  /** Transparency log origin (checkpoint first line). */
  logOrigin: string;
  environment?: Environment;
  gitopsRepoUrl?: string;
  /** SSE keep-alive interval in ms (default 15000). */
  keepAliveMs?: number;
  /** Event streams open at once, in all (default 1000) and under one token (default 100). */
  maxEventStreams?: number;
  maxEventStreamsPerToken?: number;
  /** The longest an event stream stays open, ms (default 30 minutes); its client reconnects. */
  eventStreamMaxMs?: number;
  /** RFC 3339 start of the trusted root's validity (default: now). */
  validFrom?: string;
  /** Seal what these detectors find at intake (docs/sealing.md); unset: nothing is sealed. */
  sealing?: DetectionPolicy;
  /** Pool the parties' private risk scores before strategy (default false). */
  poolRisk?: boolean;
  /** Seconds a step whose party is unreachable is tried again (the runner's default: 30). */
  stepRetrySeconds?: number;
  /** Seconds after an executed fix in which the same failure goes to a human (default 3600; 0: off). */
  recurrenceWindowSeconds?: number;
  /** Incidents driven at once; more wait their turn (the runner's default: 256). */
  maxRuns?: number;
  /** The longest human approval taken, seconds (default: the parties' default, 86400). */
  approvalMaxValiditySeconds?: number;
}

export interface GatewayDeps {
  config: GatewayAppConfig;
  store: GatewayStore;
  coordinator: Coordinator;
  executor: Executor;
  /** Default: an evidence writer over `store.log` and `coordinator`. */
  evidence?: EvidenceWriter;
  logger: Logger;
  now: () => Date;
  ids: () => string;
  identity: { id: string; key: IdentityKey };
  trust: () => Promise<TrustedKeys>;
  metrics?: GatewayMetrics;
  /**
   * Where error answers are logged (default: a `rejectionLog` of `logger`). The served gateway
   * passes the one its server logs pre-route refusals to, so refusals coalesce across both.
   */
  rejectionLog?: RejectionLog;
}

export interface Gateway {
  app: Hono<GatewayEnv>;
  runner: WorkflowRunner;
  intake: IntakeService;
  evidence: EvidenceWriter;
  metrics: GatewayMetrics;
  /**
   * Records, for each unseal a previous process left with its request logged and its answers
   * not, that it was interrupted (docs/sealing.md); returns how many. Run once after a start.
   * Once `signal` is aborted it starts no further entry (they stay pending for the next start).
   * `pending`: the unseals pending when the process started, read before it served a request
   * (else they are read now; an unseal this process is answering is skipped either way).
   */
  finishInterruptedUnseals(
    signal?: AbortSignal,
    pending?: readonly { requestId: string; incidentId: string }[],
  ): Promise<number>;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config } = deps;
  const authenticate = createTokenAuth(config.tokens);
  const metrics = deps.metrics ?? new GatewayMetrics();
  const events = createIncidentEvents();
  const evidence =
    deps.evidence ??
    createEvidenceWriter({
      coordinator: deps.coordinator,
      log: deps.store.log,
      origin: config.logOrigin,
      trust: deps.trust,
      validFrom: config.validFrom ?? deps.now().toISOString(),
      logger: deps.logger.child({ component: 'evidence' }),
      metrics,
    });
  const runner = new WorkflowRunner({
    store: deps.store,
    coordinator: deps.coordinator,
    executor: deps.executor,
    evidence,
    logger: deps.logger.child({ component: 'workflow' }),
    now: deps.now,
    trust: deps.trust,
    identity: deps.identity,
    events,
    metrics,
    ...(config.environment === undefined ? {} : { environment: config.environment }),
    ...(config.gitopsRepoUrl === undefined ? {} : { gitopsRepoUrl: config.gitopsRepoUrl }),
    ...(config.poolRisk ? { poolRisk: true } : {}),
    ...(config.stepRetrySeconds === undefined ? {} : { retryBudgetMs: config.stepRetrySeconds * 1000 }),
    ...(config.recurrenceWindowSeconds === undefined
      ? {}
      : { recurrenceWindowMs: config.recurrenceWindowSeconds * 1000 }),
    ...(config.maxRuns === undefined ? {} : { maxRuns: config.maxRuns }),
    ...(config.approvalMaxValiditySeconds === undefined
      ? {}
      : { approvalMaxValiditySeconds: config.approvalMaxValiditySeconds }),
  });
  const intake = createIntakeService({
    store: deps.store,
    runner,
    identity: deps.identity,
    now: deps.now,
    ids: deps.ids,
    logger: deps.logger.child({ component: 'intake' }),
    ...(config.recurrenceWindowSeconds === undefined
      ? {}
      : { recurrenceWindowMs: config.recurrenceWindowSeconds * 1000 }),
    ...(config.sealing === undefined
      ? {}
      : {
          sealing: {
            policy: config.sealing,
            async recipients() {
              const [trust, keys] = await Promise.all([deps.trust(), deps.coordinator.keys()]);
              return {
                parties: trust.parties.map((p) => ({
                  id: p.id,
                  x25519PublicKey: x25519FromIdentityPublicKey(hexToBytes(p.identity_key)),
                })),
                threshold: keys.threshold.min,
              };
            },
            async rosterIds() {
              const trust = await deps.trust();
              return new Set([...trust.parties, ...trust.approvers].map((p) => p.id));
            },
          },
        }),
  });
  const maxBody = config.maxBodyBytes ?? DEFAULT_BODY_LIMIT;
  const bodyBudget = Math.max(32 * 1024 * 1024, 8 * maxBody);
  const routeDeps: RouteDeps = {
    store: deps.store,
    coordinator: deps.coordinator,
    runner,
    intake,
    evidence,
    events,
    metrics,
    logger: deps.logger,
    trust: deps.trust,
    identity: deps.identity,
    authenticate,
    githubSecret: config.githubSecret,
    cluster: config.cluster ?? 'default',
    controllerNamespaces: new Set(config.controllerNamespaces ?? []),
    // One body reader for every route that takes a body; the bodies being read or handled at once
    // may hold 32 MiB, or 8 of the largest if that is more.
    readBody: bodyLimit({ maxBytes: maxBody, budget: new BodyBudget(bodyBudget) }),
    // GitHub deliveries are read before anything authenticates them (the HMAC is over the body):
    // they read from a budget of their own, a quarter of the shared one, at most 32 being read at
    // once, so strangers' stalled deliveries leave the authenticated routes' budget whole, and
    // deliveries read in full never count against the 32 while they are handled.
    readUnauthenticatedBody: bodyLimit({
      maxBytes: maxBody,
      budget: new BodyBudget(Math.ceil(bodyBudget / 4)),
      maxInflight: UNAUTHENTICATED_BODIES_AT_ONCE,
    }),
    now: deps.now,
    ids: deps.ids,
    keepAliveMs: config.keepAliveMs ?? 15_000,
    streams: createStreamSlots({
      maxTotal: config.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS,
      maxPerToken: config.maxEventStreamsPerToken ?? DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN,
    }),
    streamMaxMs: config.eventStreamMaxMs ?? DEFAULT_STREAM_MAX_MS,
  };
  const app = new Hono<GatewayEnv>();
  const rejected = (r: Rejection) =>
    metrics.rejected.inc({ method: r.method, route: r.route, status: String(r.status), code: r.code });
  app.use('*', requestId({ newId: deps.ids }));
  app.onError(createErrorHandler(deps.logger, rejected, deps.rejectionLog ?? rejectionLog(deps.logger)));
  registerIncidentRoutes(app, routeDeps);
  registerWebhookRoutes(app, routeDeps);
  registerApprovalRoutes(app, routeDeps);
  registerEvidenceRoutes(app, routeDeps);
  registerUnsealRoutes(app, routeDeps);
  registerLogRoutes(app, routeDeps);
  let doc: Record<string, unknown> | undefined;
  registerSystemRoutes(app, routeDeps, () => {
    doc ??= openApiDocument();
    return doc;
  });
  // Last: it reads the routes to name the methods a known path allows.
  app.notFound(createNotFound(app.routes, rejected));
  return {
    app,
    runner,
    intake,
    evidence,
    metrics,
    finishInterruptedUnseals: (signal, pending) => finishInterruptedUnseals(routeDeps, signal, pending),
  };
}

/** Just the app (see {@link createGateway} for the runner and the rest). */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  return createGateway(deps).app;
}
