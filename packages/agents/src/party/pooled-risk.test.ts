import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AapsError,
  bytesToHex,
  encodeAggregationRecordJson,
  SecretBytes,
  utf8,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../aggregate.js';
import type { PartyClient } from '../client.js';
import { defaultPolicy } from '../policy/defaults.js';
import { departmentRiskScore, pooledRiskValue, type RiskFactors } from '../policy/risk.js';
import { parsePolicy } from '../policy/schema.js';
import { PartyStore } from '../store/level.js';
import type { PartyApp } from './app.js';
import {
  PooledRiskLedger,
  parseRiskSubject,
  type RiskSubject,
  riskSubjectDigest,
  scoredFactors,
} from './pooled-risk.js';
import { readCircuitCatalog, SHIPPED_CIRCUITS_DIR } from './routes/aggregation.js';
import { fiveParties, inProcessClient, riskViewApps } from './test-helpers/five-parties.js';
import { splitSubjectRound } from './test-helpers/split-subject.js';

// Every department knows `shop` to be staging, so the declared staging stands (strategy: the formula).
const SHOP_STAGING = { shop: 'staging' } as const;
const VIEWS = [
  { weight_percent: 150, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 100, offset: 5, environments: SHOP_STAGING },
  { weight_percent: 100, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 120, offset: 0, environments: SHOP_STAGING },
  { weight_percent: 50, offset: 0, environments: SHOP_STAGING },
];
const FACTORS: RiskFactors = { blast_radius: 1, urgency: 'P2', environment: 'staging' };
const SUBJECT: RiskSubject = {
  incident_id: 'inc-1',
  action: 'image_rollback',
  namespace: 'shop',
  factors: FACTORS,
};

