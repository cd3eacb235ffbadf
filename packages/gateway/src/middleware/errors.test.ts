/** The error handler on the whole gateway: which 5xx messages reach the client. */
import { AapsError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { Coordinator } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
import { signGithubPayload } from '../intake/github-signature.js';
import { fixtureText, GITHUB_SECRET, json, makeGateway, request, TOKENS } from '../test-helpers/gateway.js';

const GENERIC = 'the gateway could not complete the request';

/** The coordinator with `keys()` throwing `error`: an unexpected failure behind `GET /v1/keys`. */
function keysThrowing(error: Error): (c: LocalCoordinator) => Coordinator {
  return (c) =>
    new Proxy(c, {
      get(target, key) {
        if (key === 'keys') return async () => Promise.reject(error);
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

describe('5xx messages', () => {
  it('a GitHub webhook with no secret configured: 503 saying so', async () => {
    const off = await makeGateway({ config: { githubSecret: undefined } });
    try {
      const raw = fixtureText('github/workflow-run-failure.json');
      const res = await request(off, 'POST', '/v1/webhooks/github', {
        raw,
        headers: {
          'x-github-event': 'workflow_run',
          'x-github-delivery': 'delivery-no-secret',
          'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET),
        },
      });
      expect(res.status).toBe(503);
      expect(await json(res)).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: 'GitHub webhooks are off: no webhook secret is configured (AAPS_GITHUB_WEBHOOK_SECRET)',
        },
      });
    } finally {
      await off.cleanup();
    }
  });

  it('an unexpected exception, or an INTERNAL AapsError: 500 with the generic message only', async () => {
    for (const error of [
      new TypeError('token=abc at foo.ts:12'),
      new AapsError('INTERNAL', 'secret path /etc/shadow'),
    ]) {
      const gw = await makeGateway({ wrap: keysThrowing(error) });
      try {
        const res = await request(gw, 'GET', '/v1/keys', { token: TOKENS.read });
        expect(res.status).toBe(500);
        expect(await json(res)).toEqual({ error: { code: 'INTERNAL', message: GENERIC } });
      } finally {
        await gw.cleanup();
      }
    }
  });

  it("a 503 carrying a party's text: one line, control characters gone, at most 300 characters", async () => {
    const lying = new AapsError('UNAVAILABLE', `party-3: down\n\u001b[31mfake log line${'x'.repeat(500)}`);
    const gw = await makeGateway({ wrap: keysThrowing(lying) });
    try {
      const res = await request(gw, 'GET', '/v1/keys', { token: TOKENS.read });
      expect(res.status).toBe(503);
      const { message } = ((await json(res)) as { error: { message: string } }).error;
      expect(message.startsWith('party-3: down [31mfake log line')).toBe(true);
      expect(message).toHaveLength(300);
      expect([...message].some((ch) => ch.charCodeAt(0) < 0x20)).toBe(false);
    } finally {
      await gw.cleanup();
    }
  });
});
