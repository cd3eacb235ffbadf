/**
 * The gateway's witness calls (`checkpoint-witness.ts`): each signed checkpoint goes to the
 * parties that did not sign it, in the background, one call at a time per party, each call
 * carrying the newest checkpoint not yet shown (older ones waiting behind a call in flight are
 * dropped) with a consistency proof from the size the party is known to hold; a party behind at
 * another size gets one more call with a proof from there; a party down or refusing fails nothing.
 */
import { memoryLogger } from '@aaps/agents';
import type { StoredCheckpoint } from '@aaps/evidence';
import { AapsError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { createCheckpointWitness } from './checkpoint-witness.js';
import type { Coordinator, WitnessAnswer, WitnessInput } from './coordinator.js';
import { GatewayMetrics } from './metrics.js';

const PARTIES = ['a', 'b', 'c', 'd', 'e'];
const checkpoint = (size: number): StoredCheckpoint => ({
  origin: 'aaps.test/log',
  size,
  rootHash: new Uint8Array(32).fill(size),
  extensions: [],
  note: `note ${size}`,
});

/** A coordinator whose witness calls wait until `release` and answer with `answer`. */
function fakeCoordinator(answer: (party: string, input: WitnessInput) => WitnessAnswer) {
  const calls: { party: string; note: string; from: number[] }[] = [];
  const inFlight = new Map<string, number>();
  let most = 0;
  const gates: (() => void)[] = [];
  const coordinator = {
    async witnessCheckpoint(party: string, input: WitnessInput): Promise<WitnessAnswer> {
      calls.push({ party, note: input.note, from: input.consistency.map((p) => p.from) });
      inFlight.set(party, (inFlight.get(party) ?? 0) + 1);
      most = Math.max(most, ...inFlight.values());
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight.set(party, inFlight.get(party)! - 1);
      return answer(party, input);
    },
  } as unknown as Coordinator;
  return {
    coordinator,
    calls,
    most: () => most,
    /** Let every waiting call answer, until none waits. */
    async release() {
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setImmediate(r));
        for (const g of gates.splice(0)) g();
      }
    },
  };
}

const proofs = async (from: number, to: number) => [new Uint8Array(32).fill(from + to)];

