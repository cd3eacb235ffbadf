import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCbor, type SignedEnvelope } from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { openGatewayStore } from './store.js';
import type { IncidentRecord } from './workflow/record.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'aaps-store-'));
  dirs.push(d);
  return d;
};

function envelope(i: number): SignedEnvelope {
  return {
    meta: {
      trace_id: 't',
      span_id: `s${i}`,
      timestamp: '2026-11-25T00:00:00.000Z',
      source_agent: 'monitoring',
      target_agent: 'gateway',
      message_type: 'RCAReport',
      schema_version: 'v1.0.0',
      idempotency_key: `k${i}`,
      signature: `ed25519:${'A'.repeat(86)}${i}`,
    },
    context: { namespace: 'shop', cluster: 'c', urgency: 'P2', constraints_ref: 'policy://x' },
    payload: { step: i, text: 'x'.repeat(i) },
  } as SignedEnvelope;
}

function record(id: string, n: number, state = 'triaged'): IncidentRecord {
  return {
    id,
    state,
    created_at: '2026-11-25T00:00:00.000Z',
    updated_at: '2026-11-25T00:00:00.000Z',
    correlation_key: `corr-${id}`,
    dedup_keys: [`dedup-${id}`],
    timeline: [],
    human_approvals: [],
    transcript: Array.from({ length: n }, (_, i) => envelope(i)),
  } as unknown as IncidentRecord;
}

describe('gateway store: incidents and their transcripts', () => {
  it('lists a new incident after those already listed, across a reopen, when the clock stepped back', async () => {
    const dir = tmp();
    let store = await openGatewayStore(dir);
    await store.createIncident({ ...record('b', 0), created_at: '2026-11-25T00:00:05.000Z' });
    await store.close();
    store = await openGatewayStore(dir);
    // Created after b, at a clock a minute behind, with an id that sorts before b's.
    const a = { ...record('a', 0), created_at: '2026-11-25T00:00:00.000Z' };
    await store.createIncident(a);
    expect(a.created_at).toBe('2026-11-25T00:00:05.001Z');
    const listed = await store.listIncidents({ limit: 10 });
    expect(listed.incidents.map((r) => r.id)).toEqual(['b', 'a']);
    await store.close();
  });

  it('keeps each envelope once and gives back the whole record after every save and a reopen', async () => {
    const dir = tmp();
    let store = await openGatewayStore(dir);
    await store.createIncident(record('a', 1));
    for (let n = 2; n <= 6; n++) {
      await store.putIncident(record('a', n));
      expect(await store.getIncident('a')).toEqual(record('a', n));
    }
    const { transcript: _t, ...summary } = record('a', 6);
    expect(await store.getIncidentSummary('a')).toEqual(summary);
    expect((await store.listIncidents({ limit: 10 })).incidents).toEqual([summary]);
    await store.close();
    // A new process knows nothing of what was written: it writes again, and nothing is lost.
    store = await openGatewayStore(dir);
    await store.putIncident(record('a', 8, 'proposed'));
    expect(await store.getIncident('a')).toEqual(record('a', 8, 'proposed'));
    expect(await store.activeIncidentIds()).toEqual(['a']);
    await store.close();
  });

  it('names the incidents a start continues, from its index alone: open, or ended and not yet sealed', async () => {
    const dir = tmp();
    let store = await openGatewayStore(dir);
    await store.createIncident(record('a', 2, 'received'));
    await store.createIncident(record('b', 2, 'proposed'));
    await store.createIncident(record('c', 2, 'awaiting_human'));
    await store.createIncident(record('d', 2, 'resolved'));
    await store.createIncident(record('e', 2, 'failed'));
    await store.putIncident({ ...record('e', 2, 'failed'), evidence_id: 'ev-e' });
    await store.putIncident(record('b', 3, 'awaiting_human'));
    await store.putIncident(record('c', 3, 'awaiting_approval'));
    expect(await store.activeIncidentIds()).toEqual(['a', 'c', 'd']);
    await store.close();
    // A new process reads the same from the database, in id order.
    store = await openGatewayStore(dir);
    expect(await store.activeIncidentIds()).toEqual(['a', 'c', 'd']);
    await store.putIncident({ ...record('d', 2, 'resolved'), evidence_id: 'ev-d' });
    expect(await store.activeIncidentIds()).toEqual(['a', 'c']);
    await store.close();
  });

  it('serves what it just wrote from memory: every state in order, each read its own copy', async () => {
    const store = await openGatewayStore(tmp());
    await store.createIncident(record('b', 1, 'received'));
    for (const state of ['triaged', 'diagnosed', 'proposed', 'awaiting_approval']) {
      await store.putIncident(record('b', 2, state));
      const read = await store.getIncidentSummary('b');
      expect(read?.state).toBe(state);
      // A reader that changes what it got changes nothing for the next reader.
      (read as { state: string }).state = 'tampered';
      (read as { timeline: unknown[] }).timeline.push('x');
      expect((await store.getIncidentSummary('b'))?.state).toBe(state);
      expect((await store.getIncident('b'))?.timeline).toEqual([]);
    }
    // Writes in flight together land in memory in the order LevelDB applied them.
    const states = ['proposed', 'approved', 'executing', 'verifying', 'resolved'];
    await Promise.all(states.map((state) => store.putIncident(record('b', 3, state))));
    expect((await store.getIncidentSummary('b'))?.state).toBe('resolved');
    // Past the memory bound, records still come from LevelDB.
    for (let i = 0; i < 600; i++) await store.createIncident(record(`c${i}`, 0));
    expect((await store.getIncidentSummary('b'))?.state).toBe('resolved');
    expect((await store.getIncidentSummary('c0'))?.id).toBe('c0');
    await store.close();
  });

  it('reads records written with the transcript inline (before envelopes had their own keys)', async () => {
    const dir = tmp();
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    await db.put('i!old', encodeCbor(record('old', 3)));
    await db.close();
    const store = await openGatewayStore(dir);
    expect(await store.getIncident('old')).toEqual(record('old', 3));
    await store.putIncident(record('old', 4));
    expect(await store.getIncident('old')).toEqual(record('old', 4));
    await store.close();
  });
});

