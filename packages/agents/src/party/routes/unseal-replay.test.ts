/**
 * A party remembers unseal request ids (`unseal/<id>`) beside RPC idempotency keys, each until its
 * own time: ordinary RPC traffic (whose keys are kept 2 × the timestamp window, 10 min) once pruned
 * the whole set with its own cutoff and erased unseal ids long before their request expired, so
 * the same signed request was released a second time (sealing review F2). Now it is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AapsError,
  generateIdentityKey,
  PolicyRefusal,
  SealedFieldCodec,
  signUnsealRequest,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { PartyStore } from '../../store/level.js';
import { fiveParties, partyDeps, sealedSecret } from '../test-helpers/five-parties.js';
import { loggedRequestRecord, recordCheckerFor, testGroup } from '../test-helpers/unseal-record.js';
import { createUnsealHandler } from './unseal.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-unseal-replay-'));
const alice = generateIdentityKey();
const set = fiveParties({
  url: (i) => `http://127.0.0.1:${9100 + i}`,
  approvers: [{ id: 'alice', key: alice }],
});
const stores: PartyStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('unseal replay protection at the party', () => {
  it('refuses a request id it released before, also after ordinary RPC traffic', async () => {
    const field = await sealedSecret(set, 'inc-1', 'canary-replay-0001');
    const t0 = Date.now();
    let clock = t0;
    const deps = await partyDeps(set, 0, { dir, stores });
    const group = testGroup();
    const release = createUnsealHandler({
      ...deps,
      now: () => new Date(clock),
      requestRecord: recordCheckerFor(set, group),
    });
    const req = signUnsealRequest(
      {
        request_id: 'ur-review-replay',
        incident_id: 'inc-1',
        evidence_id: 'ab'.repeat(32),
        fields: [field.id],
        requester: 'alice',
        reason: 'rotate the leaked password',
        issued_at: new Date(t0).toISOString(),
        expires_at: new Date(t0 + 55 * 60_000).toISOString(),
      },
      alice.secretKey,
    );
    const body = {
      request: req,
      request_record: await loggedRequestRecord(set, group, req),
      fields: [SealedFieldCodec.toJSON(field)],
      detectors: {},
    };
    const first = await release(req.request_id, body, set.roster.gateway.id);
    expect(first.released).toHaveLength(1);

    // 15 minutes of ordinary RPC traffic, remembered as party/auth.ts does (window 300 s).
    clock = t0 + 15 * 60_000;
    const windowMs = deps.config.timestampWindowSec * 1000;
    for (let i = 0; i < 1024; i++)
      await deps.store.rememberRequest(`gateway/rpc-${i}`, new Date(clock), new Date(clock + 2 * windowMs));

    let outcome: string;
    try {
      const again = await release(req.request_id, body, set.roster.gateway.id);
      outcome = `released ${again.released.length} again`;
    } catch (e) {
      outcome = e instanceof PolicyRefusal ? e.rule : e instanceof AapsError ? e.code : String(e);
    }
    expect(outcome).toBe('unseal.replay');
  });
});
