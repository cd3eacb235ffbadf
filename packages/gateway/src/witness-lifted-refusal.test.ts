/**
 * Party error answers review (adversarial pass, O1), at the gateway: a party that refuses to
 * witness a checkpoint answers with its signed error answer (`response`) and its signed refusal
 * (`refusal`), each a `ProtocolResponse` answering this very request. Sent on alone with status
 * 200 by anything on the path, either passed for the party's success, and the coordinator said
 * the party witnessed the checkpoint (the checkpoint witness then counts it as holding it, never
 * shows it again, and logs no refusal: a fork alarm hidden). Real party apps in process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, type PartyStore } from '@aaps/agents';
import { getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { fiveParties, partyAppsWithKeys } from '../../agents/src/party/test-helpers/five-parties.js';
import { createHttpCoordinator } from './coordinator-http.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-witness-lifted-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A checkpoint note no group key signed: every keyed party refuses it (`checkpoint.signature`). */
const UNSIGNED_NOTE =
  'aaps.test/lifted\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— aaps.test/lifted AAAA\n';

/** The coordinator's answer when party 4's error answer to `checkpoint.witness` is cut down to `part` and sent with 200. */
async function witnessWithLifted(part: 'response' | 'refusal') {
  const set = fiveParties();
  const dealt = trustedDealer(suite, set.roster.threshold);
  const { apps } = await partyAppsWithKeys(set, () => dealt, { dir, stores });
  const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  const refused: string[] = [];
  const fetchTo: typeof fetch = async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const i = indexOf.get(url.origin)!;
    const res = await apps[i]!.app.request(url.pathname, init as RequestInit);
    if (i !== 4 || url.pathname !== '/v1/checkpoint/witness' || res.ok) return res;
    const json = (await res.json()) as Record<string, { refused?: unknown } | undefined> & {
      error?: { rule?: string };
    };
    refused.push(String(json.error?.rule));
    return Response.json(json[part], { status: 200 });
  };
  const coordinator = createHttpCoordinator({
    roster: set.roster,
    gatewayKey: set.gatewayKey,
    publicPackage: PublicKeyPackageCodec.toJSON(suite.id, dealt.publicPackage),
    logger: memoryLogger(),
    timeoutMs: 30_000,
    fetch: fetchTo,
  });
  const answer = await coordinator.witnessCheckpoint!(set.roster.parties[4]!.id, {
    note: UNSIGNED_NOTE,
    consistency: [],
  }).then(
    (a) => a.outcome as string,
    (e: unknown) => `failed: ${(e as { code?: string }).code}`,
  );
  return { answer, refused };
}

describe('a checkpoint a party refused to witness is not witnessed for its refusal sent on as a 200 answer', () => {
  it('its signed error answer (response) alone, with status 200', async () => {
    const { answer, refused } = await witnessWithLifted('response');
    expect(refused).toEqual(['checkpoint.signature']);
    expect(answer).not.toBe('witnessed');
  });

  it('its signed refusal (refusal) alone, with status 200', async () => {
    const { answer, refused } = await witnessWithLifted('refusal');
    expect(refused).toEqual(['checkpoint.signature']);
    expect(answer).not.toBe('witnessed');
  });
});
