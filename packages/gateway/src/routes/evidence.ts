/** Evidence bundles (JSON or CBOR), their Sigstore form, and the trusted root. */
import { ED25519_SUITE, encodeBundleCbor, TRUSTED_ROOT_MEDIA_TYPE, toSigstoreBundle } from '@aaps/evidence';
import { AapsError } from '@aaps/mpc-core';
import type { Context } from 'hono';
import { negotiate } from '../accept.js';
import { requireScope } from '../middleware/auth.js';
import type { RouteDoc } from '../openapi.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { OpaqueJsonSchema } from './schemas.js';

/** The media types the evidence routes answer with (also what the document declares). */
export const EVIDENCE_MEDIA_TYPE = 'application/vnd.aaps.evidence.v1+json';
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const NO_EVIDENCE = { description: 'NOT_FOUND: no evidence with this id' };

/**
 * The names the evidence route answers by, in its order of preference: the JSON bundle (under its
 * own media type, or plain JSON, which it is) and CBOR.
 */
const EVIDENCE_OFFERS = [EVIDENCE_MEDIA_TYPE, 'application/json', 'application/cbor'] as const;

/**
 * The names the trusted root answers by: Sigstore's media type for it (with its `version`, as the
 * document's `mediaType` says), or plain JSON, which it is. Both are answered under the first.
 */
const TRUSTED_ROOT_OFFERS = [TRUSTED_ROOT_MEDIA_TYPE, 'application/json'] as const;

/** The Sigstore bundle's names, as the trusted root's: its media type, or plain JSON (answered under the first). */
const SIGSTORE_BUNDLE_OFFERS = [SIGSTORE_BUNDLE_MEDIA_TYPE, 'application/json'] as const;

/**
 * The offer `Accept` ranks first (RFC 9110 §12.5.1, accept.ts), with `Vary: Accept` set on the
 * answer (the 406 too, so a shared cache keeps them apart); 406 `NOT_ACCEPTABLE` when it takes
 * none of them.
 */
function chooseOffer(c: Context, offers: readonly string[], what: string): string {
  c.header('Vary', 'Accept');
  const wanted = negotiate(c.req.header('Accept'), offers);
  if (wanted === undefined)
    throw new AapsError('NOT_ACCEPTABLE', `Accept takes none of ${what}'s media types: ${offers.join(', ')}`);
  return wanted;
}

export const evidenceRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/evidence/{evidence_id}',
    summary: `The evidence bundle (${EVIDENCE_MEDIA_TYPE}; CBOR with Accept: application/cbor).`,
    auth: 'read',
    responses: {
      '200': {
        description:
          'the bundle as JSON, or as CBOR (RFC 8949, the same bundle) when Accept ranks application/cbor first (RFC 9110 §12.5.1: q-values, */* and application/* ranges); both carry Vary: Accept',
        schema: OpaqueJsonSchema,
        contentType: EVIDENCE_MEDIA_TYPE,
        alternatives: [{ contentType: 'application/cbor' }],
      },
      '404': NO_EVIDENCE,
      '406': {
        description: `NOT_ACCEPTABLE: Accept ranks none of ${EVIDENCE_OFFERS.join(', ')} above q=0 (with Vary: Accept)`,
      },
    },
  },
  {
    method: 'get',
    path: '/v1/evidence/{evidence_id}/sigstore',
    summary: 'The same evidence as a Sigstore bundle v0.3.',
    auth: 'read',
    responses: {
      '200': {
        description:
          'a Sigstore bundle (under its media type, also when Accept ranks application/json first; with Vary: Accept)',
        schema: OpaqueJsonSchema,
        contentType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      },
      '404': NO_EVIDENCE,
      '406': {
        description: `NOT_ACCEPTABLE: Accept ranks none of ${SIGSTORE_BUNDLE_OFFERS.join(', ')} above q=0 (with Vary: Accept)`,
      },
      '409': {
        description:
          'CONFLICT: the group is not Ed25519 (Sigstore has no BIP-340 key type), or the bundle is not in the log yet',
      },
    },
  },
  {
    method: 'get',
    path: '/v1/trusted-root',
    summary: 'trusted_root.json (group key, log key) for @sigstore/verify and aaps-verify.',
    auth: 'read',
    responses: {
      '200': {
        description:
          'the trusted root (JSON, under the Sigstore TrustedRoot media type, also when Accept ranks application/json first; with Vary: Accept)',
        schema: OpaqueJsonSchema,
        contentType: TRUSTED_ROOT_MEDIA_TYPE,
      },
      '406': {
        description: `NOT_ACCEPTABLE: Accept ranks none of ${TRUSTED_ROOT_OFFERS.join(', ')} above q=0 (with Vary: Accept)`,
      },
      '409': {
        description: 'CONFLICT: the group is not Ed25519 (verify with aaps-verify --key and --roster)',
      },
    },
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
    // Two representations of one resource: chosen by media type and q-value (RFC 9110 §12.5.1),
    // JSON unless CBOR ranks first.
    if (chooseOffer(c, EVIDENCE_OFFERS, 'the evidence') === 'application/cbor') {
      return c.body(new Uint8Array(encodeBundleCbor(bundle)), 200, {
        'Content-Type': 'application/cbor',
        Vary: 'Accept',
      });
    }
    return c.body(JSON.stringify(bundle), 200, { 'Content-Type': EVIDENCE_MEDIA_TYPE, Vary: 'Accept' });
  });
  app.get('/v1/evidence/:evidence_id/sigstore', requireScope(d.authenticate, 'read'), async (c) => {
    const bundle = await load(c.req.param('evidence_id'));
    chooseOffer(c, SIGSTORE_BUNDLE_OFFERS, 'the Sigstore bundle');
    // The request is fine; this bundle cannot take the Sigstore form (yet): 409, as the trusted root.
    if (bundle.verificationMaterial.ciphersuite !== ED25519_SUITE) {
      throw new AapsError(
        'CONFLICT',
        `only Ed25519 bundles export to Sigstore (no BIP-340 key type there); this one is ${bundle.verificationMaterial.ciphersuite}: verify it with aaps-verify`,
      );
    }
    if (bundle.transparencyLog === undefined) {
      throw new AapsError('CONFLICT', 'the bundle is not in the log yet: ask again once it is');
    }
    return c.body(JSON.stringify(toSigstoreBundle(bundle, await d.evidence.logKey())), 200, {
      'Content-Type': SIGSTORE_BUNDLE_MEDIA_TYPE,
      Vary: 'Accept',
    });
  });
  // JSON under the media type the document names itself by (its `mediaType`), as the evidence and
  // Sigstore bundle routes answer with theirs; an Accept that takes neither name is a 406.
  app.get('/v1/trusted-root', requireScope(d.authenticate, 'read'), async (c) => {
    chooseOffer(c, TRUSTED_ROOT_OFFERS, 'the trusted root');
    return c.body(JSON.stringify(await d.evidence.trustedRoot()), 200, {
      'Content-Type': TRUSTED_ROOT_MEDIA_TYPE,
      Vary: 'Accept',
    });
  });
}
