/** The OpenAPI document: covers every registered route, and `docs/openapi.json` is its current copy. */
import { readFileSync } from 'node:fs';
import { bodyReadError } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument, ROUTE_DOCS } from './app.js';
import { IncidentSignalEnvelopeSchema } from './intake/envelope.js';
import { signGithubPayload } from './intake/github-signature.js';
import { statusOf } from './middleware/errors.js';
import { impliedErrors, type RouteDoc } from './openapi.js';
import { type JsonSchema, toJsonSchema } from './schema/emit.js';
import {
  GITHUB_SECRET,
  githubDelivery,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

type Media = Record<string, { schema?: Record<string, unknown> }>;
type Operation = { responses: Record<string, { description: string; content?: Media }> };

function operation(r: Pick<RouteDoc, 'method' | 'path'>): Operation {
  const doc = openApiDocument() as { paths: Record<string, Record<string, Operation>> };
  const op = doc.paths[r.path]?.[r.method];
  if (op === undefined) throw new Error(`${r.method} ${r.path} is not in the document`);
  return op;
}

/** Asserts `res`'s status, and its media type, are declared for route `r`. */
function expectDeclared(r: RouteDoc, res: Response, what: string): void {
  const responses = operation(r).responses;
  const key = String(res.status);
  expect(Object.keys(responses), `${r.method} ${r.path} ${what}: ${res.status} is not declared`).toContain(
    key,
  );
  // Media types compared without parameters (a declared `;version=0.1` is the answer's too).
  const bare = (t: string) => t.split(';')[0]?.trim() ?? '';
  const type = bare(res.headers.get('content-type') ?? '');
  if (res.status !== 204 && type !== '')
    expect(
      Object.keys(responses[key]?.content ?? {}).map(bare),
      `${r.method} ${r.path} ${what}: ${type}`,
    ).toContain(type);
}

/** A path of `r` with its parameters filled in. */
function fill(r: RouteDoc, values: Record<string, string> = {}): string {
  return r.path.replace(/\{([a-z_]+)\}/g, (_, name: string) => values[name] ?? 'x');
}

/** A token that lacks `scope` (admin holds every scope, so it never is one). */
const LACKING: Record<string, string> = {
  read: TOKENS.submit,
  submit: TOKENS.read,
  approve: TOKENS.submit,
  admin: TOKENS.read,
};
const HAVING: Record<string, string> = {
  read: TOKENS.read,
  submit: TOKENS.submit,
  approve: TOKENS.approve,
  admin: TOKENS.admin,
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
});
afterAll(async () => gw.cleanup());

