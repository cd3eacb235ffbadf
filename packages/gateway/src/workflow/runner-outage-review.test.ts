/**
 * Review of d968383 + 2f33fc2 (fixed in the commit that adds this file; this says what was found): a shared outage has one probe; the other incidents park for
 * `parkMs` and are sent at once only when a try of the outage succeeds (`#outageOver`). When the
 * probe leaves the outage any other way, nothing hands the probe on: the parked incidents wait out
 * their ten minutes even though the outage ended long before.
 */
import { AapsError, ProtocolError } from '@aaps/mpc-core';
import { describe, expect, it, vi } from 'vitest';
import { delegating, incident, SIGNALS, type TestGateway } from '../test-helpers/gateway.js';
import { notes, qaDownWhile, retryHarness, submit } from './test-helpers/retrying-runner.js';

const { retrying } = retryHarness();

/** The incident among `ids` that probes (tried more than once), once there is one. */
async function probeOf(gw: TestGateway, ids: string[], event: string): Promise<string> {
  let probe = '';
  await vi.waitFor(
    async () => {
      const tried = await Promise.all(ids.map(async (id) => notes(await incident(gw, id), event).length));
      expect(tried.filter((n) => n > 1)).toHaveLength(1);
      expect(tried.filter((n) => n === 1)).toHaveLength(ids.length - 1);
      probe = ids[tried.findIndex((n) => n > 1)]!;
    },
    { timeout: 20_000 },
  );
  return probe;
}

describe('runner outage review: a probe that leaves the outage without a success', () => {
  it('approvals parked for quality assurance go once it answers, after the probe incident was resolved at its source', async () => {
    let qaDown = true;
    const { gw, runner } = await retrying(
      {
        retryDelayMs: 1,
        retryMaxDelayMs: 2,
        retryBudgetMs: 10,
        sealRetryMaxDelayMs: 4,
        parkMs: 600_000,
        recurrenceWindowMs: 0,
      },
      qaDownWhile(() => qaDown),
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(gw, SIGNALS.quota()));
    for (const id of ids) runner.start(id);
    const probe = await probeOf(gw, ids, 'step.retrying');
    const parked = ids.filter((id) => id !== probe);
    for (const id of parked)
      expect(notes(await incident(gw, id), 'step.retrying')[0]!.detail).toMatchObject({
        next_in_ms: 600_000,
      });

    // The probe's alert clears at its source (an ordinary end of an incident in a storm).
    await runner.resolveBySource(probe, new Date().toISOString(), 'source:alertmanager');
    // Quality assurance is back a moment later.
    qaDown = false;
    // The parked approvals should go now (or within a probe's wait), not ten minutes after they parked.
    await vi.waitFor(
      async () => {
        for (const id of parked) expect((await incident(gw, id))['evidence_id']).not.toBeNull();
      },
      { timeout: 20_000 },
    );
  }, 60_000);

  it('sealings parked in an evidence outage go once it ends, though the probe then met a refusal of its own', async () => {
    let down = true;
    let probeRefused = '';
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, sealRetryMaxDelayMs: 5, parkMs: 600_000, recurrenceWindowMs: 0 },
      (c) =>
        delegating(c, {
          signEvidence: async (input) => {
            if (down) throw new AapsError('UNAVAILABLE', 'audit is unreachable (sign.commit)');
            // Once the parties answer again, they refuse the probe's own evidence (one incident's
            // transcript), and only that.
            if (probeRefused !== '' && JSON.stringify(input.statement).includes(probeRefused))
              throw new ProtocolError('QUORUM_UNREACHABLE', 'evidence: fewer than 3 parties would sign', []);
            return c.signEvidence(input);
          },
        }),
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(gw, SIGNALS.quota()));
    for (const id of ids) runner.start(id);
    const probe = await probeOf(gw, ids, 'evidence.retrying');
    const parked = ids.filter((id) => id !== probe);
    probeRefused = probe;
    down = false;
    await vi.waitFor(
      async () => {
        for (const id of parked) expect((await incident(gw, id))['evidence_id']).not.toBeNull();
      },
      { timeout: 20_000 },
    );
  }, 60_000);
});
