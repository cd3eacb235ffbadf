import { memoryLogger } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGithubPayload } from '../intake/github-signature.js';
import { rawExchange, type ServedGateway, serveLocalGateway } from '../test-helpers/served-gateway.js';
import type { RunningGateway } from './serve.js';

const SECRET = 'session-review-github-secret';

const exchange = rawExchange;

let served: ServedGateway;
let running: RunningGateway;
let port: number;
const logger = memoryLogger('gateway');

beforeAll(async () => {
  served = await serveLocalGateway(logger, ['--github-webhook-secret', SECRET]);
  running = served.running;
  port = served.port;
});

afterAll(async () => {
  await served?.close();
});

describe('http.rejected coalescing (served gateway)', () => {
  it("a stranger's pre-route refusal does not hide a signed GitHub delivery's refusal", async () => {
    // The stranger: a backslash in the target, refused before the app (400 INVALID_ARGUMENT).
    const stranger = await exchange(
      port,
      'GET /x\\y HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(stranger).toMatch(/^HTTP\/1\.1 400 /);
    // GitHub, correctly signed, with a payload the gateway refuses (schema drift).
    const raw = JSON.stringify({ action: 'completed', workflow_run: { id: 'x' } });
    const res = await fetch(`${running.url}/v1/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_run',
        'x-github-delivery': 'delivery-1',
        'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), SECRET),
      },
      body: raw,
    });
    expect(res.status).toBe(400);
    const lines = logger.lines
      .map((l) => JSON.parse(l) as { event?: string; route?: string; code?: string })
      .filter((l) => l.event === 'http.rejected');
    // The operator must find the GitHub delivery's refusal in the log.
    expect(lines.map((l) => `${l.route} ${l.code}`)).toContain('/v1/webhooks/github INVALID_ARGUMENT');
  });
});
