/** Each middleware on a small app of its own. */

import { memoryLogger } from '@aaps/agents';
import { AapsError, ValidationError, VerificationError } from '@aaps/mpc-core';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { GatewayEnv } from '../http-env.js';
import { createTokenAuth, requireScope } from './auth.js';
import { bodyLimit, jsonBody } from './body-limit.js';
import { createErrorHandler, createNotFound, notFound, type Rejection, statusOf } from './errors.js';
import { requestId } from './request-id.js';

function app() {
  const logger = memoryLogger();
  const a = new Hono<GatewayEnv>();
  a.use('*', requestId({ newId: () => 'generated-id' }));
  a.onError(createErrorHandler(logger));
  a.notFound(notFound);
  return { a, logger };
}

describe('auth', () => {
  const auth = createTokenAuth([
    { name: 'ci', token: 'ci-token-0123456789', scopes: ['submit'] },
    { name: 'root', token: 'root-token-0123456789', scopes: ['admin'] },
  ]);

  it('checks its configuration once, at startup', () => {
    expect(() => createTokenAuth([{ name: 'x', token: 'short', scopes: ['read'] }])).toThrow(ValidationError);
    expect(() => createTokenAuth([{ name: 'x', token: 'long-enough-token-1', scopes: [] }])).toThrow(
      ValidationError,
    );
  });

  it('refuses two grants for one token, or one name twice', () => {
    const t = 'same-token-0123456789';
    expect(() =>
      createTokenAuth([
        { name: 'a', token: t, scopes: ['read'] },
        { name: 'b', token: t, scopes: ['admin'] },
      ]),
    ).toThrow(/tokens\[1\]\.token/);
    expect(() =>
      createTokenAuth([
        { name: 'a', token: 'token-a-0123456789', scopes: ['read'] },
        { name: 'a', token: 'token-b-0123456789', scopes: ['read'] },
      ]),
    ).toThrow(/tokens\[1\]\.name/);
  });

  it("a 403 is logged under the token's name, never the token", async () => {
    const { a, logger } = app();
    a.get('/read', requireScope(auth, 'read'), (c) => c.text('ok'));
    const res = await a.request('/read', { headers: { authorization: 'Bearer ci-token-0123456789' } });
    expect(res.status).toBe(403);
    const line = logger.lines.find((l) => l.includes('http.rejected')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ token: 'ci', code: 'FORBIDDEN', status: 403, route: '/read' });
    expect(logger.lines.join('')).not.toContain('ci-token-0123456789');
  });

  it('401 / 403 / pass, and admin implies every scope', async () => {
    const { a } = app();
    a.get('/read', requireScope(auth, 'read'), (c) => c.json({ who: c.get('caller').name }));
    const get = (h?: string) => a.request('/read', h === undefined ? {} : { headers: { authorization: h } });
    expect((await get()).status).toBe(401);
    expect((await get('Bearer nope-nope-nope-nope')).status).toBe(401);
    expect((await get('bearer ci-token-0123456789')).status).toBe(403);
    expect((await get('Bearer ci-token-0123456789')).status).toBe(403);
    const ok = await get('Bearer root-token-0123456789');
    expect(await ok.json()).toEqual({ who: 'root' });
  });
});

describe('body limit', () => {
  const { a } = app();
  a.post('/x', bodyLimit({ maxBytes: 16 }), (c) => c.json({ got: jsonBody(c) }));
  const post = (body: string, type = 'application/json') =>
    a.request('/x', { method: 'POST', headers: { 'content-type': type }, body });

  it('passes JSON within the limit, keeping the raw bytes', async () => {
    expect(await (await post('{"a":1}', 'application/json; charset=utf-8')).json()).toEqual({
      got: { a: 1 },
    });
  });
  it('413 over the limit, 415 for another type, 400 for bad JSON or bad UTF-8', async () => {
    expect((await post('{"a":"0123456789abcdef"}')).status).toBe(413);
    expect((await post('{"a":1}', 'text/json')).status).toBe(415);
    expect((await post('{"a":1}', 'application/jsonx')).status).toBe(415);
    expect((await post('{"a":')).status).toBe(400);
    const badUtf8 = await a.request('/x', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array([0x22, 0xff, 0x22]),
    });
    expect(await badUtf8.json()).toMatchObject({ error: { code: 'DECODE_FAILED' } });
  });
  it("a form-encoded GitHub delivery (GitHub's default) is told which setting to change", async () => {
    const res = await a.request('/x', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'workflow_run' },
      body: 'payload=%7B%7D',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "GitHub webhook's content type to application/json",
    );
  });
  it('refuses a bad limit at startup', () => {
    expect(() => bodyLimit({ maxBytes: 0 })).toThrow(ValidationError);
  });
});

