/** What the routes are given. */

import type { Logger } from '@aaps/agents';
import type { IdentityKey } from '@aaps/mpc-core';
import type { Hono, MiddlewareHandler } from 'hono';
import type { Coordinator } from '../coordinator.js';
import type { EvidenceWriter } from '../evidence-writer.js';
import type { Caller, GatewayEnv, Scope } from '../http-env.js';
import type { IntakeService } from '../intake-service.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayStore } from '../store.js';
import type { TrustedKeys } from '../trust.js';
import type { IncidentEvents } from '../workflow/events.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import type { StreamSlots } from './stream-slots.js';

export interface RouteDeps {
  store: GatewayStore;
  coordinator: Coordinator;
  runner: WorkflowRunner;
  intake: IntakeService;
  evidence: EvidenceWriter;
  events: IncidentEvents;
  metrics: GatewayMetrics;
  logger: Logger;
  trust: () => Promise<TrustedKeys>;
  identity: { id: string; key: IdentityKey };
  authenticate: (header: string | undefined) => Caller;
  githubSecret: string | undefined;
  cluster: string;
  /** `--controller-namespaces`: alerts in these namespaces are a controller's (intake/namespace.ts). */
  controllerNamespaces: ReadonlySet<string>;
  /**
   * The body reader of every route that takes one (`bodyLimit`): the size limit, and a budget the
   * bodies of all requests share (bodies are read before their callers are checked).
   */
  readBody: MiddlewareHandler<GatewayEnv>;
  /**
   * The body reader of a route that can authenticate only once it has the body (GitHub's HMAC):
   * its own budget, apart from `readBody`'s, and a cap on the requests it reads at once, so
   * strangers' deliveries cannot take the budget authenticated routes read from.
   */
  readUnauthenticatedBody: MiddlewareHandler<GatewayEnv>;
  now: () => Date;
  ids: () => string;
  /** SSE keep-alive interval, ms. */
  keepAliveMs: number;
  /** The event streams open, bounded in all and per token. */
  streams: StreamSlots;
  /** The longest an event stream stays open, ms. */
  streamMaxMs: number;
}

export type GatewayApp = Hono<GatewayEnv>;
export type { Scope };
