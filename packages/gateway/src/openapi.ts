/**
 * The OpenAPI 3.1 document, built from the route table and the same schema values the routes
 * validate with, so the published API cannot drift from what the gateway accepts.
 *
 * The error statuses a route's middleware implies are added here, not by each route
 * ({@link impliedErrors}): a bearer scope gives 401 and 403, GitHub's HMAC 401 and 503, a body
 * 400, 408, 413, 415 and 503, a query 400. Every error response, and the `default` one (500 and
 * the other 5xx), carries the `Error` schema.
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
  /** Route-specific statuses; the ones its middleware implies are added ({@link impliedErrors}). */
  responses: Record<string, ResponseDoc>;
}

export interface ResponseDoc {
  description: string;
  schema?: Schema<unknown>;
  /** The media type of `schema` (default `application/json`; without a schema, a string). */
  contentType?: string;
  /**
   * Other media types the route answers with (by `Accept`): each with its schema, or none for a
   * binary one (OpenAPI 3.1 leaves the schema of binary content out).
   */
  alternatives?: readonly { contentType: string; schema?: Schema<unknown> }[];
}

/**
 * The error statuses a route's middleware implies, each with what causes it: `requireScope` (401,
 * 403), the GitHub HMAC check (401; 503 without a secret), `bodyLimit` with `jsonBody` and the
 * schema check (400, 408, 413, 415; 503 when the shared body budget is spent), a query schema (400).
 */
export function impliedErrors(r: Pick<RouteDoc, 'auth' | 'body' | 'query'>): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (status: string, why: string) => {
    out[status] = out[status] === undefined ? why : `${out[status]}; ${why}`;
  };
  if (r.auth === 'hmac') {
    add(
      '401',
      'the GitHub signature check failed: X-Hub-Signature-256 is missing, malformed, or does not match the raw body',
    );
    add('503', 'UNAVAILABLE: no GitHub webhook secret is configured (AAPS_GITHUB_WEBHOOK_SECRET)');
  } else if (r.auth !== 'none') {
    add('401', 'UNAUTHENTICATED: no bearer token, or not a valid one (with WWW-Authenticate: Bearer)');
    add(
      '403',
      `FORBIDDEN: the token lacks the ${r.auth} scope${r.auth === 'admin' ? '' : ' (admin implies it)'}`,
    );
  }
  if (r.query !== undefined) add('400', 'INVALID_ARGUMENT: a query parameter is not valid (fields names it)');
  if (r.body !== undefined) {
    add(
      '400',
      'DECODE_FAILED: the body is not UTF-8 JSON, or one object in it gives a key twice (fields names its path); INVALID_ARGUMENT: it does not meet the schema (fields names the paths); BODY_ABORTED: the connection closed before the whole body arrived',
    );
    add('408', 'REQUEST_TIMEOUT: the body arrived too slowly');
    add('413', 'PAYLOAD_TOO_LARGE: the body is over the limit (--max-body-bytes, default 1 MiB)');
    add(
      '415',
      'UNSUPPORTED_MEDIA_TYPE: Content-Type is not application/json, its charset is not utf-8, or Content-Encoding is not identity',
    );
    add('503', 'UNAVAILABLE: too many request bodies are being read at once; retry');
  }
  return out;
}

/** The `default` response of every operation: the errors no route lists. */
const DEFAULT_ERROR =
  'any other error: 500 INTERNAL (details stay in the gateway log), 503 UNAVAILABLE or 504 TIMEOUT (parties unreachable; a retry may work)';

const isError = (status: string) => status === 'default' || Number(status) >= 400;

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
      ...Object.values(r.responses).flatMap((x) => [
        ...named(x.schema),
        ...(x.alternatives ?? []).flatMap((a) => named(a.schema)),
      ]),
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
    const errorContent = { 'application/json': { schema: schemaRef(ErrorSchema) } };
    const declared: Record<string, ResponseDoc> = { ...r.responses };
    for (const [status, why] of Object.entries(impliedErrors(r))) {
      const own = declared[status];
      declared[status] =
        own === undefined ? { description: why } : { ...own, description: `${why}; ${own.description}` };
    }
    declared['default'] ??= { description: DEFAULT_ERROR };
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(declared)) {
      const content: Record<string, unknown> = {};
      if (res.schema !== undefined || res.contentType !== undefined) {
        content[res.contentType ?? 'application/json'] = {
          schema: res.schema ? schemaRef(res.schema) : { type: 'string' },
        };
      } else if (isError(status)) Object.assign(content, errorContent);
      for (const alt of res.alternatives ?? []) {
        content[alt.contentType] =
          alt.schema !== undefined
            ? { schema: schemaRef(alt.schema) }
            : alt.contentType.startsWith('text/')
              ? { schema: { type: 'string' } }
              : {};
      }
      responses[status] = {
        description: res.description,
        ...(Object.keys(content).length === 0 ? {} : { content }),
      };
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
