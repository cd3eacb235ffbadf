/**
 * The gateway's log of refused requests (`rejectionLog`): a stranger who sends requests the
 * gateway refuses must not grow its log at the rate they send. A 4xx is logged `http.rejected`
 * at info, a 5xx `http.error` at error, each once per status, code and route (and token) a minute,
 * then with how many went unlogged. Every refusal is still counted in
 * `aaps_rejected_requests_total`.
 */
import { memoryLogger } from '@aaps/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { makeGateway, request, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { rejectionLog } from './errors.js';

type Line = {
  level: string;
  event: string;
  route?: string;
  code?: string;
  status?: number;
  token?: string;
  suppressed?: number;
};
const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);

describe('rejectionLog', () => {
  it('a burst of one status and code: one line, then after the minute one with the count suppressed', () => {
    const logger = memoryLogger('gateway');
    let t = 1_000_000;
    const log = rejectionLog(logger, () => t);
    for (let i = 0; i < 25; i++)
      log({ request_id: `r${i}`, route: 'unmatched', status: 401, code: 'UNAUTHENTICATED' });
    expect(
      parsed(logger.lines).map((l) => `${l.level} ${l.event} ${l.status} ${l.code} ${l.suppressed}`),
    ).toEqual(['info http.rejected 401 UNAUTHENTICATED undefined']);
    t += 60_000;
    log({ request_id: 'r25', route: 'unmatched', status: 401, code: 'UNAUTHENTICATED' });
    expect(parsed(logger.lines).at(-1)).toMatchObject({
      event: 'http.rejected',
      code: 'UNAUTHENTICATED',
      suppressed: 24,
    });
  });

  it('a stopping gateway’s flush writes the counts not yet logged, 4xx and 5xx', () => {
    const logger = memoryLogger('gateway');
    const log = rejectionLog(logger, () => 0);
    for (let i = 0; i < 3; i++) {
      log({ route: 'unmatched', status: 401, code: 'UNAUTHENTICATED' });
      log({ route: '/v1/webhooks/github', status: 503, code: 'UNAVAILABLE' });
    }
    log.flush();
    expect(parsed(logger.lines).map((l) => `${l.event} ${l.status} ${l.suppressed}`)).toEqual([
      'http.rejected 401 undefined',
      'http.error 503 undefined',
      'http.rejected 401 2',
      'http.error 503 2',
    ]);
  });

  it('another status, code or route, or a token’s own refusals, get their own line; 5xx lines are coalesced too', () => {
    const logger = memoryLogger('gateway');
    const log = rejectionLog(logger, () => 0);
    for (let i = 0; i < 3; i++) {
      log({ route: '/v1/incidents', status: 401, code: 'UNAUTHENTICATED' });
      log({ route: 'unmatched', status: 400, code: 'DECODE_FAILED' });
      log({ route: 'unmatched', status: 431, code: 'HEADERS_TOO_LARGE' });
      log({ route: '/v1/incidents', status: 400, code: 'INVALID_ARGUMENT' });
      log({ route: '/v1/incidents', status: 400, code: 'INVALID_ARGUMENT', token: 'ci' });
      log({ route: '/v1/webhooks/github', status: 400, code: 'INVALID_ARGUMENT' });
      log({ route: '/v1/incidents', status: 500, code: 'INTERNAL' });
      log({ route: '/v1/webhooks/github', status: 503, code: 'UNAVAILABLE' });
    }
    expect(
      parsed(logger.lines).map(
        (l) => `${l.level} ${l.event} ${l.status} ${l.code} ${l.route}${l.token ? ` ${l.token}` : ''}`,
      ),
    ).toEqual([
      'info http.rejected 401 UNAUTHENTICATED /v1/incidents',
      'info http.rejected 400 DECODE_FAILED unmatched',
      'info http.rejected 431 HEADERS_TOO_LARGE unmatched',
      'info http.rejected 400 INVALID_ARGUMENT /v1/incidents',
      'info http.rejected 400 INVALID_ARGUMENT /v1/incidents ci',
      'info http.rejected 400 INVALID_ARGUMENT /v1/webhooks/github',
      'error http.error 500 INTERNAL /v1/incidents',
      'error http.error 503 UNAVAILABLE /v1/webhooks/github',
    ]);
  });

  it('a burst of 5xx: one http.error line, then after the minute one with the count suppressed', () => {
    const logger = memoryLogger('gateway');
    let t = 0;
    const log = rejectionLog(logger, () => t);
    for (let i = 0; i < 10; i++) log({ route: '/v1/webhooks/github', status: 503, code: 'UNAVAILABLE' });
    t += 60_000;
    log({ route: '/v1/webhooks/github', status: 503, code: 'UNAVAILABLE' });
    expect(parsed(logger.lines).map((l) => `${l.level} ${l.event} ${l.code} ${l.suppressed}`)).toEqual([
      'error http.error UNAVAILABLE undefined',
      'error http.error UNAVAILABLE 9',
    ]);
  });
});

describe("the gateway app's refusals", () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.cleanup();
    gw = undefined;
  });

  it('40 requests with a wrong token: one http.rejected line, 40 counted; a different code its own line', async () => {
    gw = await makeGateway();
    const before = gw.logger.lines.length;
    for (let i = 0; i < 40; i++) {
      const res = await request(gw, 'GET', '/v1/incidents', { token: 'not-a-token-0123456789' });
      expect(res.status).toBe(401);
    }
    const forbidden = await request(gw, 'POST', '/v1/keys/refresh', { token: TOKENS.read, body: {} });
    expect(forbidden.status).toBe(403);
    const refused = parsed(gw.logger.lines.slice(before)).filter((l) => l.event === 'http.rejected');
    expect(refused.map((l) => `${l.status} ${l.code}`)).toEqual(['401 UNAUTHENTICATED', '403 FORBIDDEN']);
    const metrics = await (await request(gw, 'GET', '/metrics', { token: TOKENS.admin })).text();
    expect(metrics).toContain(
      'aaps_rejected_requests_total{code="UNAUTHENTICATED",method="GET",route="/v1/incidents",status="401"} 40',
    );
  });
});
