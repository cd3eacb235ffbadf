/**
 * The OpenAPI 3.1 document, built from the route table and the same schema values the routes
 * validate with, so the published API cannot drift from what the gateway accepts.
 */
import type { Scope } from './http-env.js';
import { ErrorSchema } from './routes/schemas.js';
import type { Schema } from './schema/define.js';
import { type JsonSchema, schemaRef, toJsonSchema, toOpenApiComponents } from './schema/emit.js';

export interface RouteDoc {
  method: 'get' | 'post';
  /** OpenAPI path (`/v1/incidents/{id}`). */
  path: string;
  summary: string;
  /** `hmac`: GitHub's signature; `none`: open. */
  auth: Scope | 'hmac' | 'none';
  body?: Schema<unknown>;
  /**
   * When a header, not the body, says which schema the body must meet (GitHub's `X-GitHub-Event`):
   * `body` is then what every body is, and this maps each header value to its schema. Emitted as
   * the media type's `x-aaps-schema-by-header`, since JSON Schema cannot see headers.
   */
  bodyByHeader?: { header: string; schemas: Readonly<Record<string, Schema<unknown>>> };
  /** Request headers the route requires (other than `Authorization`). */
  headers?: readonly { name: string; description: string; schema: Schema<unknown> }[];
  query?: Schema<unknown>;
  responses: Record<string, { description: string; schema?: Schema<unknown>; contentType?: string }>;
}

function named(schema: Schema<unknown> | undefined): Schema<unknown>[] {
  return schema?.node.name === undefined ? [] : [schema];
}

export function buildOpenApi(
  routes: readonly RouteDoc[],
  info: { version: string },
): Record<string, unknown> {
  const components = toOpenApiComponents([
    ErrorSchema,
    ...routes.flatMap((r) => [
      ...named(r.body),
      ...Object.values(r.bodyByHeader?.schemas ?? {}).flatMap(named),
      ...Object.values(r.responses).flatMap((x) => named(x.schema)),
    ]),
  ]);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = r.query === undefined ? [] : queryParams(toJsonSchema(r.query));
    const headers = (r.headers ?? []).map((h) => ({
      name: h.name,
      in: 'header',
      required: true,
      description: h.description,
      schema: toJsonSchema(h.schema),
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema === undefined && res.contentType === undefined
          ? {}
          : {
              content: {
                [res.contentType ?? 'application/json']: {
                  schema: res.schema ? schemaRef(res.schema) : { type: 'string' },
                },
              },
            }),
      };
    }
    if (r.auth !== 'none') {
      for (const status of r.auth === 'hmac' ? ['401', '503'] : ['401', '403']) {
        responses[status] ??= {
          description: status === '503' ? 'no webhook secret configured' : 'not authorised',
          content: { 'application/json': { schema: schemaRef(ErrorSchema) } },
        };
      }
    }
    if (r.body !== undefined) {
      for (const status of ['400', '413', '415']) {
        responses[status] ??= {
          description: 'bad input',
          content: { 'application/json': { schema: schemaRef(ErrorSchema) } },
        };
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      security: r.auth === 'none' || r.auth === 'hmac' ? [] : [{ bearer: [r.auth] }],
      ...(r.auth === 'hmac' ? { 'x-aaps-auth': 'X-Hub-Signature-256 (HMAC-SHA256 of the raw body)' } : {}),
      parameters: [...params, ...headers, ...query],
      ...(r.body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': mediaType(r) } } }),
      responses,
    };
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'AAPS Quorum gateway',
      version: info.version,
      description:
        'Incident intake, k-of-n approvals and signed evidence. Errors are {"error":{"code","message"}}.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Scopes: submit, approve, read, admin (admin implies all).',
        },
      },
    },
  };
}

/** The request body's media type object: its schema, and the per-header schemas if any. */
function mediaType(r: RouteDoc): Record<string, unknown> {
  if (r.body === undefined) return {};
  const byHeader = r.bodyByHeader;
  return {
    schema: schemaRef(r.body),
    ...(byHeader === undefined
      ? {}
      : {
          'x-aaps-schema-by-header': {
            header: byHeader.header,
            schemas: Object.fromEntries(Object.entries(byHeader.schemas).map(([v, s]) => [v, schemaRef(s)])),
          },
        }),
  };
}

function queryParams(schema: JsonSchema): Record<string, unknown>[] {
  const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}
