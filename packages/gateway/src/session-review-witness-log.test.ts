/**
 * Session review: checkpoint-witness.ts says a party's refusal is logged so that "one party must
 * not grow the label set or the log lines" and cuts the rule to 64 characters; but the refusal's
 * `message` goes on the same `checkpoint.witness_refused` line whole. In the HTTP coordinator it is
 * `<party>: <error.message>` from the party's (unsigned) error body, read with no bound
 * (client.ts #errorFrom). One party (or anything on its path) writes a line of any length into the
 * gateway's log at error level for every checkpoint it is shown.
 */

import { memoryLogger } from '@aaps/agents';
import type { StoredCheckpoint } from '@aaps/evidence';
import { describe, expect, it } from 'vitest';
import { createCheckpointWitness } from './checkpoint-witness.js';
import type { Coordinator, WitnessAnswer } from './coordinator.js';

describe('checkpoint.witness_refused log lines', () => {
  it("are bounded whatever a party's refusal says", async () => {
    const coordinator = {
      async witnessCheckpoint(): Promise<WitnessAnswer> {
        return {
          outcome: 'refused',
          rule: `checkpoint.${'x'.repeat(4096)}`,
          message: `e: ${'m'.repeat(1_000_000)}`,
        };
      },
    } as unknown as Coordinator;
    const logger = memoryLogger('gateway');
    const w = createCheckpointWitness({
      coordinator,
      consistencyProof: async () => [new Uint8Array(32)],
      logger,
    });
    const cp: StoredCheckpoint = {
      origin: 'aaps.test/log',
      size: 1,
      rootHash: new Uint8Array(32),
      extensions: [],
      note: 'note 1',
    };
    w.signed(cp, ['a', 'b', 'c', 'd', 'e'], { signers: ['a', 'b', 'c', 'd'], refusals: [] });
    await w.idle();
    const refused = logger.lines.filter((l) => l.includes('checkpoint.witness_refused'));
    expect(refused.length).toBe(1);
    // The rule is cut to 64 characters; the whole line should be bounded likewise (a few KiB).
    expect(refused[0]!.length).toBeLessThan(4096);
  });
});
