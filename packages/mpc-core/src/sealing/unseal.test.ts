import { randomBytes } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../bytes.js';
import { canonicalize } from '../envelope/canonical.js';
import { ProtocolError, ValidationError, VerificationError } from '../errors.js';
import { open, seal } from '../seal.js';
import { detectSensitivePaths, MAX_PAYLOAD_DEPTH } from './detect.js';
import { authenticateReleases, releaseSignedBy, signRelease } from './release-signature.js';
import {
  detectAndSeal,
  fieldAad,
  type SealedField,
  sealedMarkers,
  sealPayload,
  sealValue,
  shareAad,
  shareCommitment,
  valueCommitment,
} from './seal-field.js';
import type { ReleasedShare } from './sealed-field-codec.js';
import { makeParties, type TestParty } from './test-helpers/parties.js';
import { k8sSecret } from './test-helpers/payloads.js';
import { combineReleased, fillSealedValues, openFields, releaseAad, releaseShare } from './unseal.js';

const INCIDENT = 'inc-2026-11-25-0042';
const parties = makeParties(5);
const [requester, other] = makeParties(2, 'approver');
const VALUE = { password: 'CANARY-unseal-value-91', user: 'payments' };

async function sealed(): Promise<SealedField> {
  return sealValue(VALUE, '/spec/db', { incidentId: INCIDENT, parties, threshold: 3 });
}

/** The unseal request the releases in these tests answer. */
const CTX = { requestId: 'ur-test-1', incidentId: INCIDENT, requester: 'approver-1' };
const partyKeys = new Map(parties.map((p) => [p.id, p.identity.publicKey]));

function release(field: SealedField, p: TestParty, to: TestParty = requester!): ReleasedShare {
  const box = releaseShare(field, p.id, p.secret, to.x25519PublicKey, { incidentId: INCIDENT });
  return signRelease(CTX, field, p.id, box, p.identity.secretKey);
}

/** A release of a share that is not `p`'s (well sealed to the requester), signed by `p` itself. */
function signedWrongShare(field: SealedField, p: TestParty): ReleasedShare {
  const box = seal(
    requester!.x25519PublicKey,
    new Uint8Array(33).fill(7),
    releaseAad(field, p.id, requester!.x25519PublicKey),
  );
  return signRelease(CTX, field, p.id, box, p.identity.secretKey);
}

async function expectError<E>(
  p: Promise<unknown> | (() => unknown),
  cls: new (...a: never[]) => E,
): Promise<E> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return e as E;
  }
  return expect.unreachable('expected an error') as never;
}

const flip = (b: Uint8Array, i = 0) => {
  const c = Uint8Array.from(b);
  c[i % c.length]! ^= 1;
  return c;
};

