/** `GET /v1/keys`, `GET /v1/openapi.json`, `GET /healthz`, `GET /metrics`. */
import { requireScope } from '../middleware/auth.js';
import type { RouteDoc } from '../openapi.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { KeysSchema, OpaqueJsonSchema } from './schemas.js';

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
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This document.',
    auth: 'read',
    responses: { '200': { description: 'OpenAPI 3.1', schema: OpaqueJsonSchema } },
  },
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness.',
    auth: 'none',
    responses: { '200': { description: 'ok', schema: OpaqueJsonSchema } },
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
  app.get('/v1/openapi.json', requireScope(d.authenticate, 'read'), (c) => c.json(openapi()));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/metrics', (c) =>
    c.body(d.metrics.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4' }),
  );
}
