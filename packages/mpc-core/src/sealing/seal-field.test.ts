import { describe, expect, it } from 'vitest';
import { bytesToHex, utf8 } from '../bytes.js';
import { canonicalize } from '../envelope/canonical.js';
import { ValidationError } from '../errors.js';
import { detectSensitivePaths, MAX_PAYLOAD_DEPTH } from './detect.js';
import {
  detectAndSeal,
  SEALED_FIELD_VERSION,
  type SealOptions,
  sealedMarkers,
  sealPayload,
  sealValue,
} from './seal-field.js';
import { ReleasedShareCodec, SealedFieldCodec } from './sealed-field-codec.js';
import { makeParties } from './test-helpers/parties.js';
import {
  alertmanagerWebhook,
  CANARY,
  deployment,
  dockerConfigSecret,
  k8sSecret,
  logExcerpt,
} from './test-helpers/payloads.js';
import { releaseShare } from './unseal.js';

const parties = makeParties(3);
const incident = {
  secret: k8sSecret,
  regcred: dockerConfigSecret,
  deployment,
  alert: alertmanagerWebhook,
  logs: logExcerpt,
};
const policy = { paths: ['/logs/patient/name'] };
const opts = { incidentId: 'inc-1', parties, threshold: 2 };

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

/** Each canary as it could leak: raw text, and its hex and base64 forms. */
const canaryForms = Object.values(CANARY).flatMap((c) => [
  c,
  bytesToHex(utf8(c)),
  Buffer.from(c).toString('base64'),
]);

describe('sealPayload', () => {
  it('no canary survives in the redacted payload or any JSON/CBOR encoding of the sealed fields', async () => {
    const before = canonicalize(incident);
    const { payload, fields } = await sealPayload(incident, detectSensitivePaths(incident, policy), opts);
    expect(canonicalize(incident)).toBe(before); // the input is not modified
    const texts = [
      JSON.stringify(payload),
      ...fields.map((f) => JSON.stringify(SealedFieldCodec.toJSON(f))),
      ...fields.map((f) => JSON.stringify(f)),
    ];
    const blobs = fields.map((f) => SealedFieldCodec.encode(f));
    for (const form of canaryForms) {
      for (const t of texts) expect(t.includes(form), form).toBe(false);
      for (const b of blobs) expect(contains(b, utf8(form)), form).toBe(false);
    }
    const releases = fields.map((f) =>
      ReleasedShareCodec.encode({
        party: parties[0]!.id,
        box: releaseShare(f, parties[0]!.id, parties[0]!.secret, parties[1]!.x25519PublicKey, {
          incidentId: 'inc-1',
        }),
        signature: new Uint8Array(64).fill(3),
      }),
    );
    for (const form of canaryForms) for (const b of releases) expect(contains(b, utf8(form))).toBe(false);
  });

  it('replaces each value by a marker naming its field, and keeps everything else', async () => {
    const paths = detectSensitivePaths(incident, policy);
    const { payload, fields } = await sealPayload(incident, paths, opts);
    expect(fields.map((f) => f.path)).toEqual(paths);
    expect(sealedMarkers(payload)).toEqual(fields.map((f) => ({ id: f.id, path: f.path })));
    const p = payload as typeof incident;
    expect(p.secret.metadata.name).toBe('payments-db-credentials');
    expect(p.deployment.spec.template.spec.containers[0]!.image).toBe(
      deployment.spec.template.spec.containers[0]!.image,
    );
    expect(p.secret.data.password as unknown).toEqual({
      $sealed: fields.find((f) => f.path === '/secret/data/password')!.id,
    });
    expect(detectSensitivePaths(payload)).toEqual([]);
    for (const f of fields) {
      expect(f.version).toBe(SEALED_FIELD_VERSION);
      expect(f.incidentId).toBe('inc-1');
      expect(f.threshold).toEqual({ min: 2, max: 3 });
      expect(f.shares.map((s) => s.party)).toEqual(['party-1', 'party-2', 'party-3']);
    }
  });

  it('refuses a payload with a "__proto__" member (no signature over it survives storage), leaking nothing', async () => {
    const hostile = JSON.parse(
      '{"__proto__": {"password": "CANARY-proto-pw"}, "list": [{"__proto__": "x"}]}',
    );
    const e = await sealPayload(hostile, detectSensitivePaths(hostile), opts).then(
      () => expect.unreachable('sealed'),
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).message).toMatch(/__proto__/);
    expect((e as ValidationError).message).not.toContain('CANARY');
  });

  it('seals a subtree once when paths nest, and refuses paths that name nothing', async () => {
    const { fields } = await sealPayload(logExcerpt, ['/db', '/db/password'], opts);
    expect(fields.map((f) => f.path)).toEqual(['/db']);
    try {
      await sealPayload(logExcerpt, ['/db/nope', '', '/lines/99'], opts);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).fields).toEqual(['/db/nope', '', '/lines/99']);
    }
  });

  it('checks its options before any maths', async () => {
    const cases: [Partial<SealOptions>, string[]][] = [
      [{ threshold: 1 }, ['threshold']],
      [{ threshold: 4 }, ['threshold']],
      [{ parties: [parties[0]!] }, ['parties', 'threshold']],
      [{ parties: [parties[0]!, parties[0]!] }, ['parties[1].id']],
      [
        { parties: [parties[0]!, { id: 'x', x25519PublicKey: new Uint8Array(31) }] },
        ['parties[1].x25519PublicKey'],
      ],
      [{ incidentId: 'has space' }, ['incidentId']],
    ];
    for (const [o, fields] of cases) {
      try {
        await sealValue('v', '/a', { ...opts, ...o });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).fields).toEqual(fields);
      }
    }
  });
});

