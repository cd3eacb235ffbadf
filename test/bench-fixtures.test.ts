/**
 * The bench's evidence fixtures are bundles a verifier accepts. A row that times verification of a
 * bundle the verifier refuses measures the refusal, or (as `evidence.verify.offline.1env.1thread`
 * did after the predicate's action began to be checked against the transcript) stops the whole
 * `npm run bench`. Nothing else runs the bench's fixtures before a bench run does.
 */
import { createBundleVerifier } from '@aaps/evidence';
import { describe, expect, it } from 'vitest';
import { makeBundles } from '../bench/suites/evidence.js';

describe('bench evidence fixtures', () => {
  // 70 bundles: two checkpoint groups (64 and 6), as the rows' fresh verifier every 64 bundles sees.
  for (const transcriptLength of [1, 6]) {
    it(`a ${transcriptLength}-envelope bundle verifies under the group key, with every check`, async () => {
      const fx = await makeBundles(transcriptLength, 70);
      const verifier = createBundleVerifier({ groupPublicKey: fx.group.publicKey });
      for (const [k, text] of fx.texts.entries()) {
        const report = verifier.report(JSON.parse(text));
        expect(report.failure, `bundle ${k}`).toBeUndefined();
        expect(report.valid).toBe(true);
        // The timed path includes the log: inclusion under a checkpoint the group key signed.
        const log = report.checks.filter((c) => c.check.startsWith('log.') && c.status === 'pass');
        expect(log.map((c) => c.check)).toEqual(['log.checkpoint', 'log.inclusion']);
      }
    });
  }
});
