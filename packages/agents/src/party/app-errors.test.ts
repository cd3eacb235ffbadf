/** An unexpected failure in a party is logged by its name and codes, never its message. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { callSigner } from '../call-auth.js';
import { PartyClient } from '../client.js';
import { memoryLogger } from '../logger.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp } from './app.js';
import { fiveParties, partyDeps, saveDealtKey } from './test-helpers/five-parties.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-party-errors-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a party whose disk is full', () => {
  it('answers INTERNAL and logs request.failed with the I/O codes, not the message', async () => {
    const set = fiveParties();
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const deps = await partyDeps(set, 0, { dir, stores });
    const dealt = trustedDealer(suite, set.roster.threshold);
    await saveDealtKey(deps.store, set, dealt, 0);
    const logger = memoryLogger('party');
    const full = Object.assign(new Error('IO error: /data/nonces-secret-path: No space left on device'), {
      code: 'LEVEL_IO_ERROR',
      cause: Object.assign(new Error('No space left on device'), { code: 'ENOSPC' }),
    });
    const store = new Proxy(deps.store, {
      get(target, prop) {
        if (prop === 'save') return async () => Promise.reject(full);
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const party = await createPartyApp({ ...deps, store, logger });
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      fetch: (input, init) => Promise.resolve(party.app.request(new URL(String(input)).pathname, init)),
    });
    const e = await client
      .call(set.roster.parties[0]!.id, 'sign.commit', 'full-1', { count: 1 })
      .catch((x) => x);
    expect((e as { code?: string }).code).toBe('INTERNAL');
    const failed = logger.lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'request.failed');
    expect(failed).toEqual([
      expect.objectContaining({
        kind: 'sign.commit',
        error: 'Error',
        code: 'LEVEL_IO_ERROR',
        cause_code: 'ENOSPC',
      }),
    ]);
    expect(logger.lines.join('\n')).not.toContain('nonces-secret-path');
  });
});

describe('a request whose body its sender cuts off', () => {
  it('answers 400 BODY_ABORTED and logs a rejection, not request.failed', async () => {
    const set = fiveParties();
    const deps = await partyDeps(set, 0, { dir, stores });
    const logger = memoryLogger('party');
    const party = await createPartyApp({ ...deps, logger });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"meta":'));
        setTimeout(() => c.error(new Error('connection reset')), 10);
      },
    });
    const res = await party.app.request('/v1/sign/commit', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'aaps-call': callSigner({ id: set.roster.gateway.id, key: set.gatewayKey }, set.roster.parties).sign(
          set.roster.parties[0]!.id,
          { path: '/v1/sign/commit', length: 100 },
        ),
      },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'BODY_ABORTED' } });
    const events = logger.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toContainEqual(
      expect.objectContaining({ level: 'warn', event: 'request.rejected', reason: 'aborted' }),
    );
    expect(events.filter((e) => e['level'] === 'error')).toEqual([]);
  });
});

/**
 * A party reads identity-coded UTF-8 JSON only, as the gateway does: a gzipped body or one in
 * another charset is 415 before a byte is read (not "invalid JSON", and not taken as plain JSON
 * with its label ignored), and a request the party would otherwise take still answers 200.
 */
describe('a request whose media type or coding the party does not read', () => {
  it('answers 415 naming the label, with Accept-Encoding for a coding', async () => {
    const set = fiveParties();
    const deps = await partyDeps(set, 0, { dir, stores });
    const logger = memoryLogger('party');
    const party = await createPartyApp({ ...deps, logger });
    // Sent as the coordinator sends (its call header), so only the media type is at fault.
    const post = (headers: Record<string, string>) =>
      party.app.request('/v1/sign/commit', {
        method: 'POST',
        headers: {
          ...callSigner({ id: set.roster.gateway.id, key: set.gatewayKey }, set.roster.parties).headers(
            set.roster.parties[0]!.id,
            '/v1/sign/commit',
            '{}',
          ),
          ...headers,
        },
        body: '{}',
      });
    const cases: [Record<string, string>, string, string][] = [
      [{ 'content-type': 'text/plain' }, 'content_type', 'application/json'],
      [{ 'content-type': 'application/json-seq' }, 'content_type', 'application/json'],
      [{ 'content-type': 'application/json; charset=utf-16le' }, 'content_charset', 'charset=utf-16le'],
      [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'content_coding', 'gzip'],
    ];
    for (const [headers, reason, says] of cases) {
      const res = await post(headers);
      expect(res.status, reason).toBe(415);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(body.error.message).toContain(says);
      expect(res.headers.get('accept-encoding')).toBe(reason === 'content_coding' ? 'identity' : null);
    }
    const reasons = logger.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['event'] === 'request.rejected')
      .map((e) => e['reason']);
    // The second content_type refusal within the minute is counted, not logged (rejection-log.ts).
    expect(reasons).toEqual(['content_type', 'content_charset', 'content_coding']);
    // Labels the rule accepts get past it (to the envelope check, which refuses `{}` with 400).
    for (const type of ['application/json', 'application/json; charset=UTF-8']) {
      const res = await post({ 'content-type': type, 'content-encoding': 'identity' });
      expect(res.status, type).toBe(400);
    }
  });
});
