/**
 * Review (long-run operation): what a deployment meets after months of incidents and restarts.
 * Each test drives the real store on a real LevelDB under a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PartyStore } from '@aaps/agents';
import { AapsError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { monotonicIds } from './incident-ids.js';
import { runNode } from './test-helpers/aaps-process.js';
import { dealtGroup, plainEntry } from './test-helpers/dealt-group.js';
import {
  delegating,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';
import { memoryLogStore } from './test-helpers/log-store.js';
import type { IncidentRecord } from './workflow/record.js';

const STORE_JS = fileURLToPath(new URL('../dist/store.js', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * One incident as the gateway leaves it when it ended while its evidence could not be signed (the
 * audit party or the evidence quorum unreachable): `resolved`, `evidence_id` unset, an
 * `evidence.retrying` note on its timeline. Sealing is retried with no budget, also after a
 * restart (docs/api.md, "Execution"), so every incident that ends during such an outage stays
 * active until the parties answer again.
 */
async function incidentWaitingForEvidence(): Promise<{ gw: TestGateway; record: IncidentRecord }> {
  const gw = await makeGateway({
    wrap: (c) =>
      delegating(c, {
        signEvidence: async () => {
          throw new AapsError('UNAVAILABLE', 'the evidence quorum did not answer');
        },
      }),
  });
  cleanups.push(() => gw.cleanup());
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  const id = String((await json(res))['incident_id']);
  gw.runner.start(id);
  await vi.waitFor(
    async () => {
      const r = await gw.store.getIncident(id);
      expect(r?.timeline.some((e) => e.event === 'evidence.retrying')).toBe(true);
    },
    { timeout: 20_000 },
  );
  await gw.runner.close();
  const record = (await gw.store.getIncident(id))!;
  expect(record.state).toBe('resolved');
  expect(record.evidence_id ?? null).toBeNull();
  return { gw, record };
}

describe('gateway restart after an evidence outage (long-run review)', () => {
  it('a gateway restarted with 6,000 incidents waiting for their evidence resumes them within its documented heap (160 MiB old space)', async () => {
    const { gw, record } = await incidentWaitingForEvidence();
    // 6,000 incidents ending while sealing cannot be signed: at two a minute, about two days of an
    // audit party that is down, or a week-end; at the 14-21 incidents/s the gateway sustains,
    // five minutes.
    const N = 6000;
    const ids = monotonicIds();
    const dir = join(gw.dir, 'db');
    for (let done = 0; done < N; done += 250) {
      await Promise.all(
        Array.from({ length: 250 }, async () => {
          const copy = structuredClone(record);
          copy.id = ids();
          await gw.store.putIncident(copy);
        }),
      );
    }
    await gw.close();
    // What `startGateway` does before it serves (cli/serve.ts): `runner.resumeIncidents()`,
    // which reads `store.activeIncidentIds()`. Run in a process with the heap limits `npm start` /
    // `aaps up` give the gateway (docs/PERFORMANCE.md, "Memory").
    const script = `
        const { openGatewayStore } = await import(${JSON.stringify(STORE_JS)});
        const store = await openGatewayStore(process.argv[1]);
        const active = await store.activeIncidentIds();
        console.log('resumable ' + active.length);
        await store.close();
      `;
    const run = await runNode([
      '--max-old-space-size=160',
      '--max-semi-space-size=4',
      '--input-type=module',
      '-e',
      script,
      dir,
    ]);
    const oom = /heap out of memory|Reached heap limit/i.test(run.err);
    expect({ code: run.code, signal: run.signal, oom, out: run.out.trim() }).toEqual({
      code: 0,
      signal: null,
      oom: false,
      out: `resumable ${N + 1}`,
    });
  }, 120_000);
});

describe('what checkpoints leave in a party store (long-run review)', () => {
  it('a party outside the signing quorum keeps one audit entry per checkpoint it witnesses, and nothing else (docs/api.md, "What is kept")', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-longrun-witness-'));
    const opened: PartyStore[] = [];
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(async () => {
      await Promise.all(opened.map((s) => s.close()));
    });
    const ORIGIN = 'aaps.local/log';
    const group = await dealtGroup({ dir, opened, logOrigin: ORIGIN });
    const writer = group.writer(ORIGIN, memoryLogStore().store);
    const auditCount = async (s: PartyStore) => {
      let n = 0;
      for await (const _ of s.auditEntries()) n++;
      return n;
    };
    // Warm up: the first entry and its checkpoint, then count from there.
    await writer.record(plainEntry(group, 'warm'));
    await writer.witnessed();
    const before = await Promise.all(group.stores.map(auditCount));
    const M = 20;
    for (let n = 0; n < M; n++) {
      await writer.record(plainEntry(group, `entry-${n}`));
      await writer.witnessed();
    }
    const after = await Promise.all(group.stores.map(auditCount));
    const growth = after.map((a, i) => a - before[i]!);
    // The evidence of each entry is signed by the parties its Statement names (three), and so is
    // each checkpoint; the other two parties sign nothing at all. Each keeps one
    // `checkpoint.witnessed` audit entry per checkpoint it is shown (the docs' figure), no more.
    const parties = await Promise.all(
      group.stores.map(async (s, i) => {
        let signs = 0;
        const events: string[] = [];
        let seen = 0;
        for await (const e of s.auditEntries()) {
          if (e.event === 'sign.share') signs++;
          if (seen++ >= before[i]!) events.push(e.event);
        }
        return { party: group.set.roster.parties[i]!.id, signs, growth: growth[i]!, events };
      }),
    );
    const nonSigners = parties.filter((p) => p.signs === 0);
    expect(nonSigners).toHaveLength(2);
    for (const p of nonSigners) {
      expect(p.growth, p.party).toBe(M);
      expect(new Set(p.events), p.party).toEqual(new Set(['checkpoint.witnessed']));
    }
  }, 120_000);
});
