/**
 * `withAggregationRecheck`: a verifier made with it re-checks a bundle's aggregation record itself
 * (mpc-core's `verifyAggregation`), not only against the digest the quorum signed.
 */
import { ValidationError, VerificationError, verifyAggregation } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../statement.js';
import { makeLoggedBundles } from '../test-helpers/fixtures.js';
import { aggregationRecord, refFor } from '../test-helpers/pooled.js';
import { withAggregationRecheck } from './aggregation-recheck.js';
import { createBundleVerifier } from './verify.js';

/** A real weighted-risk round among five parties (inputs 0, 10, 20, 30, 40: pooled 16). */
const weightedRiskRecord = () => aggregationRecord({ sessionId: 'inc-0.risk', values: [0, 10, 20, 30, 40] });
const pooled = (record: JsonObject, value = 16) => ({ pooled: { record, ref: refFor(record, value) } });

describe('withAggregationRecheck', () => {
  const record = weightedRiskRecord();

  it('re-checks a real record in full, where a plain verifier only matches its digest', async () => {
    const { group, bundle } = await makeLoggedBundles(1, pooled(record));
    const aggregationCheck = (checks: { check: string; status: string; message?: string }[]) =>
      checks.find((c) => c.check === 'aggregation');
    const full = createBundleVerifier(withAggregationRecheck({ groupPublicKey: group.publicKey })).report(
      bundle,
    );
    expect(full.valid).toBe(true);
    expect(aggregationCheck(full.checks)).toEqual({ check: 'aggregation', status: 'pass' });
    const plain = createBundleVerifier({ groupPublicKey: group.publicKey }).report(bundle);
    expect(aggregationCheck(plain.checks)?.message).toBe(
      'the record is the one the approval cites; no re-check function was supplied',
    );
  });

  it('refuses a record the quorum signed but that does not hold (its digest matches)', async () => {
    const outputs = (record.outputs as JsonObject[]).map((o) => ({ ...o, value: '999' }));
    const { group, bundle } = await makeLoggedBundles(1, pooled({ ...record, outputs }, 100));
    const report = createBundleVerifier(withAggregationRecheck({ groupPublicKey: group.publicKey })).report(
      bundle,
    );
    expect(report.failure?.check).toBe('aggregation');
    expect(createBundleVerifier({ groupPublicKey: group.publicKey }).check(bundle)).toBe(true);
  });

  it("is needed: mpc-core's verifyAggregation passed as is refuses the bundle's JSON form", async () => {
    const { group, bundle } = await makeLoggedBundles(1, pooled(record));
    const direct = createBundleVerifier({
      groupPublicKey: group.publicKey,
      verifyAggregation: verifyAggregation as unknown as (r: JsonObject) => unknown,
    });
    expect(direct.check(bundle)).toBe(false);
    expect(() => direct.verify(bundle)).toThrow(VerificationError);
  });

  it('refuses options that are not an object, as createBundleVerifier does', () => {
    for (const bad of [undefined, null, 'key']) {
      expect(() => withAggregationRecheck(bad as never)).toThrow(ValidationError);
    }
  });
});
