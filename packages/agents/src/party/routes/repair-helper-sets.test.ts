/**
 * A repair's helper set is one set: a coordinator that names each helper a different helper set
 * (each containing the peers it relays deltas between) makes every helper weight its share by a
 * Lagrange coefficient over another set, so the sigmas no longer sum to the lost party's share
 * f(x_lost) but to another linear combination of the helpers' shares. With the repaired party and
 * one more party (k - 1 = 2 of a 3-of-5 key) that combination and their own two points give the
 * whole polynomial: the group secret. Driven in process against five party apps on LevelDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getCiphersuite,
  identifierFromNumber,
  identifierToScalar,
  open,
  RepairSigmaCodec,
  SealedBoxCodec,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicPackageDigest } from '../../key-digest.js';
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
import { relayAad } from './sealed.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const F = suite.field;
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
let dealt: Awaited<ReturnType<typeof dealtPartyApps>>['dealt'];
let pkgDigest: string;
const id = (i: number) => set.roster.parties[i]!.id;
const xOf = (i: number) => identifierToScalar(suite, identifierFromNumber(suite, i + 1));

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

/** Lagrange basis polynomial of `xi` over `xs`, evaluated at `at`. */
function basis(xs: readonly bigint[], xi: bigint, at: bigint): bigint {
  let num = 1n;
  let den = 1n;
  for (const x of xs) {
    if (x === xi) continue;
    num = F.mul(num, F.sub(at, x));
    den = F.mul(den, F.sub(xi, x));
  }
  return F.mul(num, F.inv(den));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-repair-sets-'));
  ({ set, apps, dealt } = await dealtPartyApps({ dir, stores }));
  pkgDigest = publicPackageDigest(suite.id, dealt.publicPackage);
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('repair: one helper set for all helpers', () => {
  it('helpers named different helper sets give the repaired party and one helper no group secret', async () => {
    // Party 4 is "lost" and colludes with helper 3: k - 1 = 2 parties of the 3-of-5 key.
    const LOST = 4;
    const COLLUDER = 3;
    // A 4-cycle 0-1-2-3: each helper's set is itself and its two neighbours, so every helper
    // receives a delta from exactly the peers its set names, and every step 2 goes through.
    const sets: Record<number, number[]> = { 0: [0, 1, 3], 1: [0, 1, 2], 2: [1, 2, 3], 3: [0, 2, 3] };
    const session = 'mixed-sets';
    const helpers = Object.keys(sets).map(Number);
    // What the coordinator tells helper h, at every step: its own set.
    const told = (h: number) => ({ helpers: sets[h]!.map(id), lost: id(LOST), package_digest: pkgDigest });
    const step1 = new Map<number, PartyAnswer>();
    for (const h of helpers) {
      step1.set(h, await call(h, 'repair.step1', session, told(h)));
      expect(step1.get(h)!.status, `step 1 at ${h}`).toBe(200);
    }
    const inbox = (h: number): Item[] =>
      helpers.flatMap((from) =>
        ((step1.get(from)!.body.sealed as Item[]) ?? [])
          .filter((x) => x.party === id(h))
          .map((x) => ({ party: id(from), box: x.box, sig: x.sig })),
      );
    const step2 = new Map<number, PartyAnswer>();
    for (const h of helpers) {
      step2.set(h, await call(h, 'repair.step2', session, { ...told(h), sealed: inbox(h) }));
    }
    const sigmas = helpers.filter((h) => step2.get(h)!.status === 200);
    if (sigmas.length === helpers.length) {
      // What the lost party opens: the sum of every sigma is sum_h zeta_h(set_h) * s_h.
      const mine = x25519FromIdentitySecretKey(set.keys[LOST]!.secretKey);
      let Z = 0n;
      for (const h of helpers) {
        const item = step2.get(h)!.body.sealed as Item;
        const aad = relayAad(`repair-sigma@${pkgDigest}`, session, id(h), id(LOST), rosterDigest(set.roster));
        const plain = open(mine, SealedBoxCodec.fromJSON(item.box, suite.id).value, aad);
        Z = F.add(Z, F.fromBytes(RepairSigmaCodec.decode(plain, suite.id).value.sigma.expose()));
      }
      // Write each honest share as S*L0(x) + s3*L3(x) + s4*L4(x) over the points {0, x3, x4}.
      const share = (i: number) => F.fromBytes(dealt.keyPackages[i]!.signingShare.expose());
      const known = [0n, xOf(COLLUDER), xOf(LOST)];
      let rest = Z;
      let coefS = 0n;
      for (const h of helpers) {
        const zeta = basis(sets[h]!.map(xOf), xOf(h), xOf(LOST));
        if (h === COLLUDER) {
          rest = F.sub(rest, F.mul(zeta, share(COLLUDER)));
          continue;
        }
        coefS = F.add(coefS, F.mul(zeta, basis(known, 0n, xOf(h))));
        rest = F.sub(rest, F.mul(zeta, F.mul(share(COLLUDER), basis(known, xOf(COLLUDER), xOf(h)))));
        rest = F.sub(rest, F.mul(zeta, F.mul(share(LOST), basis(known, xOf(LOST), xOf(h)))));
      }
      const S = F.mul(rest, F.inv(coefS));
      const groupKey = suite.group.deserialize(dealt.publicPackage.groupPublicKey);
      expect(
        suite.group.equals(suite.group.mulBase(S), groupKey),
        'the lost party and one helper rebuilt the group secret from the sigmas',
      ).toBe(false);
    }
    // No helper combines deltas made for another helper set than its own.
    expect(sigmas, 'helpers that answered step 2').toEqual([]);
  });
});
