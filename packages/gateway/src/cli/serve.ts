/**
 * Opens the gateway's store, builds the app around a coordinator, listens, and resumes the
 * incidents a previous process left unfinished. Used by `aaps up` and `aaps gateway`.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import {
  connectionLimitsFor,
  createHttpServer,
  defaultConnectionLimits,
  type Logger,
  limitConnections,
  serverTimeoutOptions,
} from '@aaps/agents';
import { AapsError, type IdentityKey } from '@aaps/mpc-core';
import { createGateway, type Gateway } from '../app.js';
import { type GatewayConfig, sealingPolicy } from '../config.js';
import type { Coordinator } from '../coordinator.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
import { createGitopsExecutor } from '../executor/gitops.js';
import type { Executor } from '../executor/types.js';
import { drainable, type FetchHandler } from '../http-drain.js';
import { monotonicIds } from '../incident-ids.js';
import { GatewayMetrics } from '../metrics.js';
import type { TokenGrant } from '../middleware/auth.js';
import { methodOf, rejectionLog } from '../middleware/errors.js';
import { chooseRequestId } from '../middleware/request-id.js';
import { openGatewayStore, VALID_FROM_META } from '../store.js';
import type { TrustedKeys } from '../trust.js';
import { listenError } from './listen-check.js';

/** How long a stop waits for the requests being handled before it ends their connections. */
const DRAIN_MS = 10_000;

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

export function executorFor(config: GatewayConfig, now: () => Date): Executor {
  if (config.executor === 'gitops' && config.gitopsRepoDir !== undefined) {
    return createGitopsExecutor({
      repoDir: config.gitopsRepoDir,
      now,
      branch: config.gitopsBranch,
      ...(config.gitopsRemote === undefined ? {} : { remote: config.gitopsRemote }),
    });
  }
  return createDryRunExecutor({ now });
}

