/**
 * Party error answers review (from the key-repair review): a party's successful answers are signed
 * and bound to the request, its error answers were not, so anything on the path between gateway
 * and party could forge one. Forging a party's `NO_KEY` answer to `key.info` made a party holding
 * another group key look keyless: the gateway's repair then skipped its "holds another group key"
 * refusal and repaired over that key, protected only by the party's own `allow_key_replace`.
 * Real party apps on loopback ports, reached over HTTP by the gateway's client; party 4's port is
 * an intercepting proxy that answers `key.info` with a forged `NO_KEY` and forwards the rest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartyClient, type PartyStore } from '@aaps/agents';
import { bytesToHex, getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type LoopbackServer,
  loopbackParties,
  saveDealtKey,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { repairParties } from './key-repair.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-forged-keyless-'));
const stores: PartyStore[] = [];
const servers: LoopbackServer[] = [];

afterAll(async () => {
  for (const s of servers) {
    (s as unknown as { closeAllConnections(): void }).closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a forged NO_KEY answer on the path to a party holding another group key', () => {
  it('the repair does not take the party for keyless: its key is not repaired over, even with allow_key_replace on', async () => {
    let ours: ReturnType<typeof trustedDealer> | undefined;
    let other: ReturnType<typeof trustedDealer> | undefined;
    const { set, apps, handlers } = await loopbackParties({
      dir,
      stores,
      servers,
      prepare: async (d, i, s) => {
        ours ??= trustedDealer(suite, s.roster.threshold);
        other ??= trustedDealer(suite, s.roster.threshold);
        // Parties 0-3 hold the gateway's key; party 4 another group key, and allows replacing it.
        await saveDealtKey(d.store, s, i === 4 ? other : ours, i);
        if (i === 4) (d.config as { allowKeyReplace: boolean }).allowKeyReplace = true;
      },
    });
    let forged = 0;
    for (let i = 0; i < 5; i++) {
      handlers[i] = async (req) => {
        if (i === 4 && new URL(req.url).pathname === '/v1/key/info') {
          forged++;
          // What a party with no key answers, as its JSON body says it; not the party's answer.
          return Response.json(
            { error: { code: 'NO_KEY', message: 'this party holds no key yet' } },
            { status: 409 },
          );
        }
        return apps[i]!.app.fetch(req);
      };
    }
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      timeoutMs: 30_000,
    });
    const ids = set.roster.parties.map((p) => p.id);
    const said: string[] = [];
    const out = await repairParties({
      client,
      roster: set.roster,
      publicPackage: PublicKeyPackageCodec.toJSON(suite.id, ours!.publicPackage),
      groupKey: bytesToHex(ours!.publicPackage.groupPublicKey),
      session: 'forged-keyless',
      say: (l) => said.push(l),
    });
    expect(forged).toBeGreaterThan(0);
    const why = `${JSON.stringify(out)}\n${said.join('\n')}`;
    expect(out.repaired, why).not.toContain(ids[4]);
    expect(said.join('\n'), why).not.toContain(`${ids[4]} holds no key`);
    // Party 4 still holds its own group key.
    expect(bytesToHex(apps[4]!.state.key!.publicPackage.groupPublicKey)).toBe(
      bytesToHex(other!.publicPackage.groupPublicKey),
    );
    expect(bytesToHex((await stores[4]!.loadKey())!.publicPackage.groupPublicKey)).toBe(
      bytesToHex(other!.publicPackage.groupPublicKey),
    );
  }, 60_000);
});
