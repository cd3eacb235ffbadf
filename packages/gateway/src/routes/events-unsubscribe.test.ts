/**
 * One client leaving an incident's event stream does not cut another off: unsubscribing is
 * idempotent (the route unsubscribes on abort and again when its loop ends, and the second call
 * must not drop a newer subscriber's listeners), and a loop whose client left while it awaited
 * ends without one more keep-alive wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalEnvelope,
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';
import { createIncidentEvents } from '../workflow/events.js';

describe('createIncidentEvents', () => {
  it('a second unsubscribe of a gone listener leaves a later subscriber subscribed', () => {
    const events = createIncidentEvents();
    const offA = events.subscribe('inc-1', () => {});
    offA();
    const got: string[] = [];
    events.subscribe('inc-1', (e) => got.push(e.entry.event));
    offA(); // what the route's `finally` does after its `onAbort` already did it
    events.publish({
      incident_id: 'inc-1',
      state: 'awaiting_human',
      entry: { at: '2026-11-27T08:00:00Z', state: 'awaiting_human', event: 'human_required', actor: 'x' },
    });
    expect(got).toEqual(['human_required']);
  });
});

const KEEP_ALIVE_MS = 4000;
let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway({ config: { keepAliveMs: KEEP_ALIVE_MS } });
});
afterAll(async () => gw.cleanup());

/** Reads a stream in the background, keeping its text and when each chunk came. */
function follow(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const state = { text: '', done: false };
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      state.text += decoder.decode(value, { stream: true });
    }
    state.done = true;
  })();
  return { state, cancel: () => reader.cancel() };
}

const until = async (ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return ok();
};

describe('events route: one client leaving while another joins', () => {
  it('the client that stays gets new states live', async () => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc['state']).toBe('awaiting_human');

    // The store read of A's next wake-up takes a while (as a LevelDB read of an evicted record can).
    const real = gw.store.getIncidentSummary.bind(gw.store);
    let hold = false;
    let holding = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    gw.store.getIncidentSummary = async (x) => {
      if (hold && x === id) {
        hold = false;
        holding = true;
        await gate;
      }
      return real(x);
    };

    const a = follow(await request(gw, 'GET', `/v1/incidents/${id}/events`, { token: TOKENS.read }));
    expect(await until(() => a.state.text.includes('human_required'), 2000)).toBe(true);
    hold = true;
    // A's keep-alive wake-up reads the record: held.
    expect(await until(() => holding, KEEP_ALIVE_MS + 2000)).toBe(true);
    await a.cancel(); // A leaves (onAbort: unsubscribe)
    const b = follow(await request(gw, 'GET', `/v1/incidents/${id}/events`, { token: TOKENS.read }));
    expect(await until(() => b.state.text.includes('human_required'), 2000)).toBe(true);
    release();
    // A's loop, its read done, ends (a loop that checked `aborted` only at its top waited one more
    // keep-alive interval first): its `finally` unsubscribes again.
    await new Promise((r) => setTimeout(r, KEEP_ALIVE_MS + 500));

    const approved = await request(gw, 'POST', `/v1/approvals/${id}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(inc['proposal'] as Parameters<typeof approvalEnvelope>[0], gw.approverKey),
    });
    expect(approved.status).toBe(202);
    // Live: well within one keep-alive interval.
    expect(await until(() => b.state.text.includes('approval_requested'), 1000)).toBe(true);
    await gw.runner.idle();
    await b.cancel();
  });
});
