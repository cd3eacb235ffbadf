/** The OpenAPI document: covers every registered route, and `docs/openapi.json` is its current copy. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument, ROUTE_DOCS } from './app.js';
import { IncidentSignalEnvelopeSchema } from './intake/envelope.js';
import { toJsonSchema } from './schema/emit.js';
import { githubDelivery, makeGateway, request, type TestGateway, TOKENS } from './test-helpers/gateway.js';

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

  it('docs/openapi.json is current (regenerate: npx aaps openapi > docs/openapi.json)', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(onDisk).toEqual(openApiDocument());
  });
});
