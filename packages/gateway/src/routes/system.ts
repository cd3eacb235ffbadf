/** `GET /v1/keys`, `POST /v1/keys/refresh`, `POST /v1/keys/repair`, `GET /v1/openapi.json`, `GET /healthz`, `GET /metrics`. */
import { PROMETHEUS_TEXT_MEDIA_TYPE } from '@aaps/agents';
import { AapsError } from '@aaps/mpc-core';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import { methodLabel } from '../middleware/errors.js';
import type { RouteDoc } from '../openapi.js';
import { parse } from '../schema/check.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import {
  KeyRefreshRequestSchema,
  KeyRefreshSchema,
  KeyRepairRequestSchema,
  KeyRepairSchema,
  KeysSchema,
  OpaqueJsonSchema,
} from './schemas.js';

export const systemRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/keys',
    summary:
      'Ciphersuite, group public key, threshold and each party (id, role, URL, identity key, verifying share).',
    auth: 'read',
    responses: { '200': { description: 'the keys', schema: KeysSchema } },
  },
  {
    method: 'post',
    path: '/v1/keys/refresh',
    summary:
      "Proactive refresh of every party's key share: the group key stays, every verifying share changes, shares taken before it are useless after it. Signings wait while it runs (about a second). Needs every party; a party on another package (a missed refresh, a lost key) is repaired first.",
    auth: 'admin',
    body: KeyRefreshRequestSchema,
    responses: {
      '200': {
        description: "refreshed: each party's verifying share before and after",
        schema: KeyRefreshSchema,
      },
      '409': {
        description:
          "a refresh is already running, no key package is held by k parties, the parties hold another group key or threshold, or they run in the gateway's process (--local)",
      },
      '503': {
        description:
          'a party did not answer (nothing changed), or a refresh failed part-way and left a party to repair (the message says which)',
      },
    },
  },
  {
    method: 'post',
    path: '/v1/keys/repair',
    summary:
      "Repair parties' key shares onto the gateway's key package, each from k parties that hold it: a party whose disk was wiped, or one on another sharing of the group key (a refresh it missed, a backup from before one). Needs only those parties and k holders up; the group key and every verifying share stay, signings go on, and a party already on the package is left alone.",
    auth: 'admin',
    body: KeyRepairRequestSchema,
    responses: {
      '200': {
        description:
          'every party named (or found behind) now holds the package: those repaired, those that already did',
        schema: KeyRepairSchema,
      },
      '400': { description: 'a party not in the roster' },
      '409': {
        description:
          "a refresh or another repair is running, fewer than k parties hold the gateway's key package, or the parties run in the gateway's process (--local)",
      },
      '503': {
        description:
          "a party's repair failed or it did not answer, or it holds another group key (the message names who was repaired and who was not, and why)",
      },
    },
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This document.',
    auth: 'read',
    responses: { '200': { description: 'OpenAPI 3.1', schema: OpaqueJsonSchema } },
  },
  {
    method: 'get',
    path: '/healthz',
    summary:
      'Liveness: 200 {"status":"ok"}, or 503 UNAVAILABLE once a write to the database failed (a full disk: LevelDB takes no writes until it is reopened, so restart the gateway once the cause is gone).',
    auth: 'none',
    responses: {
      '200': { description: 'ok', schema: OpaqueJsonSchema },
      '503': { description: 'the database takes no writes' },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus text.',
    auth: 'none',
    responses: { '200': { description: 'metrics', contentType: 'text/plain' } },
  },
];

export function registerSystemRoutes(
  app: GatewayApp,
  d: RouteDeps,
  openapi: () => Record<string, unknown>,
): void {
  app.get('/v1/keys', requireScope(d.authenticate, 'read'), async (c) => c.json(await d.coordinator.keys()));
  app.post('/v1/keys/refresh', requireScope(d.authenticate, 'admin'), d.readBody, async (c) => {
    const { reason } = parse(KeyRefreshRequestSchema, jsonBody(c), 'invalid refresh request');
    const refresh = d.coordinator.refreshKeys?.bind(d.coordinator);
    if (refresh === undefined) {
      throw new AapsError(
        'CONFLICT',
        'this gateway runs its parties in its own process (--local): every share is in one place, so a refresh would protect nothing; run aaps up without --local',
      );
    }
    return c.json(await refresh({ reason }));
  });
  app.post('/v1/keys/repair', requireScope(d.authenticate, 'admin'), d.readBody, async (c) => {
    const { reason, parties } = parse(KeyRepairRequestSchema, jsonBody(c), 'invalid repair request');
    const repair = d.coordinator.repairKeys?.bind(d.coordinator);
    if (repair === undefined) {
      throw new AapsError(
        'CONFLICT',
        'this gateway runs its parties in its own process (--local): there is no party to repair; run aaps up without --local',
      );
    }
    return c.json(await repair({ reason, ...(parties === undefined ? {} : { parties }) }));
  });
  app.get('/v1/openapi.json', requireScope(d.authenticate, 'read'), (c) => c.json(openapi()));
  app.get('/healthz', (c) => {
    // A store whose writes fail (a full disk: LevelDB's error sticks until it is reopened) makes
    // the gateway unable to take or move incidents: say so, so that a supervisor restarts it.
    const storage = d.store.writeHealth();
    if (storage.ok) return c.json({ status: 'ok' });
    const message = `the database takes no writes since ${storage.since} (${storage.error}); restart the gateway once the cause is gone`;
    // Answered here, not thrown (the error handler would log every probe's poll as an error), but
    // counted like every other error answer.
    d.metrics.rejected.inc({ method: methodLabel(c), route: '/healthz', status: '503', code: 'UNAVAILABLE' });
    return c.json({ error: { code: 'UNAVAILABLE', message } }, 503);
  });
  app.get('/metrics', (c) => c.body(d.metrics.render(), 200, { 'Content-Type': PROMETHEUS_TEXT_MEDIA_TYPE }));
}
