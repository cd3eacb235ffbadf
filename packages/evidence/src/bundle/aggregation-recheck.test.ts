/**
 * `withAggregationRecheck`: a verifier made with it re-checks a bundle's aggregation record itself
 * (mpc-core's `verifyAggregation`), not only against the digest the quorum signed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  aggregationRecordToJson,
  buildAggregationRecord,
  createAggregationSession,
  dealInput,
  evaluateShares,
  getCiphersuite,
  identifierFromNumber,
  loadCircuit,
  openResult,
  ValidationError,
  VerificationError,
  verifyAggregation,
  verifyDealings,
} from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../statement.js';
import { makeLoggedBundles } from '../test-helpers/fixtures.js';
import { withAggregationRecheck } from './aggregation-recheck.js';
import { createBundleVerifier } from './verify.js';

/** A real weighted-risk round among five parties, as its record's JSON form. */
function weightedRiskRecord(): JsonObject {
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const rng = (n: number) => new Uint8Array(randomBytes(n));
  const circuitPath = join(import.meta.dirname, '../../../../circuits/weighted-risk.json');
  const circuit = loadCircuit(JSON.parse(readFileSync(circuitPath, 'utf8')));
  const roles = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];
  const parties = roles.map((role, i) => ({ id: identifierFromNumber(suite, i + 1), role }));
  const session = createAggregationSession(suite, {
    circuit,
    sessionId: 'inc-0.risk',
    threshold: 3,
    parties,
  });
  const dealings = circuit.inputs.map((input, i) =>
    dealInput(session, { input: input.name, dealer: session.providers[i]!, value: 10 * i }, rng),
  );
  const shares = parties.flatMap((p) =>
    evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
  );
  const record = buildAggregationRecord(session, dealings, openResult(session, dealings, shares, rng));
  return aggregationRecordToJson(record) as unknown as JsonObject;
}

describe('withAggregationRecheck', () => {
  const record = weightedRiskRecord();

  it('re-checks a real record in full, where a plain verifier only matches its digest', async () => {
    const { group, bundle } = await makeLoggedBundles(1, { aggregation: record });
    const aggregationCheck = (checks: { check: string; status: string; message?: string }[]) =>
      checks.find((c) => c.check === 'aggregation');
    const full = createBundleVerifier(withAggregationRecheck({ groupPublicKey: group.publicKey })).report(
      bundle,
    );
    expect(full.valid).toBe(true);
    expect(aggregationCheck(full.checks)).toEqual({ check: 'aggregation', status: 'pass' });
    const plain = createBundleVerifier({ groupPublicKey: group.publicKey }).report(bundle);
    expect(aggregationCheck(plain.checks)?.message).toBe('digest matches; no re-check function was supplied');
  });

  it('refuses a record the quorum signed but that does not hold (its digest matches)', async () => {
    const outputs = (record.outputs as JsonObject[]).map((o) => ({ ...o, value: '999' }));
    const { group, bundle } = await makeLoggedBundles(1, { aggregation: { ...record, outputs } });
    const report = createBundleVerifier(withAggregationRecheck({ groupPublicKey: group.publicKey })).report(
      bundle,
    );
    expect(report.failure?.check).toBe('aggregation');
    expect(createBundleVerifier({ groupPublicKey: group.publicKey }).check(bundle)).toBe(true);
  });

  it("is needed: mpc-core's verifyAggregation passed as is refuses the bundle's JSON form", async () => {
    const { group, bundle } = await makeLoggedBundles(1, { aggregation: record });
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
