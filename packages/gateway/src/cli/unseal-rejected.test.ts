/**
 * `aaps unseal` says which signed releases a field opened without. Before, a field that opened
 * from the others printed only its value: a party that signed a release that does not open, or a
 * share its sealer dealt off the polynomial, went unreported unless too few were left to open it.
 * Now each is one line (and `rejected` in `--json`); a share the sealer dealt off the polynomial
 * blames the sealer, not the party that released what it was given.
 */
import {
  open,
  releaseAad,
  type SealedField,
  seal,
  shareAad,
  shareCommitment,
  signRelease,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsealFixture } from './test-helpers/unseal-fixture.js';
import { runUnseal, type UnsealOptions } from './unseal.js';

const fx = unsealFixture('aaps-unseal-rejected-');
afterAll(fx.cleanup);
const { parties, config } = fx;
const approverX = x25519FromIdentityPublicKey(fx.approverPub);

const INCIDENT = 'inc-unseal-rejected';
const SECRET = 'canary-rejected-release-31';
let field: SealedField;

beforeAll(async () => {
  field = await fx.seal(INCIDENT, SECRET);
});

/** `field` with party `i`'s share replaced, commitment and all, by a point off the polynomial. */
function dealtOffPolynomial(i: number): SealedField {
  const p = parties[i]!;
  const secret = x25519FromIdentitySecretKey(p.key.secretKey);
  const real = open(secret, field.shares[i]!.box, shareAad(field, p.id));
  const bogus = Uint8Array.from(real);
  for (let b = 0; b < 32; b++) bogus[b]! ^= 0x5a;
  const shares = field.shares.map((s, j) =>
    j === i
      ? {
          party: s.party,
          commitment: shareCommitment(field, s.party, bogus),
          box: seal(p.x25519PublicKey, bogus, shareAad(field, s.party)),
        }
      : s,
  );
  return { ...field, shares };
}

/**
 * A gateway serving a bundle of `served` whose parties `honest` release their shares, signed, and
 * whose parties `broken` sign releases of their own that do not open.
 */
function gateway(served: SealedField, honest: number[], broken: number[]) {
  return fx.gateway(INCIDENT, served, (posted) => [
    ...honest.map((i) => fx.release(served, i, posted)),
    ...broken.map((i) => {
      const p = parties[i]!;
      const box = seal(approverX, new Uint8Array(33).fill(7), releaseAad(field, 'someone-else', approverX));
      return signRelease(posted, served, p.id, box, p.key.secretKey);
    }),
  ]);
}

const opts = (evidenceId: string, json = false): UnsealOptions => ({
  evidenceId,
  reason: 'rotate the database password',
  fields: [],
  json,
  trustServedRoot: true,
});

describe('aaps unseal names the signed releases a field opened without', () => {
  it("a party's own signed release that does not open: the field opens from the others and the party is named", async () => {
    const g = gateway(field, [0, 2, 3], [1]);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(0);
    expect(g.out).toEqual([
      `/spec/db: ${JSON.stringify({ password: SECRET })}`,
      "/spec/db: opened without p2's release (sealed-field.release: its release does not open)",
    ]);
    const j = gateway(field, [0, 2, 3], [1]);
    expect(await runUnseal(opts(j.evidenceId, true), config(), 't', j.io)).toBe(0);
    const answer = JSON.parse(j.out[0]!) as { rejected: unknown; unattributed: unknown };
    expect(answer.rejected).toEqual([{ field: field.id, party: 'p2', check: 'sealed-field.release' }]);
    expect(answer.unattributed).toEqual([]);
  });

  it('a share the sealer dealt off the polynomial: the field opens from the others and the sealer, not the party, is blamed', async () => {
    const swapped = dealtOffPolynomial(0);
    const g = gateway(swapped, [0, 1, 2, 3], []);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(0);
    expect(g.out).toEqual([
      `/spec/db: ${JSON.stringify({ password: SECRET })}`,
      "/spec/db: opened; p1's share does not lie with the others (sealed-field.share-inconsistent): whoever sealed the field dealt it so; p1 released the share the field commits to",
    ]);
    const j = gateway(swapped, [0, 1, 2, 3], []);
    expect(await runUnseal(opts(j.evidenceId, true), config(), 't', j.io)).toBe(0);
    expect((JSON.parse(j.out[0]!) as { rejected: unknown }).rejected).toEqual([
      { field: field.id, party: 'p1', check: 'sealed-field.share-inconsistent' },
    ]);
  });

  it('every release good: no such line, and `rejected` is empty', async () => {
    const g = gateway(field, [0, 1, 2], []);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(0);
    expect(g.out).toEqual([`/spec/db: ${JSON.stringify({ password: SECRET })}`]);
    const j = gateway(field, [0, 1, 2], []);
    expect(await runUnseal(opts(j.evidenceId, true), config(), 't', j.io)).toBe(0);
    expect((JSON.parse(j.out[0]!) as { rejected: unknown }).rejected).toEqual([]);
  });
});

describe('aaps unseal names the signed releases of a field that did not open (review of the 32nd session)', () => {
  it("a party's release that does not open, in a field whose value was tampered with: the party is named as well as the tampering", async () => {
    const ciphertext = Uint8Array.from(field.ciphertext);
    ciphertext[0]! ^= 1;
    const tampered: SealedField = { ...field, ciphertext };
    const g = gateway(tampered, [0, 2, 3], [1]);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(1);
    expect(
      g.out.some((l) => l.startsWith('/spec/db: not opened: ') && l.includes('sealed-field.ciphertext')),
    ).toBe(true);
    expect(g.out).toContain(
      "/spec/db: not opened, and p2's release was set aside (sealed-field.release: its release does not open)",
    );
    const j = gateway(tampered, [0, 2, 3], [1]);
    expect(await runUnseal(opts(j.evidenceId, true), config(), 't', j.io)).toBe(1);
    expect((JSON.parse(j.out[0]!) as { rejected: unknown }).rejected).toEqual([
      { field: field.id, party: 'p2', check: 'sealed-field.release' },
    ]);
  });

  it('too few usable releases: the QUORUM_UNREACHABLE line names the party, and `rejected` lists its release', async () => {
    const g = gateway(field, [0, 2], [1]);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(1);
    expect(g.out.filter((l) => l.includes('not opened'))).toHaveLength(1);
    expect(g.out.find((l) => l.includes('not opened'))).toContain('p2');
    const j = gateway(field, [0, 2], [1]);
    expect(await runUnseal(opts(j.evidenceId, true), config(), 't', j.io)).toBe(1);
    expect((JSON.parse(j.out[0]!) as { rejected: unknown }).rejected).toEqual([
      { field: field.id, party: 'p2', check: 'sealed-field.release' },
    ]);
  });
});