describe('unsealing k of n', () => {
  it('any k releases open the value; the commitment checks it', async () => {
    const field = await sealed();
    for (const pick of [
      [0, 1, 2],
      [2, 3, 4],
      [0, 2, 4],
    ]) {
      const out = await combineReleased(
        field,
        pick.map((i) => release(field, parties[i]!)),
        requester!.secret,
      );
      expect(out.value).toEqual(VALUE);
      expect(canonicalize(JSON.parse(new TextDecoder().decode(out.plaintext)))).toBe(canonicalize(VALUE));
      expect(out.parties).toEqual(pick.map((i) => parties[i]!.id));
      expect(out.rejected).toEqual([]);
    }
  });

  it('fewer than k releases unseal nothing', async () => {
    const field = await sealed();
    for (const n of [0, 1, 2]) {
      const e = await expectError(
        combineReleased(
          field,
          parties.slice(0, n).map((p) => release(field, p)),
          requester!.secret,
        ),
        ProtocolError,
      );
      expect(e.code).toBe('QUORUM_UNREACHABLE');
      expect(e.culprits).toEqual([]);
    }
  });

  it('a refusing party blocks only when fewer than k remain', async () => {
    const field = await sealed();
    // parties 1 and 2 refuse: 3 remain, enough.
    const remaining = [parties[0]!, parties[3]!, parties[4]!];
    const out = await combineReleased(
      field,
      remaining.map((p) => release(field, p)),
      requester!.secret,
    );
    expect(out.value).toEqual(VALUE);
    // a third refusal: 2 remain, not enough.
    const e = await expectError(
      combineReleased(
        field,
        remaining.slice(1).map((p) => release(field, p)),
        requester!.secret,
      ),
      ProtocolError,
    );
    expect(e.code).toBe('QUORUM_UNREACHABLE');
  });

  it('a tampered release is named; with k others left the field still opens', async () => {
    const field = await sealed();
    const rs = parties.slice(0, 4).map((p) => release(field, p));
    rs[1] = { ...rs[1]!, box: { ...rs[1]!.box, ciphertext: flip(rs[1]!.box.ciphertext, 5) } };
    const out = await combineReleased(field, rs, requester!.secret);
    expect(out.value).toEqual(VALUE);
    expect(out.rejected).toEqual([{ party: 'party-2', check: 'sealed-field.release' }]);
    const e = await expectError(combineReleased(field, rs.slice(0, 3), requester!.secret), ProtocolError);
    expect(e.code).toBe('QUORUM_UNREACHABLE');
    expect(e.culprits).toEqual(['party-2']);
  });

  it('a party that releases a wrong share (well sealed) is named by the share commitment', async () => {
    const field = await sealed();
    const liar = parties[2]!;
    const wrong = signedWrongShare(field, liar);
    const honest = [parties[0]!, parties[1]!].map((p) => release(field, p));
    const e = await expectError(combineReleased(field, [...honest, wrong], requester!.secret), ProtocolError);
    expect(e.code).toBe('QUORUM_UNREACHABLE');
    expect(e.culprits).toEqual([liar.id]);
    const out = await combineReleased(
      field,
      [...honest, wrong, release(field, parties[4]!)],
      requester!.secret,
    );
    expect(out.value).toEqual(VALUE);
    expect(out.rejected).toEqual([{ party: liar.id, check: 'sealed-field.share-commitment' }]);
  });

  it('a share swapped in by the sealer (commitment and all) is found by trying subsets', async () => {
    const good = await sealed();
    const victim = parties[0]!;
    // Same x coordinate as the victim's real share, other y bytes: a point off the polynomial.
    const real = open(victim.secret, good.shares[0]!.box, shareAad(good, victim.id));
    const bogus = Uint8Array.from(real);
    for (let i = 0; i < 32; i++) bogus[i]! ^= 0x5a;
    const shares = good.shares.map((s) =>
      s.party === victim.id
        ? {
            party: s.party,
            commitment: shareCommitment(good, s.party, bogus),
            box: seal(victim.x25519PublicKey, bogus, shareAad(good, s.party)),
          }
        : s,
    );
    const field: SealedField = { ...good, shares };
    const four = parties.slice(0, 4).map((p) => release(field, p));
    const out = await combineReleased(field, four, requester!.secret);
    expect(out.value).toEqual(VALUE);
    expect(out.parties).not.toContain(victim.id);
    expect(out.rejected).toEqual([{ party: victim.id, check: 'sealed-field.share-inconsistent' }]);
    const e = await expectError(
      combineReleased(field, four.slice(0, 3), requester!.secret),
      VerificationError,
    );
    expect(e.check).toBe('sealed-field.ciphertext');
  });

  it("a swapped-in share that repeats another share's x coordinate does not crash the combiner", async () => {
    const good = await sealed();
    const [victim, twin] = [parties[0]!, parties[1]!];
    const real = open(twin.secret, good.shares[1]!.box, shareAad(good, twin.id));
    const bogus = Uint8Array.from(real);
    bogus[0]! ^= 1; // twin's x coordinate, another y
    const field: SealedField = {
      ...good,
      shares: good.shares.map((s) =>
        s.party === victim.id
          ? {
              party: s.party,
              commitment: shareCommitment(good, s.party, bogus),
              box: seal(victim.x25519PublicKey, bogus, shareAad(good, s.party)),
            }
          : s,
      ),
    };
    const out = await combineReleased(
      field,
      parties.slice(0, 4).map((p) => release(field, p)),
      requester!.secret,
    );
    expect(out.value).toEqual(VALUE);
    expect(out.rejected).toEqual([{ party: victim.id, check: 'sealed-field.share-inconsistent' }]);
  });

  it('a value its sealer committed that is not JSON is refused without quoting it (no parser message as cause)', async () => {
    // From the secrets review: the error's cause was the JSON parser's, whose message quotes the
    // opened text; anything that logs an error with its causes would have logged the sealed value.
    const drawn: Uint8Array[] = [];
    const rng = (n: number) => {
      const b = new Uint8Array(randomBytes(n));
      drawn.push(Uint8Array.from(b));
      return b;
    };
    const field = await sealValue(VALUE, '/spec/db', { incidentId: INCIDENT, parties, threshold: 3, rng });
    const [salt, dataKey] = drawn as [Uint8Array, Uint8Array];
    const text = new TextEncoder().encode('CANARY-not-json-7d1e {');
    const forged: SealedField = {
      ...field,
      ciphertext: xchacha20poly1305(dataKey, field.nonce, fieldAad(field)).encrypt(concatBytes(salt, text)),
      commitment: valueCommitment(salt, text),
    };
    const e = await expectError(
      combineReleased(
        forged,
        parties.slice(0, 3).map((p) => release(forged, p)),
        requester!.secret,
      ),
      VerificationError,
    );
    expect(e.check).toBe('sealed-field.value');
    const said: string[] = [];
    for (let c: unknown = e; c instanceof Error; c = c.cause) said.push(c.message, String(c.stack));
    said.push(JSON.stringify(e));
    expect(said.join('\n')).not.toContain('CANARY');
  });

  it('a tampered ciphertext or commitment in the sealed field is detected and named by check', async () => {
    const field = await sealed();
    const rs = parties.slice(0, 3).map((p) => release(field, p));
    const c = await expectError(
      combineReleased({ ...field, ciphertext: flip(field.ciphertext, 40) }, rs, requester!.secret),
      VerificationError,
    );
    expect(c.check).toBe('sealed-field.ciphertext');
    const m = await expectError(
      combineReleased({ ...field, commitment: flip(field.commitment) }, rs, requester!.secret),
      VerificationError,
    );
    expect(m.check).toBe('sealed-field.commitment');
    // the path is bound: the same ciphertext under another path does not open
    const moved = { ...field, path: '/spec/other' };
    const p = await expectError(
      combineReleased(
        moved,
        parties.slice(0, 3).map((x) => release(field, x)),
        requester!.secret,
      ),
      ProtocolError,
    );
    expect(p.culprits).toEqual(['party-1', 'party-2', 'party-3']);
  });

  it('a tampered share in the stored field is refused by its party', async () => {
    const field = await sealed();
    const boxTampered: SealedField = {
      ...field,
      shares: field.shares.map((s, i) =>
        i === 1 ? { ...s, box: { ...s.box, ciphertext: flip(s.box.ciphertext, 3) } } : s,
      ),
    };
    const e1 = await expectError(() => release(boxTampered, parties[1]!), VerificationError);
    expect(e1.check).toBe('sealed-field.share');
    const commitmentTampered: SealedField = {
      ...field,
      shares: field.shares.map((s, i) => (i === 1 ? { ...s, commitment: flip(s.commitment) } : s)),
    };
    const e2 = await expectError(() => release(commitmentTampered, parties[1]!), VerificationError);
    expect(e2.check).toBe('sealed-field.share-commitment');
    // another party's key cannot open party-2's share
    const e3 = await expectError(
      () =>
        releaseShare(field, parties[1]!.id, parties[0]!.secret, requester!.x25519PublicKey, {
          incidentId: INCIDENT,
        }),
      VerificationError,
    );
    expect(e3.check).toBe('sealed-field.share');
  });

  it('releases are bound to their requester, field and incident', async () => {
    const field = await sealed();
    const toOther = parties.slice(0, 3).map((p) => release(field, p, other));
    const e = await expectError(combineReleased(field, toOther, requester!.secret), ProtocolError);
    expect(e.culprits).toEqual(['party-1', 'party-2', 'party-3']);
    // releases of another field (same parties, same incident) are refused
    const second = await sealed();
    const mixed = [release(second, parties[0]!), ...parties.slice(1, 3).map((p) => release(field, p))];
    const m = await expectError(combineReleased(field, mixed, requester!.secret), ProtocolError);
    expect(m.culprits).toEqual(['party-1']);
    const i = await expectError(
      () =>
        releaseShare(field, parties[0]!.id, parties[0]!.secret, requester!.x25519PublicKey, {
          incidentId: 'inc-other',
        }),
      ValidationError,
    );
    expect(i.fields).toEqual(['incidentId']);
    const u = await expectError(
      () =>
        releaseShare(field, 'party-9', parties[0]!.secret, requester!.x25519PublicKey, {
          incidentId: INCIDENT,
        }),
      ValidationError,
    );
    expect(u.code).toBe('UNKNOWN_IDENTIFIER');
  });

  it('unknown and duplicate releases are set aside, not combined', async () => {
    const field = await sealed();
    const rs = parties.slice(0, 3).map((p) => release(field, p));
    const out = await combineReleased(
      field,
      [rs[0]!, { ...rs[1]!, party: 'intruder' }, rs[0]!, rs[1]!, rs[2]!],
      requester!.secret,
    );
    expect(out.value).toEqual(VALUE);
    expect(out.rejected).toEqual([
      { party: 'intruder', check: 'sealed-field.release.unknown-party' },
      { party: 'party-1', check: 'sealed-field.release.duplicate' },
    ]);
  });

  it('a whole sealed payload opens field by field', async () => {
    const incident = { secret: k8sSecret };
    const { payload, fields } = await sealPayload(incident, detectSensitivePaths(incident), {
      incidentId: INCIDENT,
      parties,
      threshold: 2,
    });
    expect(fields.length).toBe(4);
    for (const f of fields) {
      const out = await combineReleased(
        f,
        [parties[3]!, parties[1]!].map((p) => release(f, p)),
        requester!.secret,
      );
      const original = f.path
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<unknown>((node, seg) => (node as Record<string, unknown>)[seg], incident);
      expect(out.value).toEqual(original);
    }
    expect(JSON.stringify(payload)).not.toContain('CANARY');
  });
});

