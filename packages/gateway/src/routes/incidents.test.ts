/** `GET /v1/incidents/:id/events`: a reconnecting client resumes after `Last-Event-ID`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { resumeAfter } from './incidents.js';

let gw: TestGateway;
let id = '';
let entries = 0;
beforeAll(async () => {
  gw = await makeGateway();
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  const inc = await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read }));
  expect(inc['evidence_id']).toMatch(/^[0-9a-f]{64}$/);
  entries = (inc['timeline'] as unknown[]).length;
});
afterAll(async () => gw.cleanup());

/** The stream's events as `[event, id]`, read to its end. */
async function stream(lastEventId?: string): Promise<[string, string | undefined][]> {
  const res = await request(gw, 'GET', `/v1/incidents/${id}/events`, {
    token: TOKENS.read,
    ...(lastEventId === undefined ? {} : { headers: { 'last-event-id': lastEventId } }),
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => [/^event: (.*)$/m.exec(block)![1]!, /^id: (.*)$/m.exec(block)?.[1]]);
}

describe('Last-Event-ID', () => {
  it('without it, every entry from the first, then end', async () => {
    const events = await stream();
    expect(events.map(([, i]) => i)).toEqual([
      ...Array.from({ length: entries }, (_, i) => String(i)),
      undefined,
    ]);
    expect(events.at(-1)?.[0]).toBe('end');
  });

  it('with it, only the entries after it; after the last entry, only end', async () => {
    const events = await stream('2');
    expect(events[0]).toEqual(['state', '3']);
    expect(events).toHaveLength(entries - 3 + 1);
    expect(await stream(String(entries - 1))).toEqual([['end', undefined]]);
  });

  it('an id this stream never sent replays it from the first entry', async () => {
    for (const bad of ['abc', '-1', '1.5', String(entries), '99999999999']) {
      expect((await stream(bad))[0], bad).toEqual(['state', '0']);
    }
  });

  it('resumeAfter: the index after a valid id, 0 otherwise', () => {
    expect(resumeAfter(undefined, 5)).toBe(0);
    expect(resumeAfter('0', 5)).toBe(1);
    expect(resumeAfter(' 4 ', 5)).toBe(5);
    expect(resumeAfter('5', 5)).toBe(0);
    expect(resumeAfter('', 5)).toBe(0);
  });
});
