/**
 * `/metrics` (and the other text/plain route, `/v1/log/checkpoint`) as a scraper asks for them: a
 * Prometheus scraper sends an `Accept` that prefers OpenMetrics and takes text/plain at a lower
 * weight, or anything at all. Each answers 200 text/plain (the Prometheus text format for
 * `/metrics`): never 406, never JSON. Over HTTP, as the gateway serves.
 */
import { memoryLogger } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { type ServedGateway, serveLocalGateway } from '../test-helpers/served-gateway.js';

/** What scrapers send (Prometheus 2.x and 3.x, an agent taking anything, a bare client). */
const SCRAPER_ACCEPTS = [
  'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'application/json',
  'text/html',
  '*/*',
  '',
];

/** Every line of the Prometheus text format: a comment, or `name{labels} value`. */
const EXPOSITION_LINE = /^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+Inf-]+|NaN)$/;

function expectPrometheusText(contentType: string | null, body: string): void {
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(body).toMatch(/^# (HELP|TYPE) /);
  for (const line of body.split('\n').filter((l) => l !== '')) expect(line).toMatch(EXPOSITION_LINE);
}

let served: ServedGateway;
beforeAll(async () => {
  served = await serveLocalGateway(memoryLogger('gateway'));
});
afterAll(async () => {
  await served?.close();
});

describe("gateway text routes against scrapers' Accept headers", () => {
  it.each(SCRAPER_ACCEPTS)('/metrics, Accept %j: 200 Prometheus text', async (accept) => {
    const res = await fetch(`${served.running.url}/metrics`, {
      headers: accept === '' ? {} : { accept },
    });
    expect(res.status).toBe(200);
    expectPrometheusText(res.headers.get('content-type'), await res.text());
  });

  it('/v1/log/checkpoint: 200 text/plain, the signed note, whatever the Accept', async () => {
    const gw: TestGateway = await makeGateway();
    try {
      const res0 = await request(gw, 'POST', '/v1/incidents', {
        token: TOKENS.submit,
        body: SIGNALS.quota(),
      });
      expect(res0.status).toBe(202);
      await gw.runner.idle();
      for (const accept of SCRAPER_ACCEPTS) {
        const res = await request(gw, 'GET', '/v1/log/checkpoint', {
          token: TOKENS.read,
          headers: accept === '' ? {} : { accept },
        });
        expect(res.status, accept).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        const note = await res.text();
        expect(note.split('\n')[1], accept).toMatch(/^[1-9][0-9]*$/);
      }
    } finally {
      await gw.cleanup();
    }
  }, 30_000);
});
