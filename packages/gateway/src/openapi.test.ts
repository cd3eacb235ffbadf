/** The OpenAPI document: covers every registered route, and `docs/openapi.json` is its current copy. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument, ROUTE_DOCS } from './app.js';
import { IncidentSignalEnvelopeSchema } from './intake/envelope.js';
import { toJsonSchema } from './schema/emit.js';
import { makeGateway, type TestGateway } from './test-helpers/gateway.js';

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

  it('docs/openapi.json is current (regenerate: npx aaps openapi > docs/openapi.json)', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(onDisk).toEqual(openApiDocument());
  });
});
