/**
 * A schema's `date-time` is a real time, not only the shape of one: a well-formed but impossible
 * time (month 13, day 45, hour 99) is refused at intake with a 400 naming its path, as the
 * human-rejection path refuses one ("is not a real date"), instead of being stored as an
 * envelope's timestamp or an alert's start (and so in its dedup key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fixture,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';
import { check, isDateTime } from './check.js';
import * as s from './define.js';

describe('isDateTime', () => {
  it('accepts real RFC 3339 times: leap days, a leap second, offsets, fractions, the zero time', () => {
    for (const t of [
      '2026-11-27T03:04:05Z',
      '2026-11-27t03:04:05.123456z',
      '2024-02-29T00:00:00Z',
      '2000-02-29T12:00:00+01:00',
      '2016-12-31T23:59:60Z',
      '2026-04-30T23:59:59-23:59',
      '0001-01-01T00:00:00Z',
    ]) {
      expect(isDateTime(t), t).toBe(true);
    }
  });

  it('refuses a field out of its range, a day past its month, a malformed shape', () => {
    for (const t of [
      '2026-13-45T99:99:99Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T23:60:00Z',
      '2026-01-01T23:59:61Z',
      '2026-01-01T00:00:00+24:00',
      '2026-01-01T00:00:00+01:60',
      '2026-01-01 00:00:00Z',
      '2026-01-01T00:00:00',
    ]) {
      expect(isDateTime(t), t).toBe(false);
    }
  });

  it('a schema check names the path of an impossible date-time', () => {
    const r = check(s.object({ at: s.string({ format: 'date-time' }) }), { at: '2026-02-30T00:00:00Z' });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['at']);
  });
});

describe('intake refuses impossible times', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await makeGateway();
    await gw.runner.close();
  });
  afterAll(async () => gw.cleanup());
  const BAD = '2026-13-45T99:99:99Z';
  const count = async () => (await gw.store.listIncidents({ limit: 100 })).incidents.length;

  it('an envelope whose meta.timestamp is no real time is 400 naming meta.timestamp, nothing written', async () => {
    const env = SIGNALS.quota();
    env.meta.timestamp = BAD;
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
    expect(res.status).toBe(400);
    expect(((await json(res))['error'] as { fields: string[] }).fields).toContain('meta.timestamp');
    expect(await count()).toBe(0);
  });

  it('an alert whose startsAt is no real time is 400 naming it, nothing written', async () => {
    const before = await count();
    const am = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
    am.alerts[0]!['startsAt'] = BAD;
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body: am });
    expect(res.status).toBe(400);
    expect(((await json(res))['error'] as { fields: string[] }).fields).toContain('alerts[0].startsAt');
    expect(await count()).toBe(before);
  });
});