describe('department risk view', () => {
  it('scales and offsets the formula, clamped to 0..100; absent, it is the formula', () => {
    // image_rollback 25 + blast 0 + P2 5 + staging 10 = 40
    expect(departmentRiskScore(undefined, 'image_rollback', FACTORS)).toBe(40);
    expect(departmentRiskScore({ weight_percent: 150, offset: 0 }, 'image_rollback', FACTORS)).toBe(60);
    expect(departmentRiskScore({ weight_percent: 50, offset: 0 }, 'image_rollback', FACTORS)).toBe(20);
    expect(departmentRiskScore({ weight_percent: 400, offset: 0 }, 'image_rollback', FACTORS)).toBe(100);
    expect(departmentRiskScore({ weight_percent: 0, offset: -20 }, 'image_rollback', FACTORS)).toBe(0);
  });

  it('the pooled value is the weighted mean rounded up, within 0..100', () => {
    expect(pooledRiskValue(466n, 10n)).toBe(47);
    expect(pooledRiskValue(460n, 10n)).toBe(46);
    expect(pooledRiskValue(0n, 10n)).toBe(0);
    expect(pooledRiskValue(1000n, 10n)).toBe(100);
    expect(pooledRiskValue(5000n, 10n)).toBe(100);
  });

  it('a policy may carry its view; bad values name their field', () => {
    const base = defaultPolicy('audit');
    expect(parsePolicy({ ...base, risk: { weight_percent: 80 } }).risk).toEqual({
      weight_percent: 80,
      offset: 0,
    });
    expect(parsePolicy(base).risk).toBeUndefined();
    try {
      parsePolicy({ ...base, risk: { weight_percent: 1000, offset: 0.5, extra: 1 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).fields).toEqual(
        expect.arrayContaining(['risk.weight_percent', 'risk.offset', 'risk.extra']),
      );
    }
  });

  it('a risk subject is validated field by field', () => {
    expect(parseRiskSubject(SUBJECT, 'derive')).toEqual(SUBJECT);
    expect(parseRiskSubject({ ...SUBJECT, namespace: null }, 'derive').namespace).toBeNull();
    for (const [bad, field] of [
      [{ ...SUBJECT, action: 'Drop Table' }, 'derive.action'],
      [{ ...SUBJECT, factors: { ...FACTORS, blast_radius: 0 } }, 'derive.factors.blast_radius'],
      [{ ...SUBJECT, factors: { ...FACTORS, environment: 'moon' } }, 'derive.factors.environment'],
      [{ ...SUBJECT, incident_id: '' }, 'derive.incident_id'],
      [{ ...SUBJECT, namespace: 'Shop/x' }, 'derive.namespace'],
      [{ ...SUBJECT, namespace: 7 }, 'derive.namespace'],
      // An older coordinator's subject (no namespace): scored on it, the declared environment
      // would be taken on trust.
      [{ incident_id: 'inc-1', action: 'image_rollback', factors: FACTORS }, 'derive.namespace'],
    ] as const) {
      try {
        parseRiskSubject(bad, 'derive');
        expect.unreachable();
      } catch (e) {
        expect((e as ValidationError).fields).toEqual([field]);
      }
    }
  });
});

describe('pooled risk ledger', () => {
  const ref = { circuit: 'weighted-risk', session_id: 's-1', output_digest: 'ab'.repeat(32), value: 47 };

  it('accepts only a confirmed session with the same circuit, digest and value', async () => {
    const ledger = new PooledRiskLedger();
    expect(ledger.verifyRef(ref)).toBe(false);
    await ledger.remember('s-1', { circuit: 'weighted-risk', digest: 'ab'.repeat(32), value: 47 });
    expect(ledger.verifyRef(ref)).toBe(true);
    expect(ledger.verifyRef({ ...ref, value: 48 })).toBe(false);
    expect(ledger.verifyRef({ ...ref, output_digest: 'cd'.repeat(32) })).toBe(false);
    expect(ledger.verifyRef({ ...ref, circuit: 'cost-total' })).toBe(false);
    expect(ledger.verifyRef({ ...ref, session_id: 's-2' })).toBe(false);
  });

  it('given the proposal, accepts only the incident, action, namespace and factors that were pooled', async () => {
    const ledger = new PooledRiskLedger();
    const proposal = {
      incident_id: 'inc-1',
      action: 'image_rollback',
      target: 'deployment://shop/web',
      risk: { factors: FACTORS },
    };
    await ledger.remember('s-1', {
      circuit: 'weighted-risk',
      digest: 'ab'.repeat(32),
      value: 47,
      subject: SUBJECT,
    });
    expect(ledger.verifyRef(ref, proposal as never)).toBe(true);
    expect(ledger.verifyRef(ref, { ...proposal, incident_id: 'inc-2' } as never)).toBe(false);
    expect(ledger.verifyRef(ref, { ...proposal, action: 'pod_restart' } as never)).toBe(false);
    expect(
      ledger.verifyRef(ref, { ...proposal, risk: { factors: { ...FACTORS, urgency: 'P1' } } } as never),
    ).toBe(false);
    // Pooled on namespace shop: the departments scored shop's environment, not payments'.
    expect(ledger.verifyRef(ref, { ...proposal, target: 'deployment://payments/web' } as never)).toBe(false);
    expect(ledger.verifyRef(ref, { ...proposal, target: 'clusterrolebinding://web' } as never)).toBe(false);
    expect(ledger.verifyRef(ref, { ...proposal, target: 'not a uri' } as never)).toBe(false);
    // A session confirmed without a subject (inputs the caller chose) is never a pooled risk score.
    await ledger.remember('s-2', { circuit: 'weighted-risk', digest: 'ab'.repeat(32), value: 47 });
    expect(ledger.verifyRef({ ...ref, session_id: 's-2' }, proposal as never)).toBe(false);
  });

  it('never replaces a confirmed session: remembering its id again is a conflict (R5)', async () => {
    const ledger = new PooledRiskLedger();
    await ledger.remember('s-1', {
      circuit: 'weighted-risk',
      digest: 'ab'.repeat(32),
      value: 47,
      subject: SUBJECT,
    });
    const e = await ledger
      .remember('s-1', { circuit: 'weighted-risk', digest: 'cd'.repeat(32), value: 3, subject: SUBJECT })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AapsError);
    expect((e as AapsError).code).toBe('CONFLICT');
    expect(ledger.get('s-1')?.digest).toBe('ab'.repeat(32));
    expect(ledger.verifyRef(ref)).toBe(true);
  });

  it('a subject digest is the SHA-256 of its canonical JSON, whatever the key order', () => {
    const reordered = parseRiskSubject(
      {
        namespace: 'shop',
        factors: { urgency: 'P2', environment: 'staging', blast_radius: 1 },
        action: 'image_rollback',
        incident_id: 'inc-1',
      },
      'derive',
    );
    expect(riskSubjectDigest(reordered)).toBe(riskSubjectDigest(SUBJECT));
    expect(riskSubjectDigest(SUBJECT)).toBe(
      bytesToHex(
        sha256(
          utf8(
            '{"action":"image_rollback","factors":{"blast_radius":1,"environment":"staging","urgency":"P2"},"incident_id":"inc-1","namespace":"shop"}',
          ),
        ),
      ),
    );
    expect(riskSubjectDigest({ ...SUBJECT, incident_id: 'inc-2' })).not.toBe(riskSubjectDigest(SUBJECT));
    expect(riskSubjectDigest({ ...SUBJECT, namespace: 'payments' })).not.toBe(riskSubjectDigest(SUBJECT));
    expect(riskSubjectDigest({ ...SUBJECT, namespace: null })).not.toBe(riskSubjectDigest(SUBJECT));
  });

  it('forgets the oldest sessions past its limit', async () => {
    const ledger = new PooledRiskLedger(2);
    for (const s of ['a', 'b', 'c'])
      await ledger.remember(s, { circuit: 'weighted-risk', digest: 'ab'.repeat(32), value: 1 });
    expect(ledger.get('a')).toBeUndefined();
    expect(ledger.get('c')).toBeDefined();
  });
});

