/**
 * Who a refresh's round 3 names. A round-2 box is signed by its sender, but the package inside
 * carries its own `sender` field: a malicious participant can seal, under its own signature, a
 * package that says it is from an honest peer. Relayed in place of that peer's box (a coordinator
 * colluding with it), the receiver's round 3 must name the party that signed the box, never the
 * honest peer whose name the package borrowed. Driven in process against five party apps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getCiphersuite,
  hexToBytes,
  identifierFromNumber,
  RefreshRound2PackageCodec,
  SealedBoxCodec,
  SecretBytes,
  seal,
  signBytes,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rosterDigest } from '../../roster.js';
import type { RpcKind } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import type { PartyApp } from '../app.js';
import {
  coordinatorCall,
  dealtPartyApps,
  type FiveParties,
  type PartyAnswer,
} from '../test-helpers/five-parties.js';
import { relayAad, relaySigningBytes, round1Digest } from './sealed.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
const id = (i: number) => set.roster.parties[i]!.id;
const fid = (i: number) => identifierFromNumber(suite, i + 1);

interface Item {
  party: string;
  box: unknown;
  sig: string;
}

/** A call to party `i` as the coordinator makes it. */
const call = (
  i: number,
  kind: RpcKind,
  session: string,
  body: Record<string, unknown>,
): Promise<PartyAnswer> => coordinatorCall(set, apps, i, kind, session, body);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-refresh-blame-'));
  ({ set, apps } = await dealtPartyApps({ dir, stores }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('refresh round 3 names the signer of a bad box', () => {
  it("a package sealed by one party under an honest peer's name blames its signer, not the peer", async () => {
    const session = 'borrowed-name';
    const RECEIVER = 0;
    const HONEST = 1;
    const CHEAT = 4;
    const all = [0, 1, 2, 3, 4];
    const round1 = await Promise.all(all.map((i) => call(i, 'refresh.round1', session, {})));
    for (const r of round1) expect(r.status).toBe(200);
    const signed = round1.map((r) => r.body);
    const round2 = await Promise.all(
      all.map((i) => call(i, 'refresh.round2', session, { round1_packages: signed })),
    );
    for (const r of round2) expect(r.status).toBe(200);
    const boxTo = (from: number, to: number): Item => {
      const x = (round2[from]!.body.sealed as Item[]).find((b) => b.party === id(to))!;
      return { party: id(from), box: x.box, sig: x.sig };
    };
    // The cheat's second box to the receiver: signed and bound like its real one, but the
    // package inside says it comes from the honest peer, with a share of nothing.
    const receiver = set.roster.parties[RECEIVER]!;
    const aad = relayAad(
      'refresh',
      session,
      id(CHEAT),
      receiver.id,
      rosterDigest(set.roster),
      round1Digest(signed[CHEAT]!.package),
    );
    const box = seal(
      x25519FromIdentityPublicKey(hexToBytes(receiver.identity_key)),
      RefreshRound2PackageCodec.encode(suite.id, {
        sender: fid(HONEST),
        receiver: fid(RECEIVER),
        zeroShare: new SecretBytes(suite.field.toBytes(12345n)),
      }),
      aad,
    );
    const forged: Item = {
      party: id(CHEAT),
      box: SealedBoxCodec.toJSON(suite.id, box),
      sig: Buffer.from(
        signBytes(set.keys[CHEAT]!.secretKey, relaySigningBytes(aad, SealedBoxCodec.encode(suite.id, box))),
      ).toString('base64'),
    };
    // The honest peer's real box is left out; everyone else's real box goes in.
    const sealed = [forged, boxTo(CHEAT, RECEIVER), boxTo(2, RECEIVER), boxTo(3, RECEIVER)];
    const r = await call(RECEIVER, 'refresh.round3', session, { round1_packages: signed, sealed });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.error?.culprits ?? [], 'the culprits round 3 names').not.toContain(fid(HONEST));
    expect(r.error?.culprits ?? []).toContain(fid(CHEAT));
  });
});