describe('errors', () => {
  it('maps codes to statuses', () => {
    expect(statusOf(new ValidationError('INVALID_ARGUMENT', 'x'))).toBe(400);
    expect(statusOf(new VerificationError('envelope.signature', 'x', { code: 'INVALID_SIGNATURE' }))).toBe(
      401,
    );
    expect(statusOf(new AapsError('FORBIDDEN', 'x'))).toBe(403);
    expect(statusOf(new AapsError('CONFLICT', 'x'))).toBe(409);
    expect(statusOf(new AapsError('UNAVAILABLE', 'x'))).toBe(503);
    // A body that arrives too slowly (bodyReadError 'slow').
    expect(statusOf(new AapsError('REQUEST_TIMEOUT', 'x'))).toBe(408);
    expect(statusOf(new AapsError('INTERNAL', 'x'))).toBe(500);
  });

  it('renders the error shape; hides internals of 5xx and of anything not an AapsError', async () => {
    const { a, logger } = app();
    a.get('/v', () => {
      throw new ValidationError('INVALID_ARGUMENT', 'bad x', ['x']);
    });
    a.get('/i', () => {
      throw new AapsError('INTERNAL', 'secret path /etc/shadow');
    });
    a.get('/t', () => {
      throw new TypeError('token=abc at foo.ts:12');
    });
    expect(await (await a.request('/v')).json()).toEqual({
      error: { code: 'INVALID_ARGUMENT', message: 'bad x', fields: ['x'] },
    });
    for (const path of ['/i', '/t']) {
      const res = await a.request(path);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toMatch(/shadow|token=|foo\.ts/);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'INTERNAL' } });
    }
    expect(logger.lines.join('')).not.toMatch(/shadow|token=abc/);
    expect(await (await a.request('/nowhere')).json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe('rejections and unknown paths', () => {
  it('reports every error answer with its route pattern, not the raw path', async () => {
    const seen: Rejection[] = [];
    const a = new Hono<GatewayEnv>();
    a.onError(createErrorHandler(memoryLogger(), (r) => seen.push(r)));
    a.get('/things/:id', () => {
      throw new ValidationError('INVALID_ARGUMENT', 'bad id', ['id']);
    });
    a.post('/things', () => {
      throw new TypeError('boom');
    });
    a.notFound(createNotFound(a.routes, (r) => seen.push(r)));
    await a.request('/things/xyz');
    await a.request('/things', { method: 'POST' });
    await a.request('/nowhere/at/all');
    await a.request('/things', { method: 'BREW' });
    expect(seen).toEqual([
      { method: 'GET', route: '/things/{id}', status: 400, code: 'INVALID_ARGUMENT' },
      { method: 'POST', route: '/things', status: 500, code: 'INTERNAL' },
      { method: 'GET', route: 'unmatched', status: 404, code: 'NOT_FOUND' },
      { method: 'OTHER', route: '/things', status: 405, code: 'METHOD_NOT_ALLOWED' },
    ]);
  });

  it('a wrong method on a known path: 405 naming the allowed methods, with Allow', async () => {
    const a = new Hono<GatewayEnv>();
    a.post('/hooks/:source', (c) => c.text('ok'));
    a.get('/items', (c) => c.text('ok'));
    a.notFound(createNotFound(a.routes));
    const wrong = await a.request('/hooks/alertmanager');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.json()).toEqual({
      error: { code: 'METHOD_NOT_ALLOWED', message: 'no GET on this endpoint: it allows POST' },
    });
    const post = await a.request('/items', { method: 'POST' });
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const none = await a.request('/hooks');
    expect(none.headers.get('allow')).toBeNull();
    expect(await none.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
  });
});

describe('request id', () => {
  it('keeps a sane incoming id and replaces anything else', async () => {
    const { a } = app();
    a.get('/', (c) => c.text(c.get('requestId')));
    expect(
      (await a.request('/', { headers: { 'x-request-id': 'abc-123' } })).headers.get('x-request-id'),
    ).toBe('abc-123');
    const odd = await a.request('/', { headers: { 'x-request-id': 'a b\tc' } });
    expect(odd.headers.get('x-request-id')).toBe('generated-id');
  });
});