describe('SealedFieldCodec', () => {
  it('round-trips through JSON and CBOR', async () => {
    const f = await sealValue({ a: [1, 'two'] }, '/x/0', opts);
    expect(SealedFieldCodec.fromJSON(JSON.parse(JSON.stringify(SealedFieldCodec.toJSON(f))))).toEqual(f);
    expect(SealedFieldCodec.decode(SealedFieldCodec.encode(f))).toEqual(f);
    const r = { party: 'party-1', box: f.shares[0]!.box, signature: new Uint8Array(64).fill(9) };
    expect(ReleasedShareCodec.decode(ReleasedShareCodec.encode(r))).toEqual(r);
    expect(ReleasedShareCodec.fromJSON(ReleasedShareCodec.toJSON(r))).toEqual(r);
    expect(ReleasedShareCodec.toJSON(r)).toMatchObject({ v: 2, type: 'ReleasedShare' });
  });

  it('refuses unknown fields, bad lengths, a short share list and other versions, naming each', async () => {
    const f = await sealValue('v', '/x', opts);
    const json = SealedFieldCodec.toJSON(f) as { v: number; body: Record<string, unknown> };
    const body = json.body as Record<string, unknown> & { shares: Record<string, unknown>[] };
    const bad = {
      ...json,
      body: {
        ...body,
        extra: 1,
        nonce: 'abcd',
        path: 'no-slash',
        shares: [{ ...body.shares[0]!, party: body.shares[1]!.party }, body.shares[1]],
      },
    };
    try {
      SealedFieldCodec.fromJSON(bad);
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).code).toBe('DECODE_FAILED');
      expect([...(e as ValidationError).fields].sort()).toEqual(
        ['body.extra', 'body.nonce', 'body.path', 'body.shares', 'body.shares[1].party'].sort(),
      );
    }
    try {
      SealedFieldCodec.fromJSON({ ...json, v: 2 });
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).code).toBe('UNSUPPORTED_VERSION');
    }
  });

  it('refuses a release of version 1 (unsigned), and one without a 64-byte signature', async () => {
    const f = await sealValue('v', '/x', opts);
    const signed = ReleasedShareCodec.toJSON({
      party: 'party-1',
      box: f.shares[0]!.box,
      signature: new Uint8Array(64).fill(1),
    }) as { v: number; body: Record<string, unknown> };
    const { signature: _dropped, ...unsigned } = signed.body;
    const refusal = (json: unknown) => {
      try {
        ReleasedShareCodec.fromJSON(json);
      } catch (e) {
        return { code: (e as ValidationError).code, fields: [...new Set((e as ValidationError).fields)] };
      }
      return 'accepted';
    };
    expect(refusal({ ...signed, v: 1, body: unsigned })).toEqual({
      code: 'UNSUPPORTED_VERSION',
      fields: ['v'],
    });
    expect(refusal({ ...signed, body: unsigned })).toEqual({
      code: 'DECODE_FAILED',
      fields: ['body.signature'],
    });
    expect(refusal({ ...signed, body: { ...signed.body, signature: 'ab'.repeat(63) } })).toEqual({
      code: 'DECODE_FAILED',
      fields: ['body.signature'],
    });
    expect(() =>
      ReleasedShareCodec.toJSON({ party: 'party-1', box: f.shares[0]!.box, signature: new Uint8Array(63) }),
    ).toThrow(ValidationError);
  });
});

describe('sealing: deeply nested payloads give a typed error, not a stack overflow', () => {
  const nested = (depth: number) => JSON.parse(`{"a":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`);
  const marker = (depth: number) =>
    JSON.parse(`{"a":${'['.repeat(depth)}{"$sealed":"f1"}${']'.repeat(depth)}}`);

  it('sealedMarkers finds a marker at the deepest level allowed, and refuses one deeper', () => {
    expect(sealedMarkers(marker(MAX_PAYLOAD_DEPTH - 2))).toEqual([
      { id: 'f1', path: `/a${'/0'.repeat(MAX_PAYLOAD_DEPTH - 2)}` },
    ]);
    expect(() => sealedMarkers(marker(MAX_PAYLOAD_DEPTH))).toThrow(ValidationError);
  });

  it.each([
    ['sealedMarkers', (p: unknown) => sealedMarkers(p)],
    ['detectAndSeal', (p: unknown) => detectAndSeal(p, {}, opts)],
  ])('%s on a 20 KB payload nested 10,000 deep', async (_name, call) => {
    let error: unknown;
    try {
      await call(nested(10_000));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fields).toEqual([`/a${'/0'.repeat(MAX_PAYLOAD_DEPTH)}`]);
  });
});
