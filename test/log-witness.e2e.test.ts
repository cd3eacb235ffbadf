/**
 * The parties witness the transparency log across real processes (docs/evidence.md, "What the
 * parties check"): the evidence writer has five party processes sign checkpoints; two that were
 * unreachable for two checkpoints answer the next with their signed `checkpoint.behind` refusal
 * naming the size they last signed, the writer sends a proof from there and they sign it; and a
 * gateway that rewrites its log after the first entry gets no signature on it.
 */
import { type LogStore, openCheckpoint, TransparencyLog } from '@aaps/evidence';
import {
  type Coordinator,
  createEvidenceWriter,
  type PartyRefusal,
  type ThresholdResult,
} from '@aaps/gateway';
import { AapsError, signEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogStore } from '../packages/gateway/src/test-helpers/log-store.js';
import { blockingFetch } from './helpers/blocking-fetch.js';
import { type PooledCluster, startPooledCluster } from './helpers/pooled-cluster.js';

const ORIGIN = 'aaps.test/witnessed-log';
let cluster: PooledCluster;

/** Parties the coordinator cannot reach right now. */
const blocked = new Set<string>();
/** Every checkpoint signing the writer asked for: its result or its refusals. */
const signings: ({ ok: true; result: ThresholdResult } | { ok: false; refusals: PartyRefusal[] })[] = [];

/**
 * The cluster's coordinator (it cannot reach the `blocked` parties), recording each checkpoint
 * signing. Without witness calls: shown each checkpoint, the parties that missed signings would
 * catch up before the next one, and this test is of catching up in signing (`checkpoint.behind`).
 */
function coordinator(): Coordinator {
  const { witnessCheckpoint: _shown, ...http } = cluster.coordinator;
  return {
    ...http,
    async signCheckpoint(input) {
      try {
        const result = await http.signCheckpoint(input);
        signings.push({ ok: true, result });
        return result;
      } catch (e) {
        const refusals = (e instanceof AapsError ? e.details['refusals'] : undefined) as PartyRefusal[];
        signings.push({ ok: false, refusals: refusals ?? [] });
        throw e;
      }
    },
  };
}

function writer(c: Coordinator, log: LogStore) {
  return createEvidenceWriter({
    coordinator: c,
    log,
    origin: ORIGIN,
    trust: async () => ({
      parties: cluster.layout.roster.parties.map((p) => ({ id: p.id, identity_key: p.identity_key })),
      approvers: [],
      gateway: cluster.layout.roster.gateway,
    }),
    validFrom: '2026-01-01T00:00:00Z',
  });
}

const entry = (n: number) => ({
  incident: { id: `inc-witness-${n}`, type: 'config_validation_failed' },
  decision: { outcome: 'recorded' },
  times: { received: '2026-11-26T02:00:00Z' },
  transcript: [
    signEnvelope(
      {
        meta: {
          trace_id: `trace-${n}`,
          span_id: `span-${n}`,
          timestamp: new Date().toISOString(),
          source_agent: cluster.layout.roster.gateway.id,
          target_agent: 'audit-agent',
          message_type: 'IncidentSignal',
          schema_version: 'v1.0.0',
          idempotency_key: `idem-witness-${n}`,
        },
        context: { namespace: 'shop', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy/v1' },
        payload: { note: `entry ${n}` },
      },
      cluster.layout.gatewayKey.secretKey,
    ),
  ],
});

describe('party processes witness the log', () => {
  beforeAll(async () => {
    const ports = () =>
      new Set(cluster.layout.roster.parties.filter((p) => blocked.has(p.id)).map((p) => new URL(p.url).port));
    cluster = await startPooledCluster('witness-e2e', undefined, {
      fetch: blockingFetch((url) => ports().has(url.port)),
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('parties that missed checkpoints catch up at the next one; a rewritten log gets no signature', async () => {
    const c = coordinator();
    const honest = memoryLogStore();
    const w = writer(c, honest.store);
    await w.record(entry(1));
    const first = signings.at(-1)!;
    expect(first.ok).toBe(true);
    const [a, b, third] = (first as { result: ThresholdResult }).result.signers as [string, string, string];
    const afterOne = new Map(honest.data);

    // Two of the first signers are unreachable for checkpoints 2 and 3.
    blocked.add(a).add(b);
    await w.record(entry(2));
    await w.record(entry(3));
    // Back, with the third signer of size 1 unreachable now: a quorum needs one of the two, which
    // last signed size 1. The first try carries a proof from 3 only, and they refuse it as behind
    // (in their signed refusals); the writer tries again with a proof from 1 and they sign.
    blocked.clear();
    blocked.add(third);
    const before = signings.length;
    await w.record(entry(4));
    const [refused, signed] = signings.slice(before);
    expect(refused).toEqual({
      ok: false,
      refusals: expect.arrayContaining([
        expect.objectContaining({ party: a, rule: 'checkpoint.behind', signed_size: 1 }),
        expect.objectContaining({ party: b, rule: 'checkpoint.behind', signed_size: 1 }),
      ]),
    });
    expect(signed!.ok).toBe(true);
    const signers = (signed as { result: ThresholdResult }).result.signers;
    expect(signers.filter((p) => p === a || p === b)).not.toHaveLength(0);
    const cp = (await w.latestCheckpoint())!;
    expect(cp.size).toBe(4);
    openCheckpoint(cp.note, [await w.logKey()]);

    // The gateway restores the log as it was after entry 1 and writes other entries on it.
    blocked.clear();
    const rewritten = memoryLogStore(afterOne);
    const log = await TransparencyLog.open(rewritten.store, { origin: ORIGIN });
    for (const junk of ['x', 'y', 'z']) await log.append(new TextEncoder().encode(junk));
    await log.flush();
    const evil = writer(c, rewritten.store);
    const e = await evil.record(entry(5)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    const rules = ((e as AapsError).details['refusals'] as PartyRefusal[]).map((r) => r.rule);
    expect(rules).toContain('checkpoint.inconsistent');
    expect((await evil.latestCheckpoint())!.size).toBe(1);
  }, 60_000);
});
