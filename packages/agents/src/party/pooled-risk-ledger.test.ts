/**
 * The pooled-risk ledger over the party store (docs/aggregation.md, "One dealing per session id"):
 * the store is the ledger for the retention window, memory a bounded cache of its newest rounds.
 * What a start reads, the window applied to what memory holds, one confirmation per id even once
 * memory dropped it, and which rounds a request cites. Real PartyStore on a real LevelDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AapsError, SecretBytes } from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { PartyStore } from '../store/level.js';
import {
  type ConfirmedAggregation,
  citedAggregationSessions,
  PooledRiskLedger,
  riskViewDigest,
} from './pooled-risk.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const RETENTION = 30 * DAY;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const KEK = new SecretBytes(new Uint8Array(32).fill(5));

/** A party store in a temp dir, reopenable (`path`), closed after the test. */
async function tempStore(): Promise<{ path: string; store: () => PartyStore; reopen: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-ledger-cache-'));
  const path = join(dir, 'db');
  let store = await PartyStore.open(path, KEK, 'p1');
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    path,
    store: () => store,
    reopen: async () => {
      store = await PartyStore.open(path, KEK, 'p1');
    },
  };
}

const entry = (digestByte: string, value = 40): ConfirmedAggregation => ({
  circuit: 'weighted-risk',
  digest: digestByte.repeat(32),
  value,
});
const refOf = (session: string, e: ConfirmedAggregation) => ({
  circuit: e.circuit,
  session_id: session,
  output_digest: e.digest,
  value: e.value,
});

describe('pooled-risk ledger start-up: the newest rounds, through the store’s time index', () => {
  it('holds the newest `limit` confirmed rounds and reads none older; an older one a request cites is read by key', async () => {
    const s = await tempStore();
    // 30 confirmed rounds a minute apart; the newest ten were claimed (dealt) first, as a
    // department's are, so the index has two entries for each; one newer round was dealt only.
    for (let k = 0; k < 30; k++) {
      const at = new Date(T0 + k * MINUTE);
      if (k >= 20) expect(await s.store().claimAggregationSession(`r-${k}`, at, new Date(0))).toBe(true);
      await s.store().saveConfirmedAggregation(`r-${k}`, entry('ab', k), new Date(at.getTime() + 1000));
    }
    expect(
      await s.store().claimAggregationSession('dealt-only', new Date(T0 + 40 * MINUTE), new Date(0)),
    ).toBe(true);
    // Round r-5's record is damaged on disk (its index entry intact).
    await s.store().close();
    const raw = new Level<string, Uint8Array>(s.path, { valueEncoding: 'view' });
    await raw.put('aggc/r-5', new TextEncoder().encode('not json'));
    await raw.close();
    await s.reopen();

    const newest = await s.store().newestConfirmedAggregations(10);
    expect(newest.map(([id]) => id)).toEqual(Array.from({ length: 10 }, (_, k) => `r-${20 + k}`));
    expect(newest.map(([, , at]) => at.getTime())).toEqual(
      Array.from({ length: 10 }, (_, k) => T0 + (20 + k) * MINUTE + 1000),
    );

    const damaged: string[] = [];
    const ledger = await PooledRiskLedger.open(s.store(), {
      limit: 10,
      now: () => new Date(T0 + DAY),
      retentionMs: RETENTION,
      onDamaged: (id) => void damaged.push(id),
    });
    expect(ledger.get('r-29')?.value).toBe(29);
    expect(ledger.get('r-20')?.value).toBe(20);
    expect(ledger.get('r-19')).toBeUndefined();
    // Start-up read none of the older records: the damaged one was not even parsed.
    expect(damaged).toEqual([]);
    // A request citing older rounds reads each back by key: a sound one is known, a damaged one
    // is reported and refused.
    expect(ledger.verifyRef(refOf('r-3', entry('ab', 3)))).toBe(false);
    await ledger.recall(['r-3', 'r-5', 'never-confirmed']);
    expect(ledger.verifyRef(refOf('r-3', entry('ab', 3)))).toBe(true);
    expect(ledger.verifyRef(refOf('r-5', entry('ab', 5)))).toBe(false);
    expect(damaged).toEqual(['r-5']);
    // Memory stays bounded: read back, r-3 is the newest held, and the oldest held (r-20) went.
    expect(ledger.get('r-20')).toBeUndefined();
    expect(ledger.get('r-21')).toBeDefined();
  });

  it('the time index walk is bounded: rounds dealt but never confirmed leave the cache short, not the start long', async () => {
    const s = await tempStore();
    await s.store().saveConfirmedAggregation('confirmed', entry('cd'), new Date(T0));
    for (let k = 0; k < 12; k++) {
      await s.store().claimAggregationSession(`dealt-${k}`, new Date(T0 + (k + 1) * MINUTE), new Date(0));
    }
    // 12 newer index entries and a limit of 3: the walk stops after 4 x 3 entries.
    expect(await s.store().newestConfirmedAggregations(3)).toEqual([]);
    expect((await s.store().newestConfirmedAggregations(4)).map(([id]) => id)).toEqual(['confirmed']);
    const ledger = await PooledRiskLedger.open(s.store(), { limit: 3 });
    expect(ledger.get('confirmed')).toBeUndefined();
    await ledger.recall(['confirmed']);
    expect(ledger.verifyRef(refOf('confirmed', entry('cd')))).toBe(true);
  });
});