describe('pooled risk ledger kept in the party store', () => {
  it('reads back what it confirmed after a restart, and drops it with its session after the retention window', async () => {
    const dbDir = mkdtempSync(join(tmpdir(), 'aaps-ledger-'));
    const open = () => PartyStore.open(join(dbDir, 'db'), new SecretBytes(new Uint8Array(32).fill(7)), 'p1');
    const day = 24 * 60 * 60 * 1000;
    const t0 = new Date('2026-11-01T00:00:00Z');
    const entry = { circuit: 'weighted-risk', digest: 'ab'.repeat(32), value: 47, subject: SUBJECT };
    let store = await open();
    try {
      await (await PooledRiskLedger.open(store, { now: () => t0 })).remember('s-1', entry);
      await store.close();
      store = await open();
      const restarted = await PooledRiskLedger.open(store);
      expect(restarted.get('s-1')).toEqual(entry);
      const proposal = {
        incident_id: 'inc-1',
        action: 'image_rollback',
        target: 'deployment://shop/web',
        risk: { factors: FACTORS },
      };
      const ref = { circuit: 'weighted-risk', session_id: 's-1', output_digest: 'ab'.repeat(32), value: 47 };
      expect(restarted.verifyRef(ref, proposal as never)).toBe(true);
      // Still one confirmation per id, across the restart.
      const again = await restarted
        .remember('s-1', { circuit: 'weighted-risk', digest: 'cd'.repeat(32), value: 3 })
        .catch((x: unknown) => x);
      expect((again as AapsError).code).toBe('CONFLICT');
      // A damaged record is skipped and reported, not a party that cannot start. (Damaged in
      // place: each record has its time-index entry, written in the same batch, which is how a
      // start finds the newest without reading the rest.)
      await store.close();
      const raw = new Level<string, Uint8Array>(join(dbDir, 'db'), { valueEncoding: 'view' });
      const indexed = (id: string) => `agg-at/${String(t0.getTime()).padStart(16, '0')}/${id}`;
      await raw.put('aggc/s-bad', new TextEncoder().encode('not json'));
      await raw.put(indexed('s-bad'), new Uint8Array(0));
      await raw.put(
        'aggc/s-odd',
        new TextEncoder().encode(JSON.stringify({ at: t0, entry: { circuit: 1 } })),
      );
      await raw.put(indexed('s-odd'), new Uint8Array(0));
      await raw.close();
      store = await open();
      const damaged: string[] = [];
      const reread = await PooledRiskLedger.open(store, { onDamaged: (id) => void damaged.push(id) });
      expect(damaged.sort()).toEqual(['s-bad', 's-odd']);
      expect(reread.get('s-1')).toEqual(entry);
      // An entry an earlier release confirmed (its subject had no namespace) is read back, not
      // damaged, and still verifies as that release checked it: so a pooled incident in flight
      // across the upgrade can still be signed, and its evidence too.
      const { namespace: _, ...legacySubject } = SUBJECT;
      await store.saveConfirmedAggregation(
        's-legacy',
        { circuit: 'weighted-risk', digest: 'cd'.repeat(32), value: 40, subject: legacySubject },
        t0,
      );
      const damagedAgain: string[] = [];
      const withLegacy = await PooledRiskLedger.open(store, {
        onDamaged: (id) => void damagedAgain.push(id),
      });
      expect(withLegacy.get('s-legacy')?.subject).toEqual(legacySubject);
      const legacyRef = { ...ref, session_id: 's-legacy', output_digest: 'cd'.repeat(32), value: 40 };
      expect(withLegacy.verifyRef(legacyRef, proposal as never)).toBe(true);
      expect(withLegacy.verifyRef(legacyRef, { ...proposal, incident_id: 'inc-2' } as never)).toBe(false);
      expect(damagedAgain.sort()).toEqual(['s-bad', 's-odd']);
      // A later round's claim drops sessions older than the window, confirmations included.
      const later = new Date(t0.getTime() + 31 * day);
      await store.claimAggregationSession('s-2', later, new Date(later.getTime() - 30 * day));
      expect((await PooledRiskLedger.open(store)).get('s-1')).toBeUndefined();
    } finally {
      await store.close();
      rmSync(dbDir, { recursive: true, force: true });
    }
  });
});

