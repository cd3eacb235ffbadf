import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeAggregationRecordJson,
  loadCircuit,
  loadFastBackends,
  verifyAggregation,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../../aggregate.js';
import { PartyClient } from '../../client.js';
import { rosterDigest } from '../../roster.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import { errorOf } from '../test-helpers/error-of.js';
import { fiveParties, partyDeps, ROLES } from '../test-helpers/five-parties.js';

/**
 * A record with no range proof binds its session fields (threshold, parties) only through the
 * parties' confirmations (docs/aggregation.md, Record): so `agg.confirm` must refuse a record whose
 * session fields are not the session the party evaluated.
 */
const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-confirm-'));
const set = fiveParties();
const { roster, gatewayKey } = set;
const digest = rosterDigest(roster);
const stores: PartyStore[] = [];
const plainSum = {
  format: 'aaps-circuit/v1',
  id: 'plain-sum',
  version: 1,
  inputs: ROLES.map((role) => ({ name: `x.${role}`, role, range: { min: 0, max: 9 }, rangeProof: false })),
  outputs: [{ name: 'sum', terms: ROLES.map((role) => ({ input: `x.${role}` })) }],
};

const circuits = new Map([['plain-sum', loadCircuit(plainSum)]]);

let apps: PartyApp[];
let client: PartyClient;

beforeAll(async () => {
  await loadFastBackends();
  apps = await Promise.all(
    ROLES.map(async (_, i) => {
      const base = await partyDeps(set, i, { dir, stores, rosterDigest: digest });
      const dataDir = join(dir, `party-${i}`);
      mkdirSync(join(dataDir, 'circuits'), { recursive: true });
      writeFileSync(join(dataDir, 'circuits', 'plain-sum.json'), JSON.stringify(plainSum));
      return createPartyApp({ ...base, config: { ...base.config, dataDir } });
    }),
  );
  const fetchApp: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
    return apps[i]!.app.request(url.pathname, init);
  };
  client = new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('agg.confirm of a record without range proofs', () => {
  it("refuses a record whose threshold is not the session's (it would sign a digest of another session)", async () => {
    const inputs = Object.fromEntries(roster.parties.map((p, i) => [p.id, i + 1]));
    const out = await runAggregationOverHttp(client, {
      circuitId: 'plain-sum',
      sessionId: 'agg-cs-1',
      inputs,
      circuits,
    });
    expect(out.result).toEqual({ sum: 15n });
    const forged = { ...out.record, threshold: 5 };
    // The opening involves only commitments, values and blindings: the forged record verifies offline.
    expect(verifyAggregation(encodeAggregationRecordJson(forged)).sessionId).toBe('agg-cs-1');
    const e = await errorOf(() =>
      client.call(roster.parties[0]!.id, 'agg.confirm', 'agg-cs-1', {
        record: encodeAggregationRecordJson(forged),
      }),
    );
    expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
  });

  it("refuses a record whose parties are not the session's (two identifiers swapped, providers alike)", async () => {
    const inputs = Object.fromEntries(roster.parties.map((p, i) => [p.id, i + 1]));
    const out = await runAggregationOverHttp(client, {
      circuitId: 'plain-sum',
      sessionId: 'agg-cs-2',
      inputs,
      circuits,
    });
    // Two parties' identifiers swapped (the providers alike): a different session, the same opening.
    const [a, b] = [out.record.parties[3]!.id, out.record.parties[4]!.id];
    const rename = (id: string) => (id === a ? b : id === b ? a : id);
    const forged = {
      ...out.record,
      parties: out.record.parties.map((p) => ({ ...p, id: rename(p.id) })),
      inputs: out.record.inputs.map((x) => ({ ...x, provider: rename(x.provider) })),
    };
    expect(encodeAggregationRecordJson(forged)).not.toBe(encodeAggregationRecordJson(out.record));
    expect(verifyAggregation(encodeAggregationRecordJson(forged)).sessionId).toBe('agg-cs-2');
    const e = await errorOf(() =>
      client.call(roster.parties[0]!.id, 'agg.confirm', 'agg-cs-2', {
        record: encodeAggregationRecordJson(forged),
      }),
    );
    expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
  });
});
