/**
 * Review (long-run operation): what a party meets after months of incidents and restarts. Each
 * test drives the real PartyStore on a real LevelDB under a temp dir, with an injected clock.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretBytes } from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { PARTY_NODE_ARGS } from './cluster.js';
import {
  type ConfirmedAggregation,
  citedAggregationSessions,
  PooledRiskLedger,
  type RiskSubject,
} from './party/pooled-risk.js';
import { DEALT_SESSION_RETENTION_MS } from './party/routes/aggregation.js';
import { PartyStore } from './store/level.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const T0 = Date.parse('2026-11-01T00:00:00Z');

async function openStore(): Promise<{ dir: string; open: () => Promise<PartyStore> }> {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-longrun-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kek = new SecretBytes(new Uint8Array(32).fill(9));
  return { dir, open: () => PartyStore.open(join(dir, 'db'), kek, 'risk-dept') };
}

const subject = (i: number): RiskSubject => ({
  incident_id: `inc-${i}`,
  action: 'rbac_changes',
  namespace: 'shop',
  factors: { blast_radius: 1, urgency: 'P2', environment: 'production' },
});
const entry = (i: number): ConfirmedAggregation => ({
  circuit: 'weighted-risk',
  digest: (i % 256).toString(16).padStart(2, '0').repeat(32),
  value: 40 + (i % 50),
  subject: subject(i),
});

const DIST = (path: string) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const MPC_CORE = fileURLToPath(new URL('../../mpc-core/dist/index.js', import.meta.url));

/** Runs `node <args>`; resolves with its exit code, signal and output. */
function runNode(
  args: string[],
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

const HOUR = 3_600_000;
const refOf = (i: number) => ({
  circuit: 'weighted-risk',
  session_id: `risk-${i}`,
  output_digest: entry(i).digest,
  value: entry(i).value,
});
/** The proposal that cites session `i` (what strategy bound the pooled score to). */
const proposalOf = (i: number) =>
  ({
    incident_id: `inc-${i}`,
    action: 'rbac_changes',
    target: 'rolebinding://shop/deployer',
    risk: { factors: { blast_radius: 1, urgency: 'P2', environment: 'production' } },
  }) as never;

describe('pooled-risk ledger over weeks of pooled incidents (long-run review)', () => {
  it('a round confirmed two days ago, still kept in the party store (30-day retention), is still accepted after 10,000 newer rounds, live and after a restart', async () => {
    const { open } = await openStore();
    let store = await open();
    cleanups.push(() => store.close());
    let clock = T0;
    const ledger = await PooledRiskLedger.open(store, {
      now: () => new Date(clock),
      retentionMs: DEALT_SESSION_RETENTION_MS,
    });
    // Day 0: incident 0 is pooled; its fix needs a person (rbac_changes), who answers later.
    await ledger.remember('risk-0', entry(0));
    expect(ledger.verifyRef(refOf(0), proposalOf(0))).toBe(true);
    // Over the next two days, 10,000 other incidents are pooled (about 3.5 a minute): each
    // confirmed round is saved to the store, kept there 30 days.
    const N = 10_000;
    for (let i = 1; i <= N; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, N - i + 1) }, (_, j) => {
          clock = T0 + ((i + j) * 48 * HOUR) / N;
          return ledger.remember(`risk-${i + j}`, entry(i + j));
        }),
      );
    }
    // Well inside the retention window the docs give (docs/aggregation.md, "One dealing per
    // session id": kept 30 days, "so a party restarted between pooling and signing the approval
    // or the evidence still knows the round").
    expect(clock - T0).toBeLessThan(DEALT_SESSION_RETENTION_MS);
    const kept = (await store.confirmedAggregations()).map(([id]) => id);
    expect(kept).toContain('risk-0');
    // The person now approves incident 0 (or its evidence is sealed): every party checks the
    // pooled reference against its ledger (`verifyAggregationRef`), after reading back the
    // rounds the request cites (party/app.ts: `recall(citedAggregationSessions(body))`).
    // What a signing request carries: the proposal, its risk citing the round.
    const request = {
      subject: { kind: 'approval', proposal: { incident_id: 'inc-0', risk: { aggregation_ref: refOf(0) } } },
    };
    expect(citedAggregationSessions(request)).toEqual(['risk-0']);
    expect(ledger.verifyRef(refOf(0), proposalOf(0))).toBe(false); // pushed out of memory
    await ledger.recall(citedAggregationSessions(request));
    const live = ledger.verifyRef(refOf(0), proposalOf(0));
    await store.close();
    store = await open();
    const restarted = await PooledRiskLedger.open(store, {
      now: () => new Date(clock),
      retentionMs: DEALT_SESSION_RETENTION_MS,
    });
    await restarted.recall(citedAggregationSessions(request));
    const afterRestart = restarted.verifyRef(refOf(0), proposalOf(0));
    expect({ live, afterRestart }).toEqual({ live: true, afterRestart: true });
    // Past the retention window a round is not read back, even while its record is still on disk.
    const late = await PooledRiskLedger.open(store, {
      now: () => new Date(T0 + DEALT_SESSION_RETENTION_MS + HOUR),
      retentionMs: DEALT_SESSION_RETENTION_MS,
    });
    await late.recall(['risk-0']);
    expect(late.verifyRef(refOf(0), proposalOf(0))).toBe(false);
  }, 120_000);
});

