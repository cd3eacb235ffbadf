/**
 * Session review: docs/threat-model.md says every request the gateway refuses is "logged
 * `http.rejected` at most once per status and code a minute ... so strangers cannot grow its log
 * at the rate they send" (rejectionLog, middleware/errors.ts). But rejectionLog logs every 5xx as
 * its own `http.error` line at error level, and some 5xx answers are a stranger's to cause: on a
 * gateway with GitHub webhooks off (no secret: the default), each unauthenticated
 * `POST /v1/webhooks/github` is a `503 UNAVAILABLE` and one error line.
 */
import { describe, expect, it } from 'vitest';
import { makeGateway, request } from './test-helpers/gateway.js';

describe("a stranger's requests do not grow the gateway's log at the rate they send", () => {
  it('200 unauthenticated GitHub deliveries to a gateway with GitHub webhooks off', async () => {
    const gw = await makeGateway({ config: { githubSecret: undefined } });
    try {
      for (let i = 0; i < 200; i++) {
        const res = await request(gw, 'POST', '/v1/webhooks/github', { raw: '{}' });
        expect(res.status).toBe(503);
      }
      const lines = gw.logger.lines.filter((l) => /"event":"http\.(error|rejected)"/.test(l));
      // Coalesced as the docs say: a line a minute per status and code (plus one carrying suppressed).
      expect(lines.length).toBeLessThanOrEqual(2);
    } finally {
      await gw.cleanup();
    }
  });
});
