/**
 * A party's `/metrics` as a Prometheus scraper asks for it (an `Accept` preferring OpenMetrics,
 * text/plain at a lower weight, or anything at all): 200 in the Prometheus text format, never 406,
 * never JSON. Over HTTP, as the party serves.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { layParty } from './test-helpers/party-dir.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SCRAPER_ACCEPTS = [
  'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'application/json',
  'text/html',
  '*/*',
  '',
];
const EXPOSITION_LINE = /^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+Inf-]+|NaN)$/;

describe("party /metrics against scrapers' Accept headers", () => {
  it('answers 200 Prometheus text to each', async () => {
    const p = layParty(dirs);
    const party = await p.start();
    try {
      for (const accept of SCRAPER_ACCEPTS) {
        const res = await fetch(`${party.url}/metrics`, { headers: accept === '' ? {} : { accept } });
        expect(res.status, accept).toBe(200);
        expect(res.headers.get('content-type'), accept).toMatch(/^text\/plain; version=0\.0\.4/);
        const body = await res.text();
        expect(body).toMatch(/^# (HELP|TYPE) /);
        for (const line of body.split('\n').filter((l) => l !== ''))
          expect(line, accept).toMatch(EXPOSITION_LINE);
      }
    } finally {
      await party.close();
    }
  }, 30_000);
});
