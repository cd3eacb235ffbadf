/**
 * Round one riding on round two over HTTP (`httpSigningTransport`): fresh commitments a party
 * answers beside its share that do not decode are that party's proven misbehaviour (its answer is
 * signed), named as the session names unsound ones, not taken for a transport failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint, MemoryMerkleTree } from '@aaps/evidence';
import {
  bytesToHex,
  type Envelope,
  getCiphersuite,
  type KeyPackage,
  type PublicKeyPackage,
  SigningSession,
  signEnvelope,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartyClient } from './client.js';
import { httpSigningTransport, type SignSubject } from './coordinate.js';
import type { PartyApp } from './party/app.js';
import { dealtPartyApps, type FiveParties } from './party/test-helpers/five-parties.js';
import type { PartyStore } from './store/level.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const ORIGIN = 'aaps.test/replenish';
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
let dealt: { keyPackages: readonly KeyPackage[]; publicPackage: PublicKeyPackage };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-replenish-http-'));
  ({ set, apps, dealt } = await dealtPartyApps({ dir, stores }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** The gateway's client; party `bad`'s round-two answers carry `commitments` that are no batch, signed by it. */
function clientWithBadFresh(bad: number): PartyClient {
  const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  return new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    fetch: async (input, init) => {
      const url = new URL(String(input));
      const i = indexOf.get(url.origin)!;
      const res = await apps[i]!.app.request(url.pathname, init);
      if (i !== bad || url.pathname !== '/v1/sign/round2' || !res.ok) return res;
      const env = (await res.json()) as Envelope<{ body: Record<string, unknown> }>;
      const { signature: _, ...meta } = env.meta as Envelope['meta'] & { signature?: string };
      const body = { ...env.payload.body, commitments: { v: 1, commitments: 'not a batch' } };
      const tampered = { ...env, meta, payload: { ...env.payload, body } };
      return new Response(JSON.stringify(signEnvelope(tampered, set.keys[bad]!.secretKey)), {
        headers: { 'content-type': 'application/json' },
      });
    },
  });
}

describe('httpSigningTransport with replenishment', () => {
  it('names a party whose fresh commitments do not decode as misbehaving, and signs with the others', async () => {
    const t = new MemoryMerkleTree();
    for (let i = 0; i < 3; i++) t.append(new TextEncoder().encode(`leaf-${i}`));
    const subject: SignSubject = {
      kind: 'checkpoint',
      origin: ORIGIN,
      tree_size: 3,
      root_hash: bytesToHex(t.root(3)),
    };
    const text = formatCheckpoint({ origin: ORIGIN, size: 3, rootHash: t.root(3), extensions: [] });
    const session = new SigningSession<SignSubject>({
      suite,
      publicPackage: dealt.publicPackage,
      transport: httpSigningTransport(clientWithBadFresh(0), suite, 'trace-replenish'),
      batchSize: 4,
    });
    const r = await session.sign({ payload: subject, messageFor: () => new TextEncoder().encode(text) });
    const bad = dealt.keyPackages[0]!.identifier;
    expect(r.signers).not.toContain(bad);
    expect(r.misbehaved).toEqual([expect.objectContaining({ party: bad, round: 1 })]);
    expect(r.misbehaved[0]!.detail).toMatch(/^with its share: /);
    expect(r.failed.map((f) => f.party)).not.toContain(bad);
    expect(session.pooled(bad)).toBe(0);
  });
});
