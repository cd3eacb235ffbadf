import { AapsError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { CallCoalescer, type SendCall } from './call-coalescer.js';
import type { BatchCall } from './rpc.js';

/** A transport that records what it is sent and answers when told to. */
function scripted() {
  const sent: {
    kind: string;
    body: Record<string, unknown>;
    answer: (v: unknown) => void;
    fail: (e: unknown) => void;
  }[] = [];
  const send: SendCall = (_party, kind, _session, body) =>
    new Promise((resolve, reject) => {
      sent.push({ kind, body, answer: (v) => resolve(v as Record<string, unknown>), fail: reject });
    });
  return { sent, send };
}

const call = (n: number, kind: BatchCall['kind'] = 'sign.round2'): BatchCall => ({
  kind,
  session_id: `s${n}`,
  ctx: { trace_id: `t${n}` },
  body: { n },
});
const errorFrom = (party: string, kind: string, status: number, json: unknown) =>
  new AapsError('POLICY_REFUSED', `${party} ${kind} ${status}`, { details: { json } });
const tick = () => new Promise((r) => setImmediate(r));

describe('CallCoalescer', () => {
  it('sends a call to an idle party at once and alone; calls made while it is busy leave together', async () => {
    const { sent, send } = scripted();
    const c = new CallCoalescer(send, errorFrom, 1);
    const first = c.call('p', call(1));
    await tick();
    expect(sent.map((s) => s.kind)).toEqual(['sign.round2']);
    const rest = [2, 3, 4].map((n) => c.call('p', call(n, n === 3 ? 'agent.step' : 'sign.round2')));
    await tick();
    expect(sent).toHaveLength(1); // still busy
    sent[0]!.answer({ n: 1 });
    expect(await first).toEqual({ n: 1 });
    await tick();
    expect(sent[1]!.kind).toBe('batch');
    expect((sent[1]!.body.calls as BatchCall[]).map((x) => x.session_id)).toEqual(['s2', 's3', 's4']);
    sent[1]!.answer({
      results: [
        { body: { n: 2 } },
        { status: 403, error: { code: 'POLICY_REFUSED', message: 'no' } },
        { body: { n: 4 } },
      ],
    });
    const [two, three, four] = await Promise.allSettled(rest);
    expect(two).toEqual({ status: 'fulfilled', value: { n: 2 } });
    expect(four).toEqual({ status: 'fulfilled', value: { n: 4 } });
    expect(three).toMatchObject({
      status: 'rejected',
      reason: { code: 'POLICY_REFUSED', message: 'p agent.step 403' },
    });
  });

  it('a call cancelled while it waits is never sent, and fails as cancelled', async () => {
    const { sent, send } = scripted();
    const c = new CallCoalescer(send, errorFrom, 1);
    const first = c.call('p', call(1));
    const abort = new AbortController();
    const waiting = c.call('p', call(2), abort.signal);
    const other = c.call('p', call(3));
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    sent[0]!.answer({});
    await first;
    await tick();
    expect(sent[1]!.kind).toBe('sign.round2'); // only call 3 was left: it went alone
    expect(sent[1]!.body).toEqual({ n: 3 });
    sent[1]!.answer({ n: 3 });
    expect(await other).toEqual({ n: 3 });
  });

  it('a batch that fails, or answers the wrong number of calls, fails every call in it', async () => {
    const { sent, send } = scripted();
    const c = new CallCoalescer(send, errorFrom, 1);
    const first = c.call('p', call(1));
    const a = [c.call('p', call(2)), c.call('p', call(3))];
    sent[0]!.answer({});
    await first;
    await tick();
    sent[1]!.fail(new AapsError('TIMEOUT', 'p timed out'));
    for (const r of await Promise.allSettled(a)) expect(r).toMatchObject({ reason: { code: 'TIMEOUT' } });

    const b = [c.call('p', call(4)), c.call('p', call(5)), c.call('p', call(6))];
    await tick();
    sent[2]!.answer({});
    await b[0];
    await tick();
    sent[3]!.answer({ results: [{ body: {} }] });
    for (const r of await Promise.allSettled(b.slice(1)))
      expect(r).toMatchObject({ reason: { code: 'INCONSISTENT_TRANSCRIPT' } });
  });

  it('keeps parties apart: a busy party does not hold up another', async () => {
    const { sent, send } = scripted();
    const c = new CallCoalescer(send, errorFrom, 1);
    void c.call('p', call(1));
    void c.call('q', call(2));
    await tick();
    expect(sent).toHaveLength(2);
  });

  it('refuses a maxInflight below 1', () => {
    expect(() => new CallCoalescer(scripted().send, errorFrom, 0)).toThrow(AapsError);
  });
});