describe('pooled-risk ledger: the store’s retention window applies to what memory holds', () => {
  it('a round still in memory (a quiet party) is refused once its 30 days are up, and not read at the next start', async () => {
    const s = await tempStore();
    let clock = T0;
    const ledger = await PooledRiskLedger.open(s.store(), {
      now: () => new Date(clock),
      retentionMs: RETENTION,
    });
    const e = entry('ef', 47);
    await ledger.remember('quiet', e);
    clock = T0 + RETENTION;
    expect(ledger.verifyRef(refOf('quiet', e))).toBe(true);
    clock = T0 + RETENTION + 1;
    expect(ledger.verifyRef(refOf('quiet', e))).toBe(false);
    await ledger.recall(['quiet']);
    expect(ledger.verifyRef(refOf('quiet', e))).toBe(false);
    // The record is still on disk (only a later dealing prunes): a start skips it.
    expect(await s.store().confirmedAggregation('quiet')).toBeDefined();
    const restarted = await PooledRiskLedger.open(s.store(), {
      now: () => new Date(clock),
      retentionMs: RETENTION,
    });
    expect(restarted.get('quiet')).toBeUndefined();
    const early = await PooledRiskLedger.open(s.store(), {
      now: () => new Date(T0 + DAY),
      retentionMs: RETENTION,
    });
    expect(early.verifyRef(refOf('quiet', e))).toBe(true);
  });
});

