/**
 * A party releases a sealed field only for a request recorded in the log it witnesses
 * (docs/sealing.md, "The party"; docs/threat-model.md). A party started without `log_origin` (the
 * default of `aaps party init`) pins the origin of the first checkpoint it signs or is shown, signs
 * no checkpoint of another origin, and checks an unseal request's record against that log: a
 * compromised gateway that records the request in a side log under a fresh origin, to keep it out
 * of the log auditors watch, gets neither the side log's checkpoint signed nor any release, even
 * with a side-log record that other holders of the group key signed. A party that knows no log
 * yet releases nothing.
 *
 * Real parts: five party apps (dealt 3-of-5 key, LevelDB stores, no `log_origin`) reached through
 * app.request, the gateway's HTTP coordinator and evidence writer (in-memory logs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartyStore } from '@aaps/agents';
import {
  generateIdentityKey,
  getCiphersuite,
  SealedFieldCodec,
  signUnsealRequest,
  trustedDealer,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { fiveParties, sealedSecret } from '../../agents/src/party/test-helpers/five-parties.js';
import type { Coordinator, PartyReleaseAnswer } from './coordinator.js';
import type { EvidenceRecordInput } from './evidence-writer.js';
import { dealtGroup, plainEntry } from './test-helpers/dealt-group.js';
import { memoryLogStore } from './test-helpers/log-store.js';

const REAL = 'aaps.local/log';
const SIDE = 'aaps.local/side';
const dir = mkdtempSync(join(tmpdir(), 'aaps-unseal-side-log-'));
const opened: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Each party's outcome: `released` or the rule it refused with. */
const outcomes = (answers: PartyReleaseAnswer[]) =>
  answers.map((a) =>
    a.outcome === 'answered'
      ? a.released.length > 0
        ? 'released'
        : 'none'
      : a.outcome === 'refused'
        ? a.rule
        : a.code,
  );

describe('an unseal request recorded only in a side log', () => {
  it('gets no side-log checkpoint signed and no release from parties that pinned the real log', async () => {
    const alice = generateIdentityKey();
    const set = fiveParties({ approvers: [{ id: 'alice', key: alice }] });
    const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), set.roster.threshold);
    const group = await dealtGroup({ dir, opened, set, dealt });

    // The real log, which auditors watch: two entries, every party witnesses it (the quorum by
    // signing, the others shown each checkpoint), and each pins its origin.
    const real = group.writer(REAL, memoryLogStore().store);
    for (const n of [1, 2]) await real.record(plainEntry(group, `real-${n}`));
    await real.witnessed();
    expect(group.stores.map((s) => s.pinnedLogOrigin())).toEqual(Array(5).fill(REAL));
    const health = (await (await group.apps[4]!.app.request('/healthz')).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ log_origin: REAL, log_origin_source: 'pinned' });

    // A sealed field of incident inc-real-1 and alice's signed request to open it.
    const field = await sealedSecret(set, 'inc-real-1', { password: 'hunter2-canary' });
    const now = Date.now();
    const request = signUnsealRequest(
      {
        request_id: 'ur-side-1',
        incident_id: 'inc-real-1',
        evidence_id: 'ab'.repeat(32),
        fields: [field.id],
        requester: 'alice',
        reason: 'rotate the leaked password',
        issued_at: new Date(now - 1000).toISOString(),
        expires_at: new Date(now + 600_000).toISOString(),
      },
      alice.secretKey,
    );
    const requested: EvidenceRecordInput = {
      incident: {
        id: request.incident_id,
        type: 'unseal',
        evidence_id: request.evidence_id,
        request_id: request.request_id,
        requester: request.requester,
        fields: [...request.fields],
      },
      decision: { outcome: 'unseal-requested' },
      times: { requested: request.issued_at },
      transcript: [group.envelope('request-1', { type: 'UnsealRequested', request: { ...request } })],
    };
    const release = (c: Coordinator, record: unknown) =>
      c.releaseSealed!({
        request,
        record,
        fields: [SealedFieldCodec.toJSON(field)],
        detectors: { [field.id]: 'k8s-secret' },
      });

    // The compromised gateway records the request in a side log under a fresh origin: no party
    // signs that log's first checkpoint.
    const side = group.writer(SIDE, memoryLogStore().store);
    const refused = await side.record(requested).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    const rules = (refused as { details: { refusals: { rule: string }[] } }).details.refusals.map(
      (r) => r.rule,
    );
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules)).toEqual(new Set(['checkpoint.origin']));
    for (const s of group.stores) expect(await s.lastCheckpoint(SIDE)).toBeUndefined();

    // Other holders of the group key that know no log yet (the same shares on fresh stores) can
    // sign the side log. Knowing no log, they release nothing themselves.
    const fresh = await dealtGroup({ dir, opened, set, dealt });
    const inReal = await real.record(requested);
    expect(outcomes(await release(fresh.coordinator, inReal.bundle))).toEqual(
      Array(5).fill('unseal.unlogged'),
    );
    const inSide = await fresh.writer(SIDE, memoryLogStore().store).record(requested);
    expect(inSide.bundle.transparencyLog?.checkpoint.startsWith(`${SIDE}\n`)).toBe(true);

    // Parties that witness the real log release nothing for the side-log record, and do for the
    // real one.
    expect(outcomes(await release(group.coordinator, inSide.bundle))).toEqual(
      Array(5).fill('unseal.unlogged'),
    );
    const answers = await release(group.coordinator, inReal.bundle);
    expect(outcomes(answers).filter((o) => o === 'released').length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
