/**
 * A party evaluates without a dealer only when it sees that dealer failed (its own box from it did
 * not open, or t receivers signed reveal requests for its shares), never on the coordinator's word:
 * a coordinator that could exclude every department but one would read that department's private
 * score from the opened result. Five in-process party apps (app.request), weighted-risk with
 * `derive` (each party scores itself), every box good.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildAggregationRecord,
  encodeAggregationRecordJson,
  getCiphersuite,
  openResult,
  type ResultShare,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartyClient } from './client.js';
import type { PartyApp } from './party/app.js';
import {
  openAggregationSession,
  type ParsedDealing,
  parseSignedDealing,
  readCircuitCatalog,
  resultSharesFromWire,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
} from './party/routes/aggregation.js';
import { fiveParties, inProcessClient, riskViewApps } from './party/test-helpers/five-parties.js';
import { departmentRiskScore, type RiskFactors } from './policy/risk.js';
import { frostIdentifier, rosterDigest } from './roster.js';
import type { PartyStore } from './store/level.js';

// Every department knows `shop` to be staging, so each scores the declared staging.
const SHOP_STAGING = { shop: 'staging' } as const;
const VIEWS = [
  { weight_percent: 150, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 100, offset: 5, environments: SHOP_STAGING },
  { weight_percent: 100, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 120, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 50, offset: 0, environments: SHOP_STAGING },
];
const FACTORS: RiskFactors = { blast_radius: 1, urgency: 'P2', environment: 'staging' };
const SUBJECT = { incident_id: 'inc-1', action: 'image_rollback', namespace: 'shop', factors: FACTORS };

const dir = mkdtempSync(join(tmpdir(), 'aaps-excl-privacy-'));
const set = fiveParties();
const { roster } = set;
const stores: PartyStore[] = [];
let apps: PartyApp[];
let client: PartyClient;

beforeAll(async () => {
  apps = await riskViewApps(set, { dir, stores }, VIEWS);
  client = inProcessClient(set, apps);
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("exclusion on the coordinator's word alone", () => {
  it('a party refuses to evaluate with every other dealer excluded when none of them failed it', async () => {
    const suite = getCiphersuite(roster.ciphersuite);
    const circuit = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).get('weighted-risk')!;
    const sid = 'excl-all-but-one';
    const session = openAggregationSession(suite, roster, circuit, sid);
    const digestOfRoster = rosterDigest(roster);
    // Round 1, as the honest coordinator does it: every department derives its own score.
    const dealt = await Promise.all(
      roster.parties.map((p) =>
        client.call<{ dealing: SignedDealing; sealed: SealedShares[] }>(p.id, 'agg.deal', sid, {
          circuit: circuit.id,
          circuit_digest: circuit.digestHex,
          derive: SUBJECT,
        }),
      ),
    );
    const parsed: ParsedDealing[] = dealt.map((d, i) =>
      parseSignedDealing(
        { suite, roster, rosterDigest: digestOfRoster, session },
        d.dealing,
        roster.parties[i]!.id,
        true,
      ),
    );
    const inbox = new Map<string, SealedShares[]>();
    dealt.forEach((d, i) => {
      for (const item of d.sealed)
        inbox.set(item.party, [
          ...(inbox.get(item.party) ?? []),
          { party: roster.parties[i]!.id, box: item.box, sig: item.sig },
        ]);
    });
    // Round 2 by a curious coordinator: every box opens, no party failed, yet it excludes every
    // department but monitoring, in the very first agg.evaluate.
    const target = 0;
    const others = roster.parties.filter((_, i) => i !== target).map((p) => p.id);
    const evaluators = roster.parties.slice(0, roster.threshold.min);
    const answers = await Promise.allSettled(
      evaluators.map((p) =>
        client.call<{ result_shares: unknown }>(p.id, 'agg.evaluate', sid, {
          dealings: dealt.map((d) => d.dealing),
          shares: inbox.get(p.id) ?? [],
          excluded: others,
        }),
      ),
    );
    const refused = answers.filter((a) => a.status === 'rejected').length;
    if (refused === 0) {
      // The parties went along: open the output and solve for monitoring's private score.
      const shares: ResultShare[] = answers.flatMap((a, k) =>
        a.status === 'fulfilled'
          ? resultSharesFromWire(session, evaluators[k]!, roster, a.value.result_shares)
          : [],
      );
      const exclusions = roster.parties
        .filter((_, i) => i !== target)
        .map((p) => ({ dealer: frostIdentifier(roster, p), reason: 'unanswered' as const }));
      const opened = openResult(
        session,
        parsed.flatMap((p) => p.dealings),
        shares,
        (n) => new Uint8Array(n).map(() => Math.floor(Math.random() * 256)),
        { verifyProofs: false, excluded: exclusions },
      );
      const total = opened.outputs[0]!.value as bigint;
      // weights 3 (monitoring) / 2 / 2 / 2 / 1, substitutes 100: total = 3x + 700.
      const learned = (total - 700n) / 3n;
      const secret = BigInt(departmentRiskScore(VIEWS[0], 'image_rollback', FACTORS));
      // The parties even confirm the record (and remember it as the pooled risk of the subject).
      const record = buildAggregationRecord(
        session,
        parsed.flatMap((p) => p.dealings),
        opened,
      );
      const confirmed = await client.call<{ value?: number }>(evaluators[0]!.id, 'agg.confirm', sid, {
        record: encodeAggregationRecordJson(record),
      });
      expect(
        { learned, confirmedValue: confirmed.value },
        `coordinator learned monitoring's private score ${learned} (true ${secret})`,
      ).toEqual({ learned: -1n, confirmedValue: undefined });
    }
    expect(refused).toBe(evaluators.length);
    for (const a of answers) {
      expect(a.status === 'rejected' && (a.reason as { code?: string }).code).toBe('FORBIDDEN');
    }
  });
});