describe('checkpoint witness calls', () => {
  it('shows each checkpoint to the parties outside its quorum, one call per party at a time, the newest only', async () => {
    const fake = fakeCoordinator(() => ({ outcome: 'witnessed' }));
    const metrics = new GatewayMetrics();
    const w = createCheckpointWitness({ coordinator: fake.coordinator, consistencyProof: proofs, metrics });
    w.signed(checkpoint(1), PARTIES, { signers: ['a', 'b', 'c'], refusals: [] });
    await new Promise((r) => setImmediate(r));
    // Three more while the first calls are in flight: d and e wait for the newest only.
    for (const size of [2, 3, 4])
      w.signed(checkpoint(size), PARTIES, { signers: ['a', 'b', 'c'], refusals: [] });
    const idle = w.idle();
    await fake.release();
    await idle;
    expect(fake.most()).toBe(1);
    expect(fake.calls.map((c) => `${c.party}:${c.note}:${c.from.join()}`).sort()).toEqual([
      'd:note 1:',
      'd:note 4:1',
      'e:note 1:',
      'e:note 4:1',
    ]);
    expect(metrics.render()).toContain('aaps_checkpoint_witness_total{outcome="witnessed",party="d"} 2');
    // A party that signs a checkpoint is not shown it; one known to hold it already is not either.
    fake.calls.length = 0;
    w.signed(checkpoint(5), PARTIES, { signers: ['a', 'b', 'd'], refusals: [] });
    w.signed(checkpoint(4), PARTIES, { signers: ['a', 'b', 'c'], refusals: [] });
    const again = w.idle();
    await fake.release();
    await again;
    expect(fake.calls.map((c) => `${c.party}:${c.note}:${c.from.join()}`).sort()).toEqual([
      'c:note 5:4',
      'e:note 5:4',
    ]);
  });

  it('sends a proof from the size a party says it holds; a refusal or a party down fails nothing', async () => {
    const fake = fakeCoordinator((party, input) => {
      if (party === 'd' && !input.consistency.some((p) => p.from === 2))
        return { outcome: 'refused', rule: 'checkpoint.behind', message: 'behind', signed_size: 2 };
      if (party === 'e')
        return { outcome: 'refused', rule: 'checkpoint.fork', message: 'fork', signed_size: 6 };
      if (party === 'c') throw new AapsError('UNAVAILABLE', 'c is unreachable');
      // b signed a newer checkpoint while the call was out: a race, no alarm.
      if (party === 'b')
        return { outcome: 'refused', rule: 'checkpoint.rollback', message: 'ahead', signed_size: 7 };
      return { outcome: 'witnessed' };
    });
    const logger = memoryLogger('evidence');
    const w = createCheckpointWitness({ coordinator: fake.coordinator, consistencyProof: proofs, logger });
    w.signed(checkpoint(6), PARTIES, { signers: ['a'], refusals: [] });
    // Checkpoint 7 is signed by every party while the calls showing 6 are out.
    await new Promise((r) => setImmediate(r));
    w.signed(checkpoint(7), PARTIES, { signers: PARTIES, refusals: [] });
    const idle = w.idle();
    await fake.release();
    await idle;
    expect(fake.calls.filter((c) => c.party === 'd').map((c) => c.from)).toEqual([[], [2]]);
    const events = logger.lines.map((l) => JSON.parse(l) as { level: string; event: string; party: string });
    expect(events.filter((e) => e.level === 'error').map((e) => [e.event, e.party])).toEqual([
      ['checkpoint.witness_refused', 'e'],
    ]);
    expect(events.filter((e) => e.level === 'warn').map((e) => [e.event, e.party])).toEqual([
      ['checkpoint.witness_failed', 'c'],
    ]);
    expect(events.filter((e) => e.level === 'info').map((e) => [e.event, e.party])).toContainEqual([
      'checkpoint.witness_refused',
      'b',
    ]);
  });

  it("logs a refusal's message cut to 256 characters, saying from how many", async () => {
    const said = `e: ${'m'.repeat(2000)}`;
    const fake = fakeCoordinator(() => ({ outcome: 'refused', rule: 'checkpoint.fork', message: said }));
    const logger = memoryLogger('gateway');
    const w = createCheckpointWitness({ coordinator: fake.coordinator, consistencyProof: proofs, logger });
    w.signed(checkpoint(1), PARTIES, { signers: ['a', 'b', 'c', 'd'], refusals: [] });
    const idle = w.idle();
    await fake.release();
    await idle;
    const line = logger.lines
      .map((l) => JSON.parse(l) as { event: string; message?: string })
      .find((l) => l.event === 'checkpoint.witness_refused');
    expect(line?.message).toBe(`${said.slice(0, 256)}… (cut from ${said.length} characters)`);
  });

  it('makes no call through a coordinator without witness calls', async () => {
    const w = createCheckpointWitness({ coordinator: {} as Coordinator, consistencyProof: proofs });
    w.signed(checkpoint(1), PARTIES, { signers: ['a', 'b', 'c'], refusals: [] });
    await w.idle();
  });
});

/**
 * A party shown checkpoint N that, while the call was out, signed N+1 (picked into the next
 * quorum) refuses as `checkpoint.rollback` with signed_size N+1: no alarm, whether the refusal
 * comes back before or after the gateway stored N+1; counted as `ahead`, not as the rollback
 * metrics.ts reads as another history.
 */
describe('a witness refusal racing the next signing', () => {
  const THREE = ['a', 'b', 'c'];
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
    w.signed(checkpoint(6), THREE, { signers: ['a', 'b'], refusals: [] });
    await w.idle();
    // Only now is 7 stored.
    w.signed(checkpoint(7), THREE, { signers: ['a', 'c'], refusals: [] });
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
    w.signed(checkpoint(6), THREE, { signers: ['a', 'b'], refusals: [] });
    // 7 is stored (c signed it) before the call showing 6 answers.
    await new Promise((r) => setImmediate(r));
    w.signed(checkpoint(7), THREE, { signers: ['a', 'c'], refusals: [] });
    open();
    await w.idle();
    expect(metrics.render()).not.toContain('outcome="checkpoint.rollback"');
    expect(metrics.render()).toContain('outcome="ahead"');
  });
});
