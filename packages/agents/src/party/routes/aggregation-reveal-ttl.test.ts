/**
 * A dealer keeps the plaintext of every receiver's share box for the complaint step for 10 minutes
 * (docs/aggregation.md): they are wiped when those are up, by a timer of their own, not only when
 * a later agg.deal or agg.reveal happens to run the sweep; and `stop` wipes them at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AapsError, loadFastBackends, SecretBytes } from '@aaps/mpc-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PartyStore } from '../../store/level.js';
import { fiveParties, partyDeps } from '../test-helpers/five-parties.js';
import { createAggregationHandlers, readCircuitCatalog, SHIPPED_CIRCUITS_DIR } from './aggregation.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-ttl-'));
const set = fiveParties();
const stores: PartyStore[] = [];
const circuits = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
const wr = circuits.get('weighted-risk')!;
const SUBJECT = {
  incident_id: 'inc-1',
  namespace: 'shop',
  action: 'image_rollback',
  factors: { blast_radius: 1, urgency: 'P2', environment: 'staging' },
};
const MINUTE = 60 * 1000;
/** Each receiver other than the dealer gets one kept box (weighted-risk: one input per party). */
const KEPT_BOXES = 4;
/** A deal wipes its 5 receivers' share and blinding once sealed. */
const DEAL_WIPES = 10;

beforeAll(async () => {
  await loadFastBackends();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const deal = (h: ReturnType<typeof createAggregationHandlers>, id: string) =>
  h.deal(id, { circuit: wr.id, circuit_digest: wr.digestHex, derive: SUBJECT }, 'gateway');

/** A reveal to the audit party (no dealer here): refused, and how says whether the boxes are kept. */
const revealError = (h: ReturnType<typeof createAggregationHandlers>, id: string) =>
  h.reveal(id, { receivers: [set.roster.parties[4]!.id], requests: {} }).then(
    () => expect.unreachable('no signed request: the reveal cannot succeed'),
    (e: unknown) => e as AapsError,
  );

describe('the dealt shares kept for agg.reveal', () => {
  it('are wiped once their 10 minutes are up, without waiting for another aggregation call', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const h = createAggregationHandlers(await partyDeps(set, 0, { dir, stores }), circuits);
    const spy = vi.spyOn(SecretBytes.prototype, 'wipe');
    await deal(h, 'ttl-1');
    const afterDeal = spy.mock.calls.length;
    // Within the 10 minutes they are kept: a reveal finds them (and is refused for want of a request).
    vi.advanceTimersByTime(9 * MINUTE);
    expect(spy.mock.calls.length - afterDeal, 'nothing wiped within 10 minutes').toBe(0);
    expect((await revealError(h, 'ttl-1')).code).toBe('FORBIDDEN');
    // 11 minutes after the deal, with no aggregation call in between: wiped and gone.
    vi.advanceTimersByTime(2 * MINUTE);
    expect(spy.mock.calls.length - afterDeal, 'kept boxes wiped when their 10 minutes were up').toBe(
      KEPT_BOXES,
    );
    expect((await revealError(h, 'ttl-1')).code).toBe('NOT_FOUND');
    // The session state went with them: the evaluation of ttl-1 finds no round.
    expect(() => h.evaluate('ttl-1', { dealings: [] })).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    // The next deal has nothing of ttl-1 left to sweep.
    const before = spy.mock.calls.length;
    await deal(h, 'ttl-2');
    expect(spy.mock.calls.length - before, 'nothing of ttl-1 left for the next call').toBe(DEAL_WIPES);
    h.stop();
  });

  it('are wiped at stop, and stop leaves no expiry timer behind', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const h = createAggregationHandlers(await partyDeps(set, 1, { dir, stores }), circuits);
    const timersBefore = vi.getTimerCount();
    const spy = vi.spyOn(SecretBytes.prototype, 'wipe');
    await deal(h, 'stop-1');
    expect(vi.getTimerCount(), 'an expiry timer for the session and for its boxes').toBe(timersBefore + 2);
    const afterDeal = spy.mock.calls.length;
    h.stop();
    expect(spy.mock.calls.length - afterDeal, 'kept boxes wiped at stop').toBe(KEPT_BOXES);
    expect(vi.getTimerCount()).toBe(timersBefore);
    expect((await revealError(h, 'stop-1')).code).toBe('NOT_FOUND');
  });
});
