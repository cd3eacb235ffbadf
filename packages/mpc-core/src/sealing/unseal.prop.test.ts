import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../envelope/canonical.js';
import { ProtocolError } from '../errors.js';
import { signRelease } from './release-signature.js';
import { sealValue } from './seal-field.js';
import { makeParties } from './test-helpers/parties.js';
import { combineReleased, releaseShare } from './unseal.js';

const pool = makeParties(5);
const [requester] = makeParties(1, 'approver');

/** Values a seal accepts: fast-check makes a member named `__proto__` now and then, which sealing
 * refuses (no signature over it survives storage); canonicalize itself is the filter. */
const sealable = fc.jsonValue({ maxDepth: 3 }).filter((v) => {
  try {
    canonicalize(v);
    return true;
  } catch {
    return false;
  }
});

/** k, n and a random order of the n parties. */
const quorum = fc
  .integer({ min: 2, max: 5 })
  .chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.integer({ min: 2, max: n }),
      fc.shuffledSubarray([0, 1, 2, 3, 4].slice(0, n), { minLength: n }),
    ),
  );

describe('sealing laws', () => {
  it('any k of n releases give back the value; any k-1 give nothing', async () => {
    await fc.assert(
      fc.asyncProperty(sealable, quorum, async (value, [n, k, order]) => {
        const parties = pool.slice(0, n);
        const field = await sealValue(value, '/v', { incidentId: 'inc-law', parties, threshold: k });
        const rel = (i: number) =>
          signRelease(
            { requestId: 'ur-law', incidentId: 'inc-law', requester: requester!.id },
            field,
            parties[i]!.id,
            releaseShare(field, parties[i]!.id, parties[i]!.secret, requester!.x25519PublicKey, {
              incidentId: 'inc-law',
            }),
            parties[i]!.identity.secretKey,
          );
        const out = await combineReleased(field, order.slice(0, k).map(rel), requester!.secret);
        expect(canonicalize(out.value)).toBe(canonicalize(value));
        await expect(
          combineReleased(field, order.slice(0, k - 1).map(rel), requester!.secret),
        ).rejects.toSatisfy((e) => e instanceof ProtocolError && e.code === 'QUORUM_UNREACHABLE');
      }),
      { numRuns: 25 },
    );
  });
});
