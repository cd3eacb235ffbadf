/**
 * A witness call showing checkpoint N to a party that, while the call was out, signed checkpoint
 * N+1 (picked into the next quorum) is refused as `checkpoint.rollback` with signed_size N+1. That
 * race is no alarm, whether the refusal comes back before or after the gateway stored N+1: no
 * error-level log, and counted as `ahead`, not as the rollback metrics.ts reads as another history.
 */
import { memoryLogger } from '@aaps/agents';
import type { StoredCheckpoint } from '@aaps/evidence';
import { describe, expect, it } from 'vitest';
import { createCheckpointWitness } from './checkpoint-witness.js';
import type { Coordinator, WitnessAnswer } from './coordinator.js';
import { GatewayMetrics } from './metrics.js';

const PARTIES = ['a', 'b', 'c'];
const checkpoint = (size: number): StoredCheckpoint => ({
  origin: 'aaps.test/log',
  size,
  rootHash: new Uint8Array(32).fill(size),
  extensions: [],
  note: `note ${size}`,
});

describe('a witness refusal racing the next signing', () => {
  it('a party that signed N+1 (not yet stored) while being shown N raises no error-level alarm', async () => {
    // c is not in the quorum of 6; by the time the call reaches it, c has claimed 7 (the next
    // signing picked it), and 7 is not yet aggregated and stored at the gateway.
    const coordinator = {
      async witnessCheckpoint(party: string): Promise<WitnessAnswer> {
        if (party === 'c')
          return { outcome: 'refused', rule: 'checkpoint.rollback', message: 'ahead', signed_size: 7 };
        return { outcome: 'witnessed' };
      },
    } as unknown as Coordinator;
    const logger = memoryLogger('evidence');
    const w = createCheckpointWitness({
      coordinator,
      consistencyProof: async () => [new Uint8Array(32)],
      logger,
    });
    w.signed(checkpoint(6), PARTIES, { signers: ['a', 'b'], refusals: [] });
    await w.idle();
    // Only now is 7 stored.
    w.signed(checkpoint(7), PARTIES, { signers: ['a', 'c'], refusals: [] });
    await w.idle();
    const events = logger.lines.map((l) => JSON.parse(l) as { level: string; event: string; party: string });
    expect(events.filter((e) => e.level === 'error').map((e) => [e.event, e.party])).toEqual([]);
  });

  it('is counted as ahead, not as checkpoint.rollback (which metrics.ts reads as another history)', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const coordinator = {
      async witnessCheckpoint(party: string): Promise<WitnessAnswer> {
        await gate;
        if (party === 'c')
          return { outcome: 'refused', rule: 'checkpoint.rollback', message: 'ahead', signed_size: 7 };
        return { outcome: 'witnessed' };
      },
    } as unknown as Coordinator;
    const metrics = new GatewayMetrics();
    const w = createCheckpointWitness({
      coordinator,
      consistencyProof: async () => [new Uint8Array(32)],
      metrics,
    });
    w.signed(checkpoint(6), PARTIES, { signers: ['a', 'b'], refusals: [] });
    // 7 is stored (c signed it) before the call showing 6 answers.
    await new Promise((r) => setImmediate(r));
    w.signed(checkpoint(7), PARTIES, { signers: ['a', 'c'], refusals: [] });
    open();
    await w.idle();
    expect(metrics.render()).not.toContain('outcome="checkpoint.rollback"');
    expect(metrics.render()).toContain('outcome="ahead"');
  });
});