describe('party start-up with a month of pooled rounds (long-run review)', () => {
  it('a party whose store holds 100,000 confirmed rounds of the last 30 days starts (opens its ledger) within its own heap limits', async () => {
    const { dir } = await openStore();
    const path = join(dir, 'db');
    // 100,000 pooled rounds in 30 days (about 2.3 a minute), as `saveConfirmedAggregation`
    // writes them (`aggc/<id>` with its `agg-at/` index entry), written in bulk for speed.
    const N = 100_000;
    const db = new Level<string, string>(path);
    for (let i = 0; i < N; i += 5000) {
      const ops: { type: 'put'; key: string; value: string }[] = [];
      for (let j = i; j < i + 5000; j++) {
        const at = T0 + j * 25_000;
        ops.push(
          {
            type: 'put',
            key: `aggc/risk-${j}`,
            value: JSON.stringify({ at: new Date(at).toISOString(), entry: entry(j) }),
          },
          { type: 'put', key: `agg-at/${String(at).padStart(16, '0')}/risk-${j}`, value: '' },
        );
      }
      await db.batch(ops);
    }
    await db.close();
    expect(N * 25_000).toBeLessThan(DEALT_SESSION_RETENTION_MS);
    // What `createPartyApp` does at every start (party/app.ts): `PooledRiskLedger.open(store)`.
    const script = `
        const { PartyStore } = await import(${JSON.stringify(DIST('store/level.js'))});
        const { PooledRiskLedger } = await import(${JSON.stringify(DIST('party/pooled-risk.js'))});
        const { SecretBytes } = await import(${JSON.stringify(MPC_CORE)});
        const store = await PartyStore.open(process.argv[1], new SecretBytes(new Uint8Array(32).fill(9)), 'risk-dept');
        const ledger = await PooledRiskLedger.open(store);
        console.log(ledger.get('risk-${N - 1}') === undefined ? 'missing' : 'ledger open');
        await store.close();
      `;
    // Control: without a heap limit the records read back (so the layout above is the store's).
    const free = await runNode(['--input-type=module', '-e', script, path]);
    expect(free.out.trim()).toBe('ledger open');
    // The party as `aaps up` and `startParties` run it (PARTY_NODE_ARGS; docs/PERFORMANCE.md).
    const limited = await runNode([...PARTY_NODE_ARGS, '--input-type=module', '-e', script, path]);
    const oom = /heap out of memory|Reached heap limit/i.test(limited.err);
    expect({ code: limited.code, signal: limited.signal, oom, out: limited.out.trim() }).toEqual({
      code: 0,
      signal: null,
      oom: false,
      out: 'ledger open',
    });
  }, 120_000);
});