describe('pooled-risk ledger: one confirmation per session id, held or only kept', () => {
  it('remembering a round memory dropped but the store keeps is a conflict, and the kept entry stands', async () => {
    const s = await tempStore();
    const ledger = await PooledRiskLedger.open(s.store(), { limit: 1 });
    await ledger.remember('a', entry('ab', 47));
    await ledger.remember('b', entry('ab', 48));
    expect(ledger.get('a')).toBeUndefined();
    const again = await ledger.remember('a', entry('cd', 3)).catch((x: unknown) => x);
    expect(again).toBeInstanceOf(AapsError);
    expect((again as AapsError).code).toBe('CONFLICT');
    expect((again as AapsError).message).toBe('aggregation a was already confirmed here');
    expect((await s.store().confirmedAggregation('a'))?.[0]).toEqual(entry('ab', 47));
    // Two confirmations of one id at once: one is kept, the other is a conflict.
    const both = await Promise.allSettled([
      ledger.remember('c', entry('ab', 1)),
      ledger.remember('c', entry('cd', 2)),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(
      ((both.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as AapsError).code,
    ).toBe('CONFLICT');
    expect((await s.store().confirmedAggregation('c'))?.[0]).toEqual(entry('ab', 1));
  });

  it('a failed write leaves the id free (nothing held, nothing kept)', async () => {
    const s = await tempStore();
    const ledger = await PooledRiskLedger.open(s.store());
    const store = s.store();
    const save = store.saveConfirmedAggregation.bind(store);
    store.saveConfirmedAggregation = async () => {
      store.saveConfirmedAggregation = save;
      throw new AapsError('INTERNAL', 'the disk is full');
    };
    await expect(ledger.remember('w', entry('ab'))).rejects.toThrow('the disk is full');
    expect(ledger.get('w')).toBeUndefined();
    await ledger.remember('w', entry('ab'));
    expect(ledger.verifyRef(refOf('w', entry('ab')))).toBe(true);
  });
});

describe('the rounds a request cites (read back before its check)', () => {
  const ref = (id: string) => ({
    circuit: 'weighted-risk',
    session_id: id,
    output_digest: 'ab'.repeat(32),
    value: 47,
  });
  const envelope = (type: string, payload: unknown) => ({ meta: { message_type: type }, payload });

  it('finds the proposal’s round in an evidence transcript however long its diagnosis', () => {
    const logs = Array.from({ length: 60_000 }, (_, i) => ({ line: i, text: 'OOMKilled' }));
    const body = {
      signing_package: { commitments: [] },
      subject: {
        kind: 'evidence',
        payload: 'eyJ9',
        transcript: [
          envelope('Diagnosis', { logs }),
          envelope('ApprovalDecision', { proposal: { risk: { aggregation_ref: ref('risk-1') } } }),
          envelope('ExecutionOrder', { proposal: { risk: { aggregation_ref: ref('risk-1') } } }),
        ],
      },
    };
    expect(citedAggregationSessions(body)).toEqual(['risk-1']);
  });

  it('finds strategy’s pooled input, in reverse document order, at most 16, ignoring what is not a session id', () => {
    expect(
      citedAggregationSessions({
        request: { role: 'strategy', input: { incident_id: 'i', pooled: ref('risk-s') } },
      }),
    ).toEqual(['risk-s']);
    const many = Array.from({ length: 20 }, (_, i) => ({ risk: { aggregation_ref: ref(`r-${i}`) } }));
    expect(citedAggregationSessions({ many })).toEqual(Array.from({ length: 16 }, (_, i) => `r-${19 - i}`));
    expect(
      citedAggregationSessions({
        a: { aggregation_ref: { session_id: 7 } },
        b: { pooled: true, aggregation_ref: { session_id: 'x'.repeat(257) } },
        c: { pooled: { nested: { aggregation_ref: ref('deep') } } },
      }),
    ).toEqual(['deep']);
  });
});

describe('pooled-risk ledger and the risk view its party scored under', () => {
  const VIEW_A = 'a1'.repeat(32);
  const VIEW_B = 'b2'.repeat(32);

  it('records the view on each round it confirms, and refuses the round under another view after a restart', async () => {
    const s = await tempStore();
    const e = entry('c3');
    const ledger = await PooledRiskLedger.open(s.store(), { riskView: VIEW_A });
    await ledger.remember('pooled-1', e);
    expect(ledger.verifyRef(refOf('pooled-1', e))).toBe(true);
    expect((await s.store().confirmedAggregation('pooled-1'))?.[0]).toMatchObject({ risk_view: VIEW_A });
    await s.store().close();
    await s.reopen();
    const changed = await PooledRiskLedger.open(s.store(), { riskView: VIEW_B });
    await changed.recall(['pooled-1']);
    expect(changed.get('pooled-1')).toMatchObject({ risk_view: VIEW_A });
    expect(changed.verifyRef(refOf('pooled-1', e))).toBe(false);
    const same = await PooledRiskLedger.open(s.store(), { riskView: VIEW_A });
    expect(same.verifyRef(refOf('pooled-1', e))).toBe(true);
  });

  it('takes a round kept without a view (an earlier release’s) as that release did, so an incident in flight across the upgrade goes through', async () => {
    const s = await tempStore();
    const e = entry('d4');
    await s.store().saveConfirmedAggregation('pooled-old', e, new Date());
    const ledger = await PooledRiskLedger.open(s.store(), { riskView: VIEW_A });
    expect(ledger.verifyRef(refOf('pooled-old', e))).toBe(true);
  });

  it('for evidence (anyRiskView), takes a round confirmed under another view: what was decided is recorded', async () => {
    const s = await tempStore();
    const e = entry('f6');
    await (await PooledRiskLedger.open(s.store(), { riskView: VIEW_A })).remember('pooled-ev', e);
    const changed = await PooledRiskLedger.open(s.store(), { riskView: VIEW_B });
    expect(changed.verifyRef(refOf('pooled-ev', e))).toBe(false);
    expect(changed.verifyRef(refOf('pooled-ev', e), undefined, { anyRiskView: true })).toBe(true);
    // Everything else is still compared.
    const other = { ...refOf('pooled-ev', e), value: e.value + 1 };
    expect(changed.verifyRef(other, undefined, { anyRiskView: true })).toBe(false);
  });

  it('checkRef: a round confirmed for the proposal that no longer counts is stale (another view, past the window); anything else that does not hold is refused', async () => {
    const s = await tempStore();
    let clock = T0;
    const e = entry('a7', 47);
    const a = await PooledRiskLedger.open(s.store(), {
      riskView: VIEW_A,
      now: () => new Date(clock),
      retentionMs: RETENTION,
    });
    await a.remember('pooled-s', e);
    expect(a.checkRef(refOf('pooled-s', e))).toBe('holds');
    const b = await PooledRiskLedger.open(s.store(), {
      riskView: VIEW_B,
      now: () => new Date(clock),
      retentionMs: RETENTION,
    });
    await b.recall(['pooled-s', 'never-confirmed']);
    expect(b.checkRef(refOf('pooled-s', e))).toBe('stale');
    // Another value, another digest or a round never confirmed is no stale round: refused.
    expect(b.checkRef({ ...refOf('pooled-s', e), value: 48 })).toBe('refused');
    expect(b.checkRef({ ...refOf('pooled-s', e), output_digest: 'ff'.repeat(32) })).toBe('refused');
    expect(b.checkRef(refOf('never-confirmed', e))).toBe('refused');
    // Past the retention window, held in memory or read back from the store (not yet dropped by
    // a later dealing): stale too, under the same view as well.
    clock = T0 + RETENTION + 1;
    expect(a.checkRef(refOf('pooled-s', e))).toBe('stale');
    expect(a.verifyRef(refOf('pooled-s', e))).toBe(false);
    const late = await PooledRiskLedger.open(s.store(), {
      riskView: VIEW_A,
      now: () => new Date(clock),
      retentionMs: RETENTION,
    });
    expect(late.get('pooled-s')).toBeUndefined();
    await late.recall(['pooled-s']);
    expect(late.checkRef(refOf('pooled-s', e))).toBe('stale');
    expect(late.verifyRef(refOf('pooled-s', e))).toBe(false);
    expect(late.checkRef({ ...refOf('pooled-s', e), value: 48 })).toBe('refused');
  });

  it('a stored view that is not a SHA-256 in hex is a damaged entry, reported and refused', async () => {
    const s = await tempStore();
    const e = entry('e5');
    await s.store().saveConfirmedAggregation('pooled-bad', { ...e, risk_view: 'not-hex' }, new Date());
    const damaged: string[] = [];
    const ledger = await PooledRiskLedger.open(s.store(), {
      riskView: VIEW_A,
      onDamaged: (id) => void damaged.push(id),
    });
    expect(damaged).toEqual(['pooled-bad']);
    expect(ledger.verifyRef(refOf('pooled-bad', { ...e }))).toBe(false);
  });

  it('riskViewDigest: the policy’s risk section alone, whatever its key order', () => {
    const base = defaultPolicy('strategy');
    const view = { weight_percent: 120, offset: 5, environments: { shop: 'production' as const } };
    const reordered = { environments: { shop: 'production' as const }, offset: 5, weight_percent: 120 };
    expect(riskViewDigest({ ...base, risk: view })).toBe(riskViewDigest({ ...base, risk: reordered }));
    expect(riskViewDigest({ ...base, risk: view })).not.toBe(
      riskViewDigest({ ...base, risk: { ...view, offset: 6 } }),
    );
    expect(riskViewDigest(base)).not.toBe(riskViewDigest({ ...base, risk: view }));
    // Other sections do not change how a department scores risk.
    const bounds = { ...base.bounds, max_risk_score: base.bounds.max_risk_score - 1 };
    expect(riskViewDigest({ ...base, bounds })).toBe(riskViewDigest(base));
    expect(riskViewDigest(base)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('riskViewDigest: what changes a department’s score, and nothing else (review of the 32nd session)', () => {
  it('a policy change to its risk section that changes no score keeps the view, so the party still takes its rounds', async () => {
    const base = defaultPolicy('strategy');
    const { risk: _none, ...plain } = base;
    // One policy, and the same department's after each change that leaves every score it deals as
    // it was: turning require_pooled on (it decides whether a reference is needed, not a score),
    // and spelling out the formula's own view (absent: the formula itself).
    const before = riskViewDigest(plain);
    const unchanged = [
      { ...plain, risk: { weight_percent: 100, offset: 0, require_pooled: true } },
      { ...plain, risk: { weight_percent: 100, offset: 0 } },
      { ...plain, risk: { weight_percent: 100, offset: 0, environments: {} } },
    ];
    const scored = { weight_percent: 120, offset: 5, environments: { shop: 'production' as const } };
    const hardened = { ...plain, risk: { ...scored, require_pooled: true } };
    const s = await tempStore();
    const e = entry('a7');
    await (await PooledRiskLedger.open(s.store(), { riskView: before })).remember('pooled-same', e);
    await (
      await PooledRiskLedger.open(s.store(), { riskView: riskViewDigest({ ...plain, risk: scored }) })
    ).remember('pooled-scored', e);
    for (const p of unchanged) {
      const ledger = await PooledRiskLedger.open(s.store(), { riskView: riskViewDigest(p) });
      expect(ledger.verifyRef(refOf('pooled-same', e)), JSON.stringify(p.risk)).toBe(true);
    }
    const ledger = await PooledRiskLedger.open(s.store(), { riskView: riskViewDigest(hardened) });
    expect(ledger.verifyRef(refOf('pooled-scored', e))).toBe(true);
    // A change that does move a score still refuses.
    const moved = await PooledRiskLedger.open(s.store(), {
      riskView: riskViewDigest({ ...plain, risk: { ...scored, offset: 6 } }),
    });
    expect(moved.verifyRef(refOf('pooled-scored', e))).toBe(false);
  });
});