describe('pooled risk across party apps (app.request, no ports)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-pool-'));
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

  it('each party derives its own score; only the weighted sum opens; every party confirms', async () => {
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'pool-1',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    // 3*60 + 2*45 + 2*40 + 2*48 + 1*20
    expect(out.result).toEqual({ weighted_risk: 466n });
    expect(out.pooledRisk).toBe(47);
    expect(out.confirmed).toEqual(roster.parties.map((p) => p.id));
    // Each party keeps what it confirmed in its audit trail.
    const trail = await stores[0]!.auditTrail();
    expect(trail.find((e) => e.event === 'agg.confirmed' && e.session === 'pool-1')?.detail).toEqual({
      circuit: 'weighted-risk',
      digest: out.digest,
      value: 47,
    });
  });

  it('a party whose ledger write failed confirms the round when asked again', async () => {
    for (const store of stores) {
      const save = store.saveConfirmedAggregation.bind(store);
      store.saveConfirmedAggregation = async () => {
        store.saveConfirmedAggregation = save;
        throw new AapsError('INTERNAL', 'the disk is full');
      };
    }
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'pool-write-failed',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    expect(out.confirmed).toEqual([]);
    for (const p of roster.parties) {
      const again = await client.call<{ digest?: string }>(p.id, 'agg.confirm', 'pool-write-failed', {
        record: encodeAggregationRecordJson(out.record),
      });
      expect(again.digest).toBe(out.digest);
    }
  });

  it('a party checks the record it is shown: a changed output is refused, the true one accepted once', async () => {
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'pool-2',
      inputs: {},
      derive: SUBJECT,
    });
    const party = roster.parties[2]!.id;
    const forged = {
      ...out.record,
      outputs: out.record.outputs.map((o) => ({ ...o, value: (o.value as bigint) + 100n })),
    };
    await expect(
      client.call(party, 'agg.confirm', 'pool-2', { record: encodeAggregationRecordJson(forged) }),
    ).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
    const ok = await client.call<{ digest: string; value: number }>(party, 'agg.confirm', 'pool-2', {
      record: encodeAggregationRecordJson(out.record),
    });
    expect(ok).toMatchObject({ digest: out.digest, value: 47 });
    await expect(
      client.call(party, 'agg.confirm', 'pool-2', { record: encodeAggregationRecordJson(out.record) }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('derive is for weighted-risk only, and weighted-risk takes no sealed input, not even beside derive', async () => {
    const e = await runAggregationOverHttp(client, {
      circuitId: 'cost-total',
      sessionId: 'pool-3',
      inputs: {},
      derive: SUBJECT,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AapsError);
    expect((e as AapsError).code).toBe('INVALID_ARGUMENT');
    const both = await client
      .call(roster.parties[0]!.id, 'agg.deal', 'pool-4', {
        circuit: 'weighted-risk',
        circuit_digest: readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).get('weighted-risk')!.digestHex,
        derive: SUBJECT,
        input: 'x',
      })
      .catch((x: unknown) => x);
    expect(both).toBeInstanceOf(AapsError);
    expect((both as AapsError).code).toBe('FORBIDDEN');
  });

  it('a gateway showing one department another subject gets no pooled score, and no dealer is blamed (R3c)', async () => {
    // Audit is shown a benign subject (development, P3); the others the real one. An honest
    // coordinator would name the dealer that signed another subject than it was sent
    // (aggregate-blame.test.ts); a lying one skips that, and every party refuses the round itself.
    const BENIGN = { ...SUBJECT, factors: { blast_radius: 1, urgency: 'P3', environment: 'development' } };
    const lying = inProcessClient(set, apps);
    const outcomes = await splitSubjectRound(lying, 'pool-mixed', (party) =>
      party === 'audit-agent' ? BENIGN : SUBJECT,
    );
    expect(outcomes.map((o) => o.party)).toEqual(roster.parties.map((p) => p.id));
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (o.ok) continue;
      expect(o.error.code).toBe('INCONSISTENT_TRANSCRIPT');
      // It names no dealer (each signed what it was shown).
      expect(o.error.details['claimed_culprits']).toEqual([]);
    }
    // No party evaluated, so none confirmed (nor can be asked to: NOT_FOUND).
    for (const store of stores) {
      const trail = await store.auditTrail();
      expect(trail.some((x) => x.event === 'agg.confirmed' && x.session === 'pool-mixed')).toBe(false);
    }
  });
});

