/**
 * API review: the gateway's HTTP answers against its contract (DESIGN.md's HTTP API, docs/api.md,
 * docs/evidence.md and the OpenAPI document it serves at `GET /v1/openapi.json`). Real answers are
 * checked against the served schemas with a small JSON Schema checker (the keywords the document
 * uses: $ref, type, properties, required, additionalProperties, items, min/maxItems, enum, const,
 * pattern, min/maxLength, minimum, maxProperties, propertyNames, oneOf, anyOf).
 */
import { generateIdentityKey, SealedFieldCodec } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from './test-helpers/gateway.js';
import { signedUnsealRequest } from './test-helpers/unseal-request.js';

type J = Record<string, unknown>;

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;

/** Every way `value` fails `schema` (within the OpenAPI document `root`), as `path: problem`. */
function violations(root: J, schema: unknown, value: unknown, path = '$'): string[] {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${path}: no value allowed`];
  const s = schema as J;
  const out: string[] = [];
  if (typeof s['$ref'] === 'string') {
    const name = s['$ref'].replace('#/components/schemas/', '');
    const target = ((root['components'] as J)['schemas'] as J)[name];
    if (target === undefined) return [`${path}: unresolved ${s['$ref']}`];
    out.push(...violations(root, target, value, path));
  }
  if (s['type'] !== undefined) {
    const types = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer')))
      return [...out, `${path}: expected ${types.join('|')}, got ${t}`];
  }
  if (s['const'] !== undefined && value !== s['const']) out.push(`${path}: not ${String(s['const'])}`);
  if (Array.isArray(s['enum']) && !s['enum'].includes(value)) out.push(`${path}: not in enum`);
  if (typeof value === 'string') {
    const len = [...value].length;
    if (typeof s['maxLength'] === 'number' && len > s['maxLength']) out.push(`${path}: too long`);
    if (typeof s['minLength'] === 'number' && len < s['minLength']) out.push(`${path}: too short`);
    if (typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(value))
      out.push(`${path}: does not match ${s['pattern']}`);
  }
  if (typeof value === 'number' && typeof s['minimum'] === 'number' && value < s['minimum'])
    out.push(`${path}: below ${s['minimum']}`);
  if (Array.isArray(value)) {
    if (typeof s['maxItems'] === 'number' && value.length > s['maxItems'])
      out.push(`${path}: ${value.length} items, the schema allows at most ${s['maxItems']}`);
    if (typeof s['minItems'] === 'number' && value.length < s['minItems']) out.push(`${path}: too few items`);
    if (s['items'] !== undefined)
      value.forEach((v, i) => {
        out.push(...violations(root, s['items'], v, `${path}[${i}]`));
      });
  }
  if (typeOf(value) === 'object') {
    const o = value as J;
    const props = (s['properties'] ?? {}) as J;
    for (const r of (s['required'] ?? []) as string[]) if (!(r in o)) out.push(`${path}.${r}: is required`);
    if (typeof s['maxProperties'] === 'number' && Object.keys(o).length > s['maxProperties'])
      out.push(`${path}: too many properties`);
    for (const [k, v] of Object.entries(o)) {
      if (s['propertyNames'] !== undefined)
        out.push(...violations(root, s['propertyNames'], k, `${path}[${k}]`));
      if (k in props) out.push(...violations(root, props[k], v, `${path}.${k}`));
      else if (s['additionalProperties'] !== undefined)
        out.push(...violations(root, s['additionalProperties'], v, `${path}.${k}`));
    }
  }
  if (Array.isArray(s['oneOf'])) {
    const n = s['oneOf'].filter((x) => violations(root, x, value, path).length === 0).length;
    if (n !== 1) out.push(`${path}: matches ${n} of oneOf`);
  }
  if (Array.isArray(s['anyOf']) && !s['anyOf'].some((x) => violations(root, x, value, path).length === 0))
    out.push(`${path}: matches none of anyOf`);
  return out;
}

let gw: TestGateway;
let doc: J;
const approverKey = generateIdentityKey();

beforeAll(async () => {
  gw = await makeGateway({ config: { sealing: {} }, approverKey });
  doc = (await json(await request(gw, 'GET', '/v1/openapi.json', { token: TOKENS.read }))) as J;
});
afterAll(async () => gw.cleanup());

/** The schema the served document gives `method path` for `status` and `contentType`. */
function servedSchema(
  method: string,
  path: string,
  status: string,
  contentType = 'application/json',
): unknown {
  const op = ((doc['paths'] as J)[path] as J)[method] as J;
  const responses = op['responses'] as J;
  const res = (responses[status] ?? responses['default']) as J;
  return ((res['content'] as J)[contentType] as J)['schema'];
}

/** An ended incident with `n` sealed fields (container env values), and its evidence id. */
async function sealedIncident(n: number): Promise<{ id: string; evidenceId: string; fields: string[] }> {
  const env = Array.from({ length: n }, (_, i) => ({ name: `VAR_${i}`, value: `s3cr3t-value-${i}-review` }));
  const created = await json(
    await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env } }),
    }),
  );
  const id = String(created['incident_id']);
  await gw.runner.idle();
  const record = await gw.store.getIncident(id);
  const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f).id);
  return { id, evidenceId: String(record?.evidence_id), fields };
}

describe('unseal: the served OpenAPI document against what the route takes and answers', () => {
  it('an unseal answer for 201 sealed fields meets the served UnsealAnswer schema', async () => {
    const { id, evidenceId, fields } = await sealedIncident(201);
    expect(fields.length).toBe(201);
    const req = signedUnsealRequest(approverKey, { incident_id: id, evidence_id: evidenceId, fields });
    const res = await request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    expect(res.status).toBe(200);
    const answer = await json(res);
    // Every party answers for every field (the default policy refuses more than 64 fields per
    // request: 5 x 201 refusals), as docs/api.md says; the served schema bounds it by MAX_PARTIES x 1024.
    expect((answer['refusals'] as unknown[]).length + (answer['releases'] as unknown[]).length).toBe(5 * 201);
    const schema = servedSchema('post', '/v1/evidence/{evidence_id}/unseal', '200');
    expect(violations(doc, schema, answer)).toEqual([]);
  }, 120_000);

  it('takes a request for 1001 fields, which its own schema description, sealing.md and mpc-core allow (1 to 1024)', async () => {
    const published = ((doc['components'] as J)['schemas'] as J)['UnsealRequest'] as J;
    const described = ((published['properties'] as J)['fields'] as J)['description'];
    expect(String(described)).toContain('1 to 1024');
    const { id, evidenceId } = await sealedIncident(1);
    const fields = Array.from({ length: 1001 }, (_, i) => `no-such-field-${i}`);
    const req = signedUnsealRequest(approverKey, { incident_id: id, evidence_id: evidenceId, fields });
    const res = await request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    const body = await json(res);
    // Within the documented bound, the request is judged on what it names (no such sealed field:
    // 404), not refused as malformed for its length.
    expect(body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(res.status).toBe(404);
  }, 60_000);
});

describe('error answers against the served Error schema', () => {
  it('a webhook body with 1000 incomplete alerts gets a 400 that meets the Error schema', async () => {
    const raw = JSON.stringify({
      version: '4',
      status: 'firing',
      alerts: Array.from({ length: 1000 }, () => ({})),
    });
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw });
    expect(res.status).toBe(400);
    const body = await json(res);
    const schema = servedSchema('post', '/v1/webhooks/alertmanager', '400');
    expect(violations(doc, schema, body)).toEqual([]);
  });
});

describe('evidence content negotiation (docs/api.md: CBOR when Accept ranks application/cbor first by q-value)', () => {
  it('follows the q-values a */* range gives, as RFC 9110 §12.5.1 ranks them', async () => {
    const created = await json(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() }),
    );
    await gw.runner.idle();
    const incident = await json(
      await request(gw, 'GET', `/v1/incidents/${String(created['incident_id'])}`, { token: TOKENS.read }),
    );
    const path = `/v1/evidence/${String(incident['evidence_id'])}`;
    const cases: [accept: string, expected: string][] = [
      // Both JSON types not acceptable (q=0), anything else is: CBOR is the only acceptable answer.
      ['application/vnd.aaps.evidence.v1+json;q=0, application/json;q=0, */*', 'application/cbor'],
      // Anything at 1, CBOR at 0.9: the JSON bundle ranks first.
      ['application/cbor;q=0.9, */*', 'application/vnd.aaps.evidence.v1+json'],
    ];
    const got: [string, string][] = [];
    for (const [accept] of cases) {
      const res = await request(gw, 'GET', path, { token: TOKENS.read, headers: { accept } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      got.push([accept, res.headers.get('content-type') ?? '']);
    }
    expect(got).toEqual(cases);
  });
});

describe('trusted root media type (docs/evidence.md, "Sigstore export")', () => {
  it('GET /v1/trusted-root answers with the Sigstore TrustedRoot media type the docs name', async () => {
    const res = await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read });
    expect(res.status).toBe(200);
    const root = await json(res);
    // The document says what it is; the evidence and Sigstore bundle routes answer with theirs.
    expect(root['mediaType']).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1');
    expect(res.headers.get('content-type')).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1');
  });
});

describe('paging: a cursor the gateway never issued', () => {
  it('is refused (400 INVALID_ARGUMENT naming cursor), not read as the end of the list', async () => {
    await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
    // base64url of "garbage|cursor": a client's corrupted or foreign cursor.
    const forged = Buffer.from('garbage|cursor', 'utf8').toString('base64url');
    const res = await request(gw, 'GET', `/v1/incidents?cursor=${forged}`, { token: TOKENS.read });
    const body = await json(res);
    expect(body).toMatchObject({ error: { code: 'INVALID_ARGUMENT', fields: ['cursor'] } });
    expect(res.status).toBe(400);
  });
});

describe('log indexes past 2^53', () => {
  it('GET /v1/log/entries/9007199254740993 (a valid LOG_INDEX) names the index asked for', async () => {
    const res = await request(gw, 'GET', '/v1/log/entries/9007199254740993', { token: TOKENS.read });
    const body = await json(res);
    expect(res.status).toBe(404);
    expect(String((body['error'] as J)['message'])).toContain('9007199254740993');
  });
});
