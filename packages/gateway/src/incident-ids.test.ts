/** Incident ids sort in the order they were made, so the incident list is in arrival order. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monotonicIds } from './incident-ids.js';
import { fixture, json, makeGateway, request, type TestGateway, TOKENS } from './test-helpers/gateway.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('monotonicIds', () => {
  it('are UUID version 7 with the time in the first 48 bits', () => {
    const id = monotonicIds(() => 0x0193_5e6f_a1b2)();
    expect(id).toMatch(V7);
    expect(id.slice(0, 13)).toBe('01935e6f-a1b2');
  });

  it('law: each id sorts after the one before, whatever the clock does (still, back, jumping)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_010 }), {
          minLength: 2,
          maxLength: 200,
        }),
        (times) => {
          let i = 0;
          const next = monotonicIds(() => times[i++ % times.length]!);
          const ids = times.map(() => next());
          for (const id of ids) expect(id).toMatch(V7);
          for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true);
        },
      ),
    );
  });

  it('more than 4,096 in one millisecond: the time moves on by one, the order holds', () => {
    const next = monotonicIds(() => 1_000);
    const ids = Array.from({ length: 4_100 }, () => next());
    for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true);
    expect(ids[4_096]!.slice(0, 13)).toBe('00000000-03e9');
  });
});

describe('the incident list', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // One clock reading for every incident: all are made in the same millisecond.
    const at = new Date('2026-11-25T10:00:00.000Z');
    gw = await makeGateway({ now: () => at });
    await gw.runner.close();
  });
  afterAll(async () => gw.cleanup());

  it('lists incidents made in one millisecond in the order they arrived', async () => {
    // Each in its own namespace: 24 failures, not occurrences of one.
    const base = fixture('kubernetes/core-v1-image-pull-failed.json') as {
      metadata: Record<string, unknown>;
      involvedObject: Record<string, unknown>;
    };
    const items = Array.from({ length: 24 }, (_, i) => ({
      ...base,
      metadata: {
        ...base.metadata,
        namespace: `payments-${i}`,
        uid: `0b6e7d3a-91c2-4f57-b8a0-${String(i).padStart(12, '0')}`,
      },
      involvedObject: { ...base.involvedObject, namespace: `payments-${i}` },
    }));
    const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
      token: TOKENS.submit,
      body: { kind: 'EventList', apiVersion: 'v1', metadata: {}, items },
    });
    expect(res.status).toBe(202);
    const opened = ((await json(res))['incidents'] as { incident_id: string }[]).map((i) => i.incident_id);
    expect(new Set(opened).size).toBe(24);
    const listed = await request(gw, 'GET', '/v1/incidents?limit=100', { token: TOKENS.read });
    const ids = ((await json(listed))['incidents'] as { incident_id: string }[]).map((i) => i.incident_id);
    expect(ids).toEqual(opened);
  });
});
