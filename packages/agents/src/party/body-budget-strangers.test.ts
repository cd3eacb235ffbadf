/**
 * A party against strangers: only its coordinator may call it, and a party knows a call is the
 * coordinator's from its `AAPS-Call` header (call-auth.ts) before it reads a byte of the body. So
 * connections from anyone who can reach its port, declaring bodies and stalling, hold none of its
 * body budget; garbage bodies are not parsed; and refusals are counted each but logged coalesced
 * per reason, so unauthenticated noise grows neither its memory nor its log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from '../client.js';
import type { PartyStore } from '../store/level.js';
import { type LoopbackServer, loopbackParties, saveDealtKey } from './test-helpers/five-parties.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-budget-strangers-'));
const stores: PartyStore[] = [];
const servers: LoopbackServer[] = [];
const sockets: Socket[] = [];

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) {
    (s as unknown as { closeAllConnections(): void }).closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection that sends a request's headers, declaring a 1 MiB body, and one byte of it. */
function stalledBody(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        'POST /v1/key/info HTTP/1.1\r\nhost: party\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n{',
        () => resolve(),
      );
    });
    s.on('error', () => resolve());
    sockets.push(s);
  });
}

describe("a party's body budget against strangers' stalled bodies", () => {
  it("the coordinator's call is answered while 140 unauthenticated connections have each sent a request's headers and one byte", async () => {
    let dealt: ReturnType<typeof trustedDealer> | undefined;
    const { set, apps, handlers } = await loopbackParties({
      dir,
      stores,
      servers,
      prepare: async (d, i, s) => {
        dealt ??= trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), s.roster.threshold);
        await saveDealtKey(d.store, s, dealt, i);
      },
    });
    for (let i = 0; i < 5; i++) handlers[i] = (req) => Promise.resolve(apps[i]!.app.fetch(req));
    const party = set.roster.parties[0]!;
    const client = new PartyClient({ roster: set.roster, caller: { id: 'gateway', key: set.gatewayKey } });
    // Answered before.
    await expect(client.call(party.id, 'key.info', 'before', {})).resolves.toHaveProperty('group_public_key');
    const port = Number(new URL(party.url).port);
    for (let i = 0; i < 140; i++) await stalledBody(port);
    await new Promise((r) => setTimeout(r, 300));
    const outcome = await client.call(party.id, 'key.info', 'during', {}).then(
      () => 'answered',
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );
    // Before the call header, each stranger held 64 KiB of the 8 MiB budget: "UNAVAILABLE: ...
    // too many request bodies are being read; retry".
    expect(outcome).toBe('answered');
  }, 60_000);
});
