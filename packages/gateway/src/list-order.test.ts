/**
 * `GET /v1/incidents` lists incidents in arrival order with stable cursors, also when the wall clock
 * steps back (an NTP correction): a new incident's creation time never sorts before the last one
 * listed, so a client paging through, or holding a cursor, sees it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listedAfter } from './store.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from './test-helpers/gateway.js';

let gw: TestGateway;
let clock = Date.parse('2026-11-27T08:00:00.000Z');
beforeAll(async () => {
  gw = await makeGateway({ now: () => new Date(clock) });
});
afterAll(async () => gw.cleanup());

async function submit(): Promise<string> {
  const body = SIGNALS.rbac();
  body.payload['affected_resources'] = [`serviceaccount://shop/sa-${Math.random().toString(36).slice(2)}`];
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return String((await json(res))['incident_id']);
}

async function page(cursor?: string): Promise<{ ids: string[]; next: string | null }> {
  const q = cursor === undefined ? '' : `&cursor=${cursor}`;
  const p = await json(await request(gw, 'GET', `/v1/incidents?limit=1${q}`, { token: TOKENS.read }));
  return {
    ids: (p['incidents'] as { incident_id: string }[]).map((i) => i.incident_id),
    next: p['next_cursor'] as string | null,
  };
}

describe('listing while the clock steps back', () => {
  it('a client paging through sees every incident, in arrival order', async () => {
    const a = await submit();
    clock += 1000;
    const b = await submit();
    clock += 1000;
    const c = await submit();
    await gw.runner.idle();

    const seen: string[] = [];
    const first = await page();
    seen.push(...first.ids);
    // While the client pages, the clock is corrected back by a minute and another incident arrives.
    clock -= 60_000;
    const d = await submit();
    await gw.runner.idle();
    let cursor = first.next;
    while (cursor !== null) {
      const p = await page(cursor);
      seen.push(...p.ids);
      cursor = p.next;
    }
    expect(seen).toEqual([a, b, c, d]);
  });
});

describe('listedAfter', () => {
  const last = '2026-11-27T08:00:05.000Z|inc-b';
  it('keeps a creation time that sorts after the last listing key', () => {
    expect(listedAfter('', { created_at: '2026-11-27T07:00:00.000Z', id: 'inc-a' })).toBe(
      '2026-11-27T07:00:00.000Z',
    );
    expect(listedAfter(last, { created_at: '2026-11-27T08:00:06.000Z', id: 'inc-a' })).toBe(
      '2026-11-27T08:00:06.000Z',
    );
  });
  it('moves an earlier one to the last time, or one millisecond after it', () => {
    expect(listedAfter(last, { created_at: '2026-11-27T07:59:00.000Z', id: 'inc-c' })).toBe(
      '2026-11-27T08:00:05.000Z',
    );
    expect(listedAfter(last, { created_at: '2026-11-27T08:00:05.000Z', id: 'inc-a' })).toBe(
      '2026-11-27T08:00:05.001Z',
    );
    for (const r of [
      { created_at: '2026-11-27T07:59:00.000Z', id: 'inc-c' },
      { created_at: '2026-11-27T08:00:05.000Z', id: 'inc-a' },
    ]) {
      expect(`${listedAfter(last, r)}|${r.id}` > last).toBe(true);
    }
  });
});