export async function startGateway(opts: {
  config: GatewayConfig;
  /** The admin token (`AAPS_API_TOKEN`, or the one `aaps up` stored). */
  token: string;
  /** More grants, with limited scopes (`--tokens-file`), already checked. */
  tokens?: readonly TokenGrant[];
  coordinator: Coordinator;
  trust: TrustedKeys;
  identity: { id: string; key: IdentityKey };
  logger: Logger;
  /**
   * Called once, just before the app takes its first request (until then every request is
   * answered 503): `aaps up` and `aaps gateway` drop the record of an unfinished first start there.
   * What it throws fails the start.
   */
  beforeServing?: () => void;
}): Promise<RunningGateway> {
  const { config } = opts;
  // Listen first: a port in use then stops the start before anything is written (the store, its
  // valid-from date). Requests that arrive before the app is ready are told to retry.
  let appFetch: FetchHandler | undefined;
  // A stop lets the handlers running finish before the store closes (see http-drain.ts).
  const drain = drainable((request, env) =>
    appFetch
      ? appFetch(request, env)
      : Response.json(
          { error: { code: 'UNAVAILABLE', message: 'the gateway is starting; retry' } },
          { status: 503, headers: { 'retry-after': '1' } },
        ),
  );
  // The app's metrics and ids, made first: what the server refuses before the app is reached (a
  // request Hono cannot build, what Node's parser refuses) is answered, counted and named as the
  // app's own refusals are (@aaps/agents http-server.ts, which the parties' servers share).
  const metrics = new GatewayMetrics();
  const ids = monotonicIds();
  // One log of refusals for the server and the app: coalesced per status and code across both.
  const rejections = rejectionLog(opts.logger);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createHttpServer(drain.fetch, {
      who: 'the gateway',
      hostname: config.host,
      // Headers within seconds of a fresh connection; idle kept-alive ones outlive the clients'.
      serverOptions: serverTimeoutOptions(),
      allow: 'GET, HEAD, POST',
      requestId: (given) => chooseRequestId(given, ids),
      onRefused: (r, method, requestId) => {
        rejections({
          request_id: requestId,
          route: 'unmatched',
          code: r.code,
          status: r.status,
          reason: r.reason,
        });
        metrics.rejected.inc({
          method: methodOf(method ?? ''),
          route: 'unmatched',
          status: String(r.status),
          code: r.code,
        });
      },
    });
    // Idle or half-sent connections are bounded in all and per address, below the fd limit.
    const limits =
      config.maxConnections === undefined
        ? defaultConnectionLimits()
        : connectionLimitsFor(config.maxConnections);
    limitConnections(
      s,
      { ...limits, maxPerAddress: config.maxConnectionsPerAddress ?? limits.maxPerAddress },
      opts.logger,
    );
    s.once('error', (e) => reject(listenError(config.host, config.port, e)));
    s.listen(config.port, config.host, () => resolve(s));
  });
  // Stop listening, let the handlers running finish (at most DRAIN_MS), then end every connection,
  // idle or not: an open event stream would otherwise hold the stop for as long as its client stays.
  const closeServer = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (!(await drain.drain(DRAIN_MS))) {
      opts.logger.warn('gateway.drain_timeout', { in_flight: drain.inFlight(), waited_ms: DRAIN_MS });
    }
    server.closeAllConnections();
    await closed;
  };
  const dir = join(config.dataDir, 'gateway');
  let store: Awaited<ReturnType<typeof openGatewayStore>> | undefined;
  let gateway: Gateway | undefined;
  let opened: Awaited<ReturnType<typeof openGatewayStore>>;
  let resumed: number;
  let leftPending: { requestId: string; incidentId: string }[] = [];
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    store = await openGatewayStore(join(dir, 'db'));
    const now = () => new Date();
    const validFrom = await store.getMeta(VALID_FROM_META);
    const validFromText = validFrom === undefined ? now().toISOString() : new TextDecoder().decode(validFrom);
    if (validFrom === undefined)
      await store.putMeta(VALID_FROM_META, new TextEncoder().encode(validFromText));
    const sealing = sealingPolicy(config);
    gateway = createGateway({
      config: {
        tokens: [{ name: 'admin', token: opts.token, scopes: ['admin'] }, ...(opts.tokens ?? [])],
        ...(config.githubWebhookSecret === undefined ? {} : { githubSecret: config.githubWebhookSecret }),
        maxBodyBytes: config.maxBodyBytes,
        cluster: config.cluster,
        ...(config.controllerNamespaces === undefined
          ? {}
          : { controllerNamespaces: config.controllerNamespaces }),
        logOrigin: config.logOrigin,
        environment: config.environment,
        ...(config.gitopsRepoUrl === undefined ? {} : { gitopsRepoUrl: config.gitopsRepoUrl }),
        validFrom: validFromText,
        ...(sealing === undefined ? {} : { sealing }),
        poolRisk: config.poolRisk,
        stepRetrySeconds: config.stepRetrySeconds,
        recurrenceWindowSeconds: config.recurrenceWindowSeconds,
        maxRuns: config.maxRuns,
        maxEventStreams: config.maxEventStreams,
        maxEventStreamsPerToken: config.maxEventStreamsPerToken,
        ...(config.approvalMaxValiditySeconds === undefined
          ? {}
          : { approvalMaxValiditySeconds: config.approvalMaxValiditySeconds }),
      },
      store,
      coordinator: opts.coordinator,
      executor: executorFor(config, now),
      logger: opts.logger,
      now,
      ids,
      metrics,
      rejectionLog: rejections,
      identity: opts.identity,
      trust: async () => opts.trust,
    });
    // What a previous process left pending, read before this one takes a request: an unseal
    // this process answers is pending in the store too, and is not an interrupted one.
    leftPending = await store.pendingUnseals();
    opts.beforeServing?.();
    appFetch = gateway.app.fetch;
    opened = store;
    // Open the log now, so a start under another origin than its checkpoints' fails here.
    await gateway.evidence.logSize();
    resumed = await gateway.runner.resumeIncidents();
  } catch (e) {
    await closeServer();
    await gateway?.runner.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    throw e;
  }
  const running = gateway;
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  opts.logger.info('gateway.listening', { port, resumed });
  // Unseals a previous process left with their request logged and their answers not get a record
  // that they were interrupted. That needs k parties to sign, so it is not awaited here.
  // A stop does not wait for it: signing may wait long on unreachable parties. Aborting starts no
  // further entry; one under way is written so that a stop anywhere leaves it pending or ended
  // (like a crash there), and the next start finishes what is left.
  // Every party is shown the latest checkpoint once (a party repaired or restored while this
  // gateway was down records the log before it is asked to extend it). Best effort, not awaited.
  running.evidence.witnessLatest().catch((e: unknown) =>
    opts.logger.warn('checkpoint.witness_at_start_failed', {
      code: e instanceof AapsError ? e.code : 'INTERNAL',
    }),
  );
  const stopResume = new AbortController();
  const unsealsFinished = running.finishInterruptedUnseals(stopResume.signal, leftPending).then(
    (interrupted) => {
      if (interrupted > 0) opts.logger.info('gateway.unseals_interrupted', { interrupted });
    },
    (e: unknown) =>
      opts.logger.warn('gateway.unseals_unfinished', {
        code: e instanceof AapsError ? e.code : 'INTERNAL',
        note: 'an interrupted unseal is not recorded yet: the next start tries again',
      }),
  );
  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host}:${port}`,
    gateway: running,
    close() {
      closing ??= (async () => {
        await closeServer();
        rejections.flush();
        stopResume.abort();
        void unsealsFinished;
        try {
          await running.runner.close();
        } finally {
          await opened.close();
        }
      })();
      return closing;
    },
  };
}