describe('OpenAPI document', () => {
  it('lists exactly the routes the app serves', () => {
    const served = gw.app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([a-z_]+)/g, '{$1}')}`);
    const documented = ROUTE_DOCS.map((r) => `${r.method} ${r.path}`);
    expect([...new Set(served)].sort()).toEqual([...documented].sort());
  });

  it('publishes the schema the intake validates with', () => {
    const doc = openApiDocument() as { components: { schemas: Record<string, unknown> } };
    const inline = toJsonSchema(IncidentSignalEnvelopeSchema) as { properties: Record<string, unknown> };
    const published = doc.components.schemas['IncidentSignalEnvelope'] as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(published.properties)).toEqual(Object.keys(inline.properties));
    expect(doc.components.schemas['EnvelopeMeta']).toEqual(
      JSON.parse(JSON.stringify(toJsonSchema(IncidentSignalEnvelopeSchema))).properties.meta,
    );
  });

  it('documents the GitHub webhook headers, its body per X-GitHub-Event, and every error status', () => {
    type Op = {
      parameters: { name: string; in: string; required: boolean }[];
      requestBody: { content: Record<string, Record<string, unknown>> };
      responses: Record<string, unknown>;
    };
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, Op>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const github = doc.paths['/v1/webhooks/github']!['post']!;
    expect(github.parameters.filter((p) => p.in === 'header' && p.required).map((p) => p.name)).toEqual([
      'X-GitHub-Event',
      'X-GitHub-Delivery',
      'X-Hub-Signature-256',
    ]);
    const media = github.requestBody.content['application/json']!;
    // Any JSON object: an event this intake does not act on is accepted (and ignored).
    expect(doc.components.schemas['GithubWebhook']).toMatchObject({ type: 'object' });
    expect(media['x-aaps-schema-by-header']).toEqual({
      header: 'X-GitHub-Event',
      schemas: {
        workflow_run: { $ref: '#/components/schemas/GithubWorkflowRunEvent' },
        check_run: { $ref: '#/components/schemas/GithubCheckRunEvent' },
      },
    });
    expect(doc.paths['/v1/incidents/{id}/events']!['get']!.responses).toHaveProperty('404');
  });

  it('answers as documented: an ignored GitHub event is 202, an unknown incident stream 404', async () => {
    const raw = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
    const res = await githubDelivery(gw, raw, 'ping', 'ping-1');
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ incidents: [], ignored: [{ reason: 'event_not_handled' }] });
    const events = await request(gw, 'GET', '/v1/incidents/inc-nope/events', { token: TOKENS.read });
    expect(events.status).toBe(404);
  });

  it('gives every error response, and the default one, the Error schema', () => {
    for (const r of ROUTE_DOCS) {
      const responses = operation(r).responses;
      expect(responses, `${r.method} ${r.path}`).toHaveProperty('default');
      for (const [status, res] of Object.entries(responses)) {
        if (status !== 'default' && Number(status) < 400) continue;
        expect(res.content?.['application/json']?.schema, `${r.method} ${r.path} ${status}`).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
      for (const status of Object.keys(impliedErrors(r)))
        expect(Object.keys(responses), `${r.method} ${r.path}`).toContain(status);
    }
  });

  it('declares the media types the evidence routes answer with', () => {
    const bundle = operation({ method: 'get', path: '/v1/evidence/{evidence_id}' }).responses['200'];
    expect(Object.keys(bundle?.content ?? {})).toEqual([
      'application/vnd.aaps.evidence.v1+json',
      'application/cbor',
    ]);
    const sigstore = operation({ method: 'get', path: '/v1/evidence/{evidence_id}/sigstore' }).responses;
    expect(Object.keys(sigstore['200']?.content ?? {})).toEqual([
      'application/vnd.dev.sigstore.bundle.v0.3+json',
    ]);
    expect(sigstore).toHaveProperty('404');
  });

  it('declares, for each route, every status its middleware answers with (probed on the app)', async () => {
    // The body reader's refusals that cannot be provoked here map to what impliedErrors declares.
    expect(statusOf(bodyReadError('slow', 1))).toBe(408);
    expect(statusOf(bodyReadError('busy', 1))).toBe(503);
    expect(statusOf(bodyReadError('too_large', 1))).toBe(413);
    const small = await makeGateway({ config: { maxBodyBytes: 2048 } });
    const off = await makeGateway({ config: { githubSecret: undefined } });
    try {
      for (const r of ROUTE_DOCS) {
        const method = r.method.toUpperCase();
        const path = fill(r);
        const implied = impliedErrors(r);
        if (r.auth === 'none') {
          const res = await request(small, method, path);
          expect(res.status, `${method} ${path} needs no token`).not.toBe(401);
          continue;
        }
        const token = r.auth === 'hmac' ? undefined : HAVING[r.auth];
        if (r.auth === 'hmac') {
          const unsigned = await request(small, method, path, {
            raw: '{}',
            headers: { 'x-github-event': 'ping', 'x-github-delivery': 'd-1' },
          });
          expect(unsigned.status).toBe(401);
          expectDeclared(r, unsigned, 'unsigned');
          const noSecret = await request(off, method, path, { raw: '{}' });
          expect(noSecret.status).toBe(503);
          expectDeclared(r, noSecret, 'no secret');
        } else {
          const none = await request(small, method, path, r.body === undefined ? {} : { body: {} });
          expect(none.status).toBe(401);
          expectDeclared(r, none, 'no token');
          const lacking = await request(small, method, path, {
            token: LACKING[r.auth] ?? '',
            ...(r.body === undefined ? {} : { body: {} }),
          });
          expect(lacking.status).toBe(403);
          expectDeclared(r, lacking, 'token outside its scope');
          const having = await request(small, method, path, {
            token: token ?? '',
            ...(r.body === undefined ? {} : { body: {} }),
          });
          expect([401, 403], `${method} ${path} with a ${r.auth} token`).not.toContain(having.status);
        }
        const auth = token === undefined ? {} : { token };
        if (r.body !== undefined) {
          const typed = await request(small, method, path, {
            ...auth,
            raw: '{}',
            headers: { 'content-type': 'text/plain' },
          });
          expect(typed.status).toBe(415);
          expectDeclared(r, typed, 'text/plain body');
          const large = await request(small, method, path, { ...auth, body: { pad: 'x'.repeat(4096) } });
          expect(large.status).toBe(413);
          expectDeclared(r, large, 'large body');
          const raw = '{"not json';
          const broken = await request(small, method, path, {
            ...auth,
            raw,
            headers: {
              'x-github-event': 'workflow_run',
              'x-github-delivery': 'd-2',
              'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET),
            },
          });
          expect(broken.status).toBe(400);
          expectDeclared(r, broken, 'bad JSON');
          for (const status of ['408', '503']) expect(Object.keys(implied)).toContain(status);
        } else if (method === 'POST') {
          // No body reader: a body of another type is not refused for its type.
          const typed = await request(small, method, path, {
            ...auth,
            raw: 'x',
            headers: { 'content-type': 'text/plain' },
          });
          expect(typed.status, `${method} ${path} reads no body`).not.toBe(415);
        }
        if (r.query !== undefined) {
          const props = (toJsonSchema(r.query)['properties'] ?? {}) as Record<string, JsonSchema>;
          const checked = Object.entries(props).find(([, p]) => 'pattern' in p || 'enum' in p);
          expect(checked, `${r.path}: a query parameter to probe`).toBeDefined();
          const res = await request(small, method, `${path}?${checked?.[0]}=not%20valid`, auth);
          expect(res.status).toBe(400);
          expectDeclared(r, res, 'bad query');
        }
      }
    } finally {
      await small.cleanup();
      await off.cleanup();
    }
  });

  it('declares the status and media type of what every GET answers, including CBOR evidence', async () => {
    const created = await json(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() }),
    );
    await gw.runner.idle();
    const incident = await json(
      await request(gw, 'GET', `/v1/incidents/${String(created['incident_id'])}`, { token: TOKENS.read }),
    );
    const values = {
      id: String(incident['incident_id']),
      incident_id: String(incident['incident_id']),
      evidence_id: String(incident['evidence_id']),
      index: '0',
    };
    expect(values.evidence_id).toMatch(/^[0-9a-f]{64}$/);
    for (const r of ROUTE_DOCS.filter((x) => x.method === 'get')) {
      const query =
        r.query === undefined
          ? ''
          : `?${((toJsonSchema(r.query)['required'] ?? []) as string[]).map((q) => `${q}=1`).join('&')}`;
      for (const accept of ['application/json', 'application/cbor']) {
        const res = await request(gw, 'GET', `${fill(r, values)}${query}`, {
          ...(r.auth === 'read' ? { token: TOKENS.read } : {}),
          headers: { accept },
        });
        // A route that negotiates (it declares a 406) and offers no CBOR refuses that Accept.
        const cborOffered = (r.responses['200']?.alternatives ?? []).some(
          (a) => a.contentType === 'application/cbor',
        );
        const refused = '406' in r.responses && accept === 'application/cbor' && !cborOffered;
        expect(res.status, `${r.path} (${accept})`).toBe(refused ? 406 : 200);
        expectDeclared(r, res, `Accept: ${accept}`);
        await res.arrayBuffer();
      }
    }
    const cbor = await request(gw, 'GET', `/v1/evidence/${values.evidence_id}`, {
      token: TOKENS.read,
      headers: { accept: 'application/cbor' },
    });
    expect(cbor.headers.get('content-type')).toBe('application/cbor');
  });

  it('docs/openapi.json is current (regenerate: npx aaps openapi > docs/openapi.json)', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(onDisk).toEqual(openApiDocument());
  });
});
