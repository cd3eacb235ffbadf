/**
 * `bodyLimit`'s `maxInflight` bounds the bodies being read at once (what a stranger stalling
 * mid-body holds), not the requests being handled: whole bodies whose handling is slow (a sealing
 * step, a busy store) must not make the reader refuse the next sender.
 */
import { memoryLogger } from '@aaps/agents';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { GatewayEnv } from '../http-env.js';
import { bodyLimit } from './body-limit.js';
import { createErrorHandler } from './errors.js';

function appWith(maxInflight: number, handled: Promise<void>) {
  const app = new Hono<GatewayEnv>();
  app.onError(createErrorHandler(memoryLogger('test')));
  let started = 0;
  app.post('/in', bodyLimit({ maxBytes: 1024, maxInflight }), async (c) => {
    started++;
    await handled;
    return c.json({ bytes: c.get('rawBody').length });
  });
  return { app, started: () => started };
}

const post = async (app: Hono<GatewayEnv>, body: string | ReadableStream<Uint8Array>): Promise<Response> =>
  app.request('/in', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);

describe('bodyLimit maxInflight', () => {
  it('counts bodies being read, not requests being handled: slow handling refuses nobody', async () => {
    let release!: () => void;
    const { app, started } = appWith(2, new Promise<void>((r) => (release = r)));
    const answers: Promise<Response>[] = [];
    for (const i of [1, 2, 3, 4, 5]) {
      answers.push(post(app, `{"n":${i}}`));
      await expect.poll(started).toBe(i);
    }
    release();
    const statuses = (await Promise.all(answers)).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it('refuses the next sender while the cap of bodies is still being read (503, Retry-After)', async () => {
    const { app } = appWith(2, Promise.resolve());
    const stalls: ReadableStreamDefaultController<Uint8Array>[] = [];
    const stalled = () =>
      post(
        app,
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"n":'));
            stalls.push(c);
          },
        }),
      );
    const held = [stalled(), stalled()];
    await expect.poll(() => stalls.length).toBe(2);
    const refused = await post(app, '{"n":3}');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    // Once a stalled body ends, its slot is free again.
    stalls[0]!.enqueue(new TextEncoder().encode('1}'));
    stalls[0]!.close();
    expect((await held[0]!).status).toBe(200);
    expect((await post(app, '{"n":4}')).status).toBe(200);
    stalls[1]!.error(new Error('gone'));
    expect((await held[1]!).status).toBe(400);
  });
});
