/**
 * `aaps unseal` against a compromised gateway that swaps an honest party's release for a box of its
 * own, sealed to the approver with the right associated data (sealing review M1). Each release now
 * carries its party's signature for the request, checked against the roster in the bundle: the
 * forgery is set aside and reported, and the honest party is never named as a culprit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTrustedRoot } from '@aaps/evidence';
import {
  generateIdentityKey,
  releaseAad,
  type SealedField,
  seal,
  signRelease,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealedFieldsBundle } from './test-helpers/evidence-bundle.js';
import { unsealFixture } from './test-helpers/unseal-fixture.js';
import { runUnseal, type UnsealOptions } from './unseal.js';
import { UsageError } from './usage-error.js';

const fx = unsealFixture('aaps-unseal-sig-');
afterAll(fx.cleanup);
const { dir, parties, config } = fx;
const approverX = x25519FromIdentityPublicKey(fx.approverPub);

const INCIDENT = 'inc-unseal-sig';
const SECRET = 'canary-release-signature-77';
let field: SealedField;

beforeAll(async () => {
  field = await fx.seal(INCIDENT, SECRET);
});

/**
 * A gateway whose parties `honest` release their shares, signed, and which puts a box of its own
 * in the name of each of `framed` (unsigned by them: signed with a key of its own).
 */
function gateway(honest: number[], framed: number[]) {
  const own = generateIdentityKey();
  return fx.gateway(INCIDENT, field, (posted) => [
    ...framed.map((i) => {
      const p = parties[i]!;
      const box = seal(approverX, new Uint8Array(33).fill(9), releaseAad(field, p.id, approverX));
      return signRelease(posted, field, p.id, box, own.secretKey);
    }),
    ...honest.map((i) => fx.release(field, i, posted)),
  ]);
}

const opts = (evidenceId: string, json = false): UnsealOptions => ({
  evidenceId,
  reason: 'rotate the database password',
  fields: [],
  json,
  trustServedRoot: true,
});

describe('aaps unseal and releases the gateway made up', () => {
  it('with too few signed releases, names no culprit and says which releases were set aside', async () => {
    const g = gateway([0, 2], [1]);
    expect(await runUnseal(opts(g.evidenceId), config(), 't', g.io)).toBe(1);
    expect(g.out).toEqual([
      "set aside 1 release(s) without their party's signature for this request and this field as logged (p2): whoever relayed them made them, or showed the party another field; no party is blamed for them",
      '/spec/db: not opened: QUORUM_UNREACHABLE',
    ]);
    expect(g.out.join('\n')).not.toContain('culprits');
  });

  it('opens the field from k signed releases and lists the forged one in --json', async () => {
    const g = gateway([0, 2, 3], [1]);
    expect(await runUnseal(opts(g.evidenceId, true), config(), 't', g.io)).toBe(0);
    const answer = JSON.parse(g.out[0]!) as { values: Record<string, unknown>; unattributed: unknown[] };
    expect(answer.values).toEqual({ '/spec/db': { password: SECRET } });
    expect(answer.unattributed).toEqual([{ field: field.id, party: 'p2' }]);
  });

  it('a release in the name of a party the bundle’s roster does not list is set aside', async () => {
    const g = gateway([0, 1, 2], []);
    // The same gateway, serving a bundle whose roster lists only p1 and p2.
    const { bundle, evidenceId } = sealedFieldsBundle(
      INCIDENT,
      [field],
      parties.slice(0, 2).map((p) => ({ id: p.id, identityKey: p.key.publicKey })),
    );
    const fetch = g.io.fetch;
    g.io.fetch = (async (url: string | URL | Request, init?: RequestInit) =>
      init?.method === 'POST' ? fetch(url, init) : Response.json(bundle)) as typeof globalThis.fetch;
    expect(await runUnseal(opts(evidenceId), config(), 't', g.io)).toBe(1);
    expect(g.out[0]).toContain(
      "set aside 1 release(s) without their party's signature for this request and this field as logged (p3)",
    );
  });
});

describe('aaps unseal --trusted-root', () => {
  /** A trusted root the approver keeps, for a group key the served bundle was not signed with. */
  function trustedRootFile(): string {
    const group = generateIdentityKey();
    const root = buildTrustedRoot({
      groupPublicKey: group.publicKey,
      threshold: { min: 3, max: 5 },
      logKey: { name: 'aaps.test/log', type: 'ed25519', publicKey: group.publicKey },
      origin: 'aaps.test/log',
      validFrom: '2026-01-01T00:00:00Z',
    });
    const file = join(dir, `root-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(root), { mode: 0o600 });
    return file;
  }

  it('a bundle that does not verify under it is refused before anything is signed or posted', async () => {
    const g = gateway([0, 2, 3], []);
    let posts = 0;
    const fetch = g.io.fetch;
    g.io.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
      if (init?.method === 'POST') posts++;
      return fetch(url, init);
    }) as typeof globalThis.fetch;
    const code = await runUnseal(
      { ...opts(g.evidenceId), trustServedRoot: false, trustedRoot: trustedRootFile() },
      config(),
      't',
      g.io,
    );
    expect(code).toBe(1);
    expect(posts).toBe(0);
    expect(g.err).toHaveLength(1);
    expect(g.err[0]).toMatch(
      new RegExp(
        `^aaps: not signed: the bundle the gateway served for ${g.evidenceId} does not verify under the trusted root \\(`,
      ),
    );
  });

  it('a file that is no trusted root is a usage error, before the gateway is asked', async () => {
    const g = gateway([0, 2, 3], []);
    const bad = join(dir, 'not-a-root.json');
    writeFileSync(bad, '{"mediaType": "nope"}', { mode: 0o600 });
    await expect(
      runUnseal({ ...opts(g.evidenceId), trustServedRoot: false, trustedRoot: bad }, config(), 't', g.io),
    ).rejects.toThrow(/^unseal: --trusted-root .*not-a-root\.json: malformed trusted root: mediaType/);
    await expect(
      runUnseal(
        { ...opts(g.evidenceId), trustServedRoot: false, trustedRoot: join(dir, 'missing.json') },
        config(),
        't',
        g.io,
      ),
    ).rejects.toThrow(UsageError);
    expect(g.out).toEqual([]);
  });
});