describe('gateway store: listing by state', () => {
  const at = (i: number) => `2026-11-25T00:00:${String(i).padStart(2, '0')}.000Z`;
  const rec = (id: string, i: number, state: string) =>
    ({ ...record(id, 1, state), created_at: at(i) }) as IncidentRecord;
  const ids = async (store: Awaited<ReturnType<typeof openGatewayStore>>, state: string, limit = 100) => {
    const out: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await store.listIncidents({ state: state as never, limit, ...(cursor ? { cursor } : {}) });
      out.push(...page.incidents.map((r) => r.id));
      if (page.next_cursor === null) return out;
      cursor = page.next_cursor;
    }
  };
  /** Keys of the raw database under `prefix` (the store must be closed). */
  const rawKeys = async (dir: string, prefix: string) => {
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    const keys: string[] = [];
    for await (const key of db.keys({ gte: prefix, lt: `${prefix}\uffff` })) keys.push(key);
    await db.close();
    return keys;
  };

  it('pages through one state in arrival order, following each incident as its state changes', async () => {
    const dir = tmp();
    let store = await openGatewayStore(dir);
    for (let i = 0; i < 12; i++) await store.createIncident(rec(`n${i}`, i, 'received'));
    for (let i = 0; i < 12; i += 3) await store.putIncident(rec(`n${i}`, i, 'awaiting_human'));
    for (let i = 0; i < 12; i += 4) await store.putIncident(rec(`n${i}`, i, 'resolved'));
    // n0, n4, n8 resolved; n3, n6, n9 awaiting a person; the rest received.
    expect(await ids(store, 'resolved', 2)).toEqual(['n0', 'n4', 'n8']);
    expect(await ids(store, 'awaiting_human', 2)).toEqual(['n3', 'n6', 'n9']);
    expect(await ids(store, 'received', 4)).toEqual(['n1', 'n2', 'n5', 'n7', 'n10', 'n11']);
    expect(await ids(store, 'failed')).toEqual([]);
    // A cursor from the unfiltered listing works in a state's listing, and the other way round.
    const first = await store.listIncidents({ limit: 5 });
    expect(first.incidents.map((r) => r.id)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    const rest = await store.listIncidents({ state: 'received', limit: 10, cursor: first.next_cursor! });
    expect(rest.incidents.map((r) => r.id)).toEqual(['n5', 'n7', 'n10', 'n11']);
    await store.close();
    // Each incident is indexed under its state only: the entries it left are gone.
    expect((await rawKeys(dir, 's!')).map((key) => key.split('|')[0])).toEqual(
      [
        ...Array(6).fill('s!received'),
        ...Array(3).fill('s!resolved'),
        ...Array(3).fill('s!awaiting_human'),
      ].sort(),
    );
    // A new process, which knows nothing of earlier states, moves entries as well.
    store = await openGatewayStore(dir);
    await store.putIncident(rec('n3', 3, 'approved'));
    expect(await ids(store, 'awaiting_human')).toEqual(['n6', 'n9']);
    expect(await ids(store, 'approved')).toEqual(['n3']);
    await store.close();
    expect((await rawKeys(dir, 's!')).filter((key) => key.endsWith('|n3'))).toEqual([
      `s!approved|${at(3)}|n3`,
    ]);
  });

  it('builds the index on open for a database written before it existed', async () => {
    const dir = tmp();
    let store = await openGatewayStore(dir);
    for (let i = 0; i < 5; i++)
      await store.createIncident(rec(`o${i}`, i, i % 2 === 0 ? 'failed' : 'received'));
    await store.close();
    // As an older gateway left it: no state index, no mark.
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    for await (const key of db.keys({ gte: 's!', lt: 's"' })) await db.del(key);
    await db.del('m!index.by-state.v1');
    await db.close();
    store = await openGatewayStore(dir);
    expect(await ids(store, 'failed')).toEqual(['o0', 'o2', 'o4']);
    expect(await ids(store, 'received')).toEqual(['o1', 'o3']);
    await store.close();
  });
});