describe('pooled risk scored on each party’s own view of the namespace (app.request, no ports)', () => {
  // Every department but audit knows payments to be production and shop staging; audit maps
  // nothing, so every namespace is `unknown` to it (weighs like production).
  const KNOWN = { payments: 'production', shop: 'staging' } as const;
  const VIEWS_ENV = [
    { weight_percent: 150, offset: 0, environments: KNOWN },
    { weight_percent: 100, offset: 5, environments: KNOWN },
    { weight_percent: 100, offset: 0, environments: KNOWN },
    { weight_percent: 120, offset: 0, environments: KNOWN },
    { weight_percent: 50, offset: 0 },
  ];
  const PRODUCTION: RiskSubject = {
    incident_id: 'inc-env-1',
    action: 'image_rollback',
    namespace: 'payments',
    factors: { blast_radius: 1, urgency: 'P2', environment: 'production' },
  };
  // image_rollback in production: 25 + 0 + 5 + 20 = 50. The departments score 75, 55, 50, 60,
  // 25; weighted (3, 2, 2, 2, 1): 225 + 110 + 100 + 120 + 25 = 580. Declared `development`, as
  // the subject alone said before, they scored 30: 45, 35, 30, 36, 15, weighted 352.
  const PRODUCTION_WEIGHTED = 580n;
  const dir = mkdtempSync(join(tmpdir(), 'aaps-pool-env-'));
  const set = fiveParties();
  const stores: PartyStore[] = [];
  let client: PartyClient;

  beforeAll(async () => {
    client = inProcessClient(set, await riskViewApps(set, { dir, stores }, VIEWS_ENV));
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const pool = (sessionId: string, subject: RiskSubject) =>
    runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId,
      inputs: {},
      derive: subject,
      confirm: true,
    });

  it('a gateway declaring development for a production namespace does not lower any department’s input', async () => {
    const honest = await pool('env-honest', PRODUCTION);
    expect(honest.result).toEqual({ weighted_risk: PRODUCTION_WEIGHTED });
    for (const lighter of ['development', 'staging'] as const) {
      const understated = await pool(`env-${lighter}`, {
        ...PRODUCTION,
        factors: { ...PRODUCTION.factors, environment: lighter },
      });
      expect(understated.result).toEqual({ weighted_risk: PRODUCTION_WEIGHTED });
      expect(understated.pooledRisk).toBe(honest.pooledRisk);
      expect(understated.confirmed).toHaveLength(5);
    }
  });

  it('a cluster-scoped target (namespace null) is `unknown` to every party: scored as production', async () => {
    const out = await pool('env-cluster', {
      ...PRODUCTION,
      action: 'image_rollback',
      namespace: null,
      factors: { ...PRODUCTION.factors, environment: 'development' },
    });
    expect(out.result).toEqual({ weighted_risk: PRODUCTION_WEIGHTED });
  });

  it('a heavier declared environment is never lowered to the party’s view', async () => {
    // shop is staging to four departments; declared production, every one scores production.
    const out = await pool('env-heavier', { ...PRODUCTION, namespace: 'shop' });
    expect(out.result).toEqual({ weighted_risk: PRODUCTION_WEIGHTED });
    // And declared staging, the four score staging (40: 60, 45, 40, 48) and audit, which maps
    // nothing, production (25): 180 + 90 + 80 + 96 + 25.
    const staging = await pool('env-shop-staging', {
      ...PRODUCTION,
      namespace: 'shop',
      factors: { ...PRODUCTION.factors, environment: 'staging' },
    });
    expect(staging.result).toEqual({ weighted_risk: 471n });
  });

  it('scoredFactors raises the declared environment to the policy’s view, never lowers it', () => {
    const policy = { ...defaultPolicy('audit'), risk: VIEWS_ENV[0]! };
    const at = (namespace: string | null, environment: RiskFactors['environment']) =>
      scoredFactors(policy, { ...PRODUCTION, namespace, factors: { ...PRODUCTION.factors, environment } })
        .environment;
    expect(at('payments', 'development')).toBe('production');
    expect(at('shop', 'development')).toBe('staging');
    expect(at('shop', 'production')).toBe('production');
    expect(at('elsewhere', 'staging')).toBe('unknown');
    expect(at(null, 'development')).toBe('unknown');
    expect(at('payments', 'unknown')).toBe('unknown');
  });
});
