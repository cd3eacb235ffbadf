/**
 * A party refuses a request body with a key given twice in one object, before it checks the
 * signature or remembers the idempotency key: `JSON.parse` keeps the last and other parsers the
 * first, so the coordinator's signed request could mean another thing to another reader. Each
 * body below puts a decoy first and the real value last, so what `JSON.parse` keeps is a request
 * the party would take (it verifies); the party answers 400 `DECODE_FAILED` naming the key's path,
 * and remembers nothing (the same request sent cleanly is then taken).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { callSigner } from '../call-auth.js';
import { memoryLogger } from '../logger.js';
import { makeRequest, type RpcKind } from '../rpc.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp } from './app.js';
import { expectDuplicateRefused, injectKey } from './test-helpers/duplicate-key.js';
import { fiveParties, partyDeps, saveDealtKey } from './test-helpers/five-parties.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-party-dupkeys-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function partyWithKey() {
  const set = fiveParties();
  const deps = await partyDeps(set, 0, { dir, stores });
  await saveDealtKey(
    deps.store,
    set,
    trustedDealer(getCiphersuite(set.roster.ciphersuite), set.roster.threshold),
    0,
  );
  const logger = memoryLogger('party');
  const party = await createPartyApp({ ...deps, logger });
  const target = set.roster.parties[0]!.id;
  const gateway = { id: set.roster.gateway.id, key: set.gatewayKey };
  const calls = callSigner(gateway, set.roster.parties);
  /** The coordinator's request for `kind` as JSON text, as its client sends it. */
  const text = (kind: RpcKind, session: string, body: Record<string, unknown>) =>
    JSON.stringify(makeRequest(gateway, target, kind, session, body, { trace_id: `t-${session}` }));
  const post = (path: string, body: string) =>
    Promise.resolve(
      party.app.request(path, { method: 'POST', headers: calls.headers(target, path, body), body }),
    );
  const rejections = () =>
    logger.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['event'] === 'request.rejected')
      .map((e) => e['reason']);
  return { text, post, rejections };
}

describe('a party request with a duplicate key', () => {
  it('a single call (/v1/sign/commit): 400 naming the key, nothing remembered', async () => {
    const p = await partyWithKey();
    const clean = p.text('sign.commit', 'dup-1', { count: 1 });
    const twice = injectKey(clean, '"body":{', '"count":64,');
    await expectDuplicateRefused(await p.post('/v1/sign/commit', twice), 'payload.body.count');
    expect(p.rejections()).toEqual(['duplicate_key']);
    // The idempotency key was not remembered: the same request, sent cleanly, is taken.
    expect((await p.post('/v1/sign/commit', clean)).status).toBe(200);
  });

  it('a batch (/v1/batch): 400 naming the key inside the call, nothing remembered', async () => {
    const p = await partyWithKey();
    const clean = p.text('batch', 'dup-2', {
      calls: [
        { kind: 'sign.commit', session_id: 'dup-2a', ctx: { trace_id: 't-dup-2a' }, body: { count: 1 } },
      ],
    });
    const twice = injectKey(clean, '"calls":[{', '"kind":"agent.step",');
    await expectDuplicateRefused(await p.post('/v1/batch', twice), 'payload.body.calls.0.kind');
    expect((await p.post('/v1/batch', clean)).status).toBe(200);
  });

  it('a duplicate in the envelope itself (meta.signature): 400 before the signature is checked', async () => {
    const p = await partyWithKey();
    const clean = p.text('sign.commit', 'dup-3', { count: 1 });
    // A reader that keeps the first signature sees another one than the one that verifies here.
    const twice = injectKey(clean, '"meta":{', `"signature":"ed25519:${'A'.repeat(86)}==",`);
    await expectDuplicateRefused(await p.post('/v1/sign/commit', twice), 'meta.signature');
    expect((await p.post('/v1/sign/commit', clean)).status).toBe(200);
  });

  it('a key holding control or bidirectional characters: named escaped, never raw (the message is logged and shown)', async () => {
    const p = await partyWithKey();
    const clean = p.text('sign.commit', 'dup-4', { count: 1 });
    const key = '\\u001b[31m\\u202ex';
    const twice = injectKey(clean, '"body":{', `"${key}":1,"${key}":2,`);
    await expectDuplicateRefused(await p.post('/v1/sign/commit', twice), 'payload.body.\\u001b[31m\\u202ex');
  });
});