describe('detectAndSeal and fillSealedValues', () => {
  it('intake in one call, and opened values go back where they were', async () => {
    const incident = { secret: k8sSecret, note: 'nothing here' };
    const { payload, fields, detections } = await detectAndSeal(
      incident,
      {},
      {
        incidentId: INCIDENT,
        parties,
        threshold: 2,
      },
    );
    expect(detections.map((d) => [d.path, d.kind, d.id])).toEqual(
      fields.map((f) => [f.path, 'k8s-secret', f.id]),
    );
    const opened = new Map<string, unknown>();
    for (const f of fields)
      opened.set(
        f.id,
        (
          await combineReleased(
            f,
            [parties[0]!, parties[4]!].map((p) => release(f, p)),
            requester!.secret,
          )
        ).value,
      );
    expect(fillSealedValues(payload, opened)).toEqual(incident);
    const partial = fillSealedValues(payload, new Map([[fields[0]!.id, opened.get(fields[0]!.id)]]));
    expect(sealedMarkers(partial).map((m) => m.id)).toEqual(fields.slice(1).map((f) => f.id));
    const none = await detectAndSeal({ a: 1 }, {}, { incidentId: INCIDENT, parties, threshold: 2 });
    expect(none).toEqual({ payload: { a: 1 }, fields: [], detections: [] });
  });

  it('keeps a "__proto__" key as data', () => {
    const redacted = JSON.parse('{"__proto__": {"$sealed": "f1"}, "x": [{"$sealed": "f2"}]}');
    const out = fillSealedValues(
      redacted,
      new Map<string, unknown>([
        ['f1', 'one'],
        ['f2', { two: 2 }],
      ]),
    ) as Record<string, unknown>;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":"one","x":[{"two":2}]}');
  });

  it('fills a marker at the deepest level allowed, and refuses a payload nested 10,000 deep by pointer', () => {
    const nested = (depth: number, leaf: string) =>
      JSON.parse(`{"a":${'['.repeat(depth)}${leaf}${']'.repeat(depth)}}`);
    const filled = fillSealedValues(
      nested(MAX_PAYLOAD_DEPTH - 1, '{"$sealed":"f1"}'),
      new Map([['f1', 'one']]),
    );
    expect(filled).toEqual(nested(MAX_PAYLOAD_DEPTH - 1, '"one"'));
    let error: unknown;
    try {
      fillSealedValues(nested(10_000, '"x"'), new Map());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fields).toEqual([`/a${'/0'.repeat(MAX_PAYLOAD_DEPTH)}`]);
  });
});

