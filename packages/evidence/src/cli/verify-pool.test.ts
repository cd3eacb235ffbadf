import { describe, expect, it } from 'vitest';
import { spawnWorkers, workerEnded } from './spawn-workers.js';
import { nextBatchSize, type SourceList, tappedVerifier, verifyAll } from './verify-pool.js';

const KEY = new Uint8Array(32).fill(7);

describe('verify pool', () => {
  it('cuts batches that shrink toward the end and never below the minimum', () => {
    expect(nextBatchSize(8192, 2)).toBe(64);
    expect(nextBatchSize(200, 2)).toBe(25);
    expect(nextBatchSize(3, 2)).toBe(8);
  });

  it('fails, rather than waits forever, with a worker that ended before the pool listened', async () => {
    const [worker] = spawnWorkers(1);
    await worker!.terminate();
    expect(workerEnded(worker!)).toBeInstanceOf(Error);
    const list: SourceList = { count: 200, read: (i) => ({ name: `s${i}`, text: '{}' }) };
    await expect(
      verifyAll({ groupPublicKey: KEY }, list, () => {}, {
        jobs: 2,
        detail: 'brief',
        started: [worker!],
        verifier: tappedVerifier({ groupPublicKey: KEY }),
      }),
    ).rejects.toThrow(/exited/);
  });
});
