/** Evidence bundles (JSON or CBOR), their Sigstore form, and the trusted root. */
import { encodeBundleCbor, toSigstoreBundle } from '@aaps/evidence';
import { AapsError } from '@aaps/mpc-core';
import { requireScope } from '../middleware/auth.js';
import type { RouteDoc } from '../openapi.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { OpaqueJsonSchema } from './schemas.js';

export const evidenceRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/evidence/{evidence_id}',
    summary:
      'The evidence bundle (application/vnd.aaps.evidence.v1+json; CBOR with Accept: application/cbor).',
    auth: 'read',
    responses: {
      '200': { description: 'the bundle', schema: OpaqueJsonSchema },
      '404': { description: 'unknown evidence id' },
    },
  },
  {
    method: 'get',
    path: '/v1/evidence/{evidence_id}/sigstore',
    summary: 'The same evidence as a Sigstore bundle v0.3.',
    auth: 'read',
    responses: { '200': { description: 'a Sigstore bundle', schema: OpaqueJsonSchema } },
  },
  {
    method: 'get',
    path: '/v1/trusted-root',
    summary: 'trusted_root.json (group key, log key) for @sigstore/verify and aaps-verify.',
    auth: 'read',
    responses: { '200': { description: 'the trusted root', schema: OpaqueJsonSchema } },
  },
];

export function registerEvidenceRoutes(app: GatewayApp, d: RouteDeps): void {
  const load = async (id: string) => {
    const bundle = /^[0-9a-f]{64}$/.test(id) ? await d.store.getEvidence(id) : undefined;
    if (bundle === undefined) throw new AapsError('NOT_FOUND', 'no such evidence');
    return bundle;
  };
  app.get('/v1/evidence/:evidence_id', requireScope(d.authenticate, 'read'), async (c) => {
    const bundle = await load(c.req.param('evidence_id'));
    if ((c.req.header('accept') ?? '').includes('application/cbor')) {
      return c.body(new Uint8Array(encodeBundleCbor(bundle)), 200, { 'Content-Type': 'application/cbor' });
    }
    return c.body(JSON.stringify(bundle), 200, { 'Content-Type': 'application/vnd.aaps.evidence.v1+json' });
  });
  app.get('/v1/evidence/:evidence_id/sigstore', requireScope(d.authenticate, 'read'), async (c) => {
    const bundle = await load(c.req.param('evidence_id'));
    return c.body(JSON.stringify(toSigstoreBundle(bundle, await d.evidence.logKey())), 200, {
      'Content-Type': 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
  });
  app.get('/v1/trusted-root', requireScope(d.authenticate, 'read'), async (c) =>
    c.json(await d.evidence.trustedRoot()),
  );
}