describe('openFields', () => {
  it('opens the fields that have k releases and reports the others by code', async () => {
    const a = await sealed();
    const b = await sealed();
    const releases = [
      ...parties.slice(0, 3).map((p) => ({ field: a.id, ...release(a, p) })),
      ...parties.slice(0, 2).map((p) => ({ field: b.id, ...release(b, p) })),
    ];
    const out = await openFields([a, b], releases, requester!.secret, { ...CTX, partyKeys });
    expect(out.map((o) => o.field)).toEqual([a.id, b.id]);
    expect('opened' in out[0]! && out[0].opened.value).toEqual(VALUE);
    expect('error' in out[1]! && out[1].error.code).toBe('QUORUM_UNREACHABLE');
    expect(out.map((o) => o.unattributed)).toEqual([[], []]);
  });

  it('sets aside, blaming nobody, a box a relay made in an honest party’s name (sealing M1)', async () => {
    const field = await sealed();
    const victim = parties[2]!;
    // Anyone with the requester's public X25519 key can seal a box with the right AAD.
    const forgedBox = seal(
      requester!.x25519PublicKey,
      new Uint8Array(33).fill(7),
      releaseAad(field, victim.id, requester!.x25519PublicKey),
    );
    const relayKey = makeParties(1, 'relay')[0]!.identity;
    const forgeries: ReleasedShare[] = [
      // Signed by the relay's own key, not the victim's.
      signRelease(CTX, field, victim.id, forgedBox, relayKey.secretKey),
      // The victim's real signature, from its real release, on the relay's box.
      { ...release(field, victim), box: forgedBox },
    ];
    for (const forged of forgeries) {
      const honest = [parties[0]!, parties[1]!].map((p) => ({ field: field.id, ...release(field, p) }));
      const [few] = await openFields(
        [field],
        [...honest, { field: field.id, ...forged }],
        requester!.secret,
        {
          ...CTX,
          partyKeys,
        },
      );
      expect(few!.unattributed).toEqual([
        { field: field.id, party: victim.id, check: 'sealed-field.release-signature' },
      ]);
      expect('error' in few! && few.error).toBeInstanceOf(ProtocolError);
      expect('error' in few! && (few.error as ProtocolError).culprits).toEqual([]);
      // With k signed releases besides, the field opens and the forgery is still only set aside.
      const [enough] = await openFields(
        [field],
        [...honest, { field: field.id, ...forged }, { field: field.id, ...release(field, parties[3]!) }],
        requester!.secret,
        { ...CTX, partyKeys },
      );
      expect('opened' in enough! && enough.opened.value).toEqual(VALUE);
      expect('opened' in enough! && enough.opened.rejected).toEqual([]);
      expect(enough!.unattributed.map((u) => u.party)).toEqual([victim.id]);
    }
  });

  it('names a party that signed a wrong share: its signature makes the blame provable', async () => {
    const field = await sealed();
    const liar = parties[1]!;
    const wrong = signedWrongShare(field, liar);
    const releases = [release(field, parties[0]!), wrong, release(field, parties[2]!)].map((r) => ({
      field: field.id,
      ...r,
    }));
    const [out] = await openFields([field], releases, requester!.secret, { ...CTX, partyKeys });
    expect(out!.unattributed).toEqual([]);
    expect('error' in out! && (out.error as ProtocolError).culprits).toEqual([liar.id]);
    expect(releaseSignedBy(CTX, field, wrong, liar.identity.publicKey)).toBe(true);
  });

  it('a release signed for another request, requester, incident or field is unattributed', async () => {
    const field = await sealed();
    const p = parties[0]!;
    const box = releaseShare(field, p.id, p.secret, requester!.x25519PublicKey, { incidentId: INCIDENT });
    const variants = [
      { ...CTX, requestId: 'ur-other' },
      { ...CTX, requester: 'approver-2' },
      { ...CTX, incidentId: 'inc-other' },
    ];
    for (const ctx of variants) {
      const signed = signRelease(ctx, field, p.id, box, p.identity.secretKey);
      expect(releaseSignedBy(CTX, field, signed, p.identity.publicKey)).toBe(false);
      const { authentic, unattributed } = authenticateReleases(
        [field],
        [{ field: field.id, ...signed }],
        CTX,
        partyKeys,
      );
      expect(authentic).toEqual([]);
      expect(unattributed.map((u) => u.party)).toEqual([p.id]);
    }
    const forOtherField = signRelease(
      CTX,
      { ...field, id: 'another-field' },
      p.id,
      box,
      p.identity.secretKey,
    );
    expect(releaseSignedBy(CTX, field, forOtherField, p.identity.publicKey)).toBe(false);
    // A party the keys do not list is set aside too.
    const signed = release(field, p);
    expect(
      authenticateReleases([field], [{ field: field.id, ...signed }], CTX, new Map()).unattributed,
    ).toHaveLength(1);
    expect(releaseSignedBy(CTX, field, signed, p.identity.publicKey)).toBe(true);
  });

  it('a relay that repeats an honest party’s signed release does not get that party named (relsig review H2)', async () => {
    const field = await sealed();
    const [a, b] = [parties[0]!, parties[1]!];
    const own = release(field, a);
    // One signed release, relayed twice, and one other: fewer than k distinct parties.
    const releases = [own, own, release(field, b)].map((r) => ({ field: field.id, ...r }));
    const [out] = await openFields([field], releases, requester!.secret, { ...CTX, partyKeys });
    expect('error' in out! && out.error.code).toBe('QUORUM_UNREACHABLE');
    expect('error' in out! && (out.error as ProtocolError).culprits).toEqual([]);
  });
});