describe('gateway store: correlation and recurrence', () => {
  it('says whether a record joined an open incident or a dedup key was known', async () => {
    const store = await openGatewayStore(tmp());
    expect(await store.createIncident(record('a', 0))).toEqual({ created: true, id: 'a', joined: false });
    const occurrence = { ...record('b', 0), correlation_key: 'corr-a', dedup_keys: ['dedup-b'] };
    expect(await store.createIncident(occurrence)).toEqual({ created: false, id: 'a', joined: true });
    expect(await store.createIncident(occurrence)).toEqual({ created: false, id: 'a', joined: false });
    expect(await store.findByDedupKey('dedup-b')).toBe('a');
    await store.close();
  });

  it('remembers an executed fix under each recurrence key, the latest winning', async () => {
    const store = await openGatewayStore(tmp());
    const fixed = (id: string, at: string, event = 'executed') =>
      ({
        ...record(id, 0, 'verifying'),
        recurrence_keys: ['event:1', `workload:${id}`],
        timeline: [{ at, state: 'verifying', event, actor: 'maintenance-agent' }],
      }) as IncidentRecord;
    await store.createIncident(record('a', 0));
    // Saves before or after the execution record nothing; the save that records it does.
    await store.putIncident(fixed('a', '2026-11-25T10:00:00.000Z', 'execution_started'));
    expect(await store.latestFix(['event:1'])).toBeUndefined();
    await store.putIncident(fixed('a', '2026-11-25T10:00:00.000Z'));
    expect(await store.latestFix(['nothing', 'event:1'])).toEqual({
      key: 'event:1',
      incident_id: 'a',
      fixed_at: '2026-11-25T10:00:00.000Z',
    });
    await store.createIncident(record('b', 0));
    await store.putIncident(fixed('b', '2026-11-25T11:00:00.000Z'));
    expect(await store.latestFix(['workload:a', 'event:1'])).toMatchObject({
      incident_id: 'b',
      key: 'event:1',
    });
    expect(await store.latestFix(['workload:a'])).toMatchObject({ incident_id: 'a' });
    await store.close();
  });
});
