import { describe, expect, it } from 'vitest';
import { generateIdentityKey } from '../envelope/sign.js';
import { ValidationError, VerificationError } from '../errors.js';
import { UNPRINTABLE } from '../test-helpers/unprintable.js';
import { sealValue } from './seal-field.js';
import { makeParties } from './test-helpers/parties.js';
import {
  checkUnsealFields,
  MAX_UNSEAL_FIELDS,
  parseUnsealRequest,
  signUnsealRequest,
  type UnsealRequest,
  unsealReleaseRecord,
  verifyUnsealRequest,
} from './unseal-request.js';

const approver = generateIdentityKey();
const other = generateIdentityKey();
const base = {
  request_id: 'req-7f3a',
  incident_id: 'inc-42',
  evidence_id: 'ev-42',
  fields: ['a1b2', 'c3d4'],
  requester: 'alice',
  reason: 'root cause needs the DB password rotation time',
  issued_at: '2026-11-25T16:00:00.000Z',
  expires_at: '2026-11-25T16:15:00.000Z',
};
const at = (iso: string) => new Date(iso);

function check(fn: () => void): VerificationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    return e as VerificationError;
  }
  return expect.unreachable() as never;
}

describe('unseal requests', () => {
  it('a request signed by the approver verifies inside its window and survives JSON', () => {
    const req = signUnsealRequest(base, approver.secretKey);
    const wire = parseUnsealRequest(JSON.parse(JSON.stringify(req)));
    expect(() => verifyUnsealRequest(wire, approver.publicKey, at('2026-11-25T16:05:00Z'))).not.toThrow();
  });

  it('another key, any edited field, or a time outside the window is refused by check', () => {
    const req = signUnsealRequest(base, approver.secretKey);
    expect(check(() => verifyUnsealRequest(req, other.publicKey, at('2026-11-25T16:05:00Z'))).check).toBe(
      'unseal-request.signature',
    );
    const edits: Partial<UnsealRequest>[] = [
      { fields: ['a1b2', 'c3d4', 'e5f6'] },
      { requester: 'mallory' },
      { incident_id: 'inc-43' },
      { reason: 'x' },
      { expires_at: '2026-11-25T16:16:00.000Z' },
    ];
    for (const e of edits)
      expect(
        check(() => verifyUnsealRequest({ ...req, ...e }, approver.publicKey, at('2026-11-25T16:05:00Z')))
          .check,
      ).toBe('unseal-request.signature');
    for (const t of ['2026-11-25T15:50:00Z', '2026-11-25T16:15:00.001Z'])
      expect(check(() => verifyUnsealRequest(req, approver.publicKey, at(t))).check).toBe(
        'unseal-request.expired',
      );
    // A window that ends before it starts holds no time, not even within the clock skew of its start.
    const inverted = signUnsealRequest(
      { ...base, expires_at: '2026-11-25T15:58:00.000Z' },
      approver.secretKey,
    );
    expect(
      check(() => verifyUnsealRequest(inverted, approver.publicKey, at('2026-11-25T15:57:00Z'))).check,
    ).toBe('unseal-request.expired');
    const long = signUnsealRequest({ ...base, expires_at: '2026-11-25T18:00:00.000Z' }, approver.secretKey);
    expect(check(() => verifyUnsealRequest(long, approver.publicKey, at('2026-11-25T16:05:00Z'))).check).toBe(
      'unseal-request.expired',
    );
  });

  it('a malformed request is refused naming every bad field', () => {
    try {
      parseUnsealRequest({ ...base, fields: [], requester: 'has space', extra: 1, issued_at: 'yesterday' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect([...(e as ValidationError).fields].sort()).toEqual(
        ['extra', 'fields', 'issued_at', 'requester', 'signature'].sort(),
      );
    }
  });
});

describe('verifyUnsealRequest: hostile requests are VerificationErrors', () => {
  const now = at('2026-11-25T16:05:00.000Z');

  it('a signature without the exact "ed25519:" prefix does not verify (one spelling per signature)', () => {
    const req = signUnsealRequest(base, approver.secretKey);
    verifyUnsealRequest(req, approver.publicKey, now); // the genuine one verifies
    const sig = req.signature.slice('ed25519:'.length);
    for (const spelling of [`rsa-2048${sig}`, `ED25519:${sig}`, sig, `ed25519;${sig}`]) {
      expect(
        check(() => verifyUnsealRequest({ ...req, signature: spelling }, approver.publicKey, now)).check,
      ).toBe('unseal-request.signature');
    }
  });

  it.each(UNPRINTABLE)(
    'a forged request whose request_id cannot print (%s) is a VerificationError',
    (_n, make) => {
      const forged = { ...signUnsealRequest(base, approver.secretKey), request_id: make() };
      expect(check(() => verifyUnsealRequest(forged as never, approver.publicKey, now)).check).toBe(
        'unseal-request.signature',
      );
    },
  );

  it.each(UNPRINTABLE)('so is one whose requester cannot print (%s)', (_n, make) => {
    const forged = { ...signUnsealRequest(base, approver.secretKey), requester: make() };
    expect(check(() => verifyUnsealRequest(forged as never, approver.publicKey, now)).check).toBe(
      'unseal-request.signature',
    );
  });
});

describe('how many fields a request names', () => {
  const named = (n: number) => ({
    ...base,
    fields: Array.from({ length: n }, (_, i) => `f${i}`),
    signature: 'ed25519:',
  });
  it(`takes 1 to MAX_UNSEAL_FIELDS (${MAX_UNSEAL_FIELDS}) fields and refuses one more, naming fields`, () => {
    expect(parseUnsealRequest(named(1)).fields).toHaveLength(1);
    expect(parseUnsealRequest(named(MAX_UNSEAL_FIELDS)).fields).toHaveLength(MAX_UNSEAL_FIELDS);
    for (const n of [0, MAX_UNSEAL_FIELDS + 1]) {
      try {
        parseUnsealRequest(named(n));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).fields).toEqual(['fields']);
      }
    }
  });
});

describe('fields of a request and its log records', () => {
  it('only fields the request names, of its incident, once each', async () => {
    const parties = makeParties(2);
    const opts = { incidentId: 'inc-42', parties, threshold: 2 };
    const f1 = await sealValue('a', '/a', opts);
    const f2 = await sealValue('b', '/b', opts);
    const elsewhere = await sealValue('c', '/c', { ...opts, incidentId: 'inc-43' });
    const req = signUnsealRequest({ ...base, fields: [f1.id, f2.id] }, approver.secretKey);
    expect(() => checkUnsealFields(req, [f1, f2])).not.toThrow();
    try {
      checkUnsealFields(req, [f1, elsewhere, f1, await sealValue('d', '/d', opts)]);
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).fields).toEqual(['fields[1]', 'fields[2]', 'fields[3]']);
    }
    // Of its incident: a field of inc-43 is refused even when the inc-42 request names its id.
    const namesElsewhere = signUnsealRequest({ ...base, fields: [f1.id, elsewhere.id] }, approver.secretKey);
    try {
      checkUnsealFields(namesElsewhere, [f1, elsewhere]);
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).fields).toEqual(['fields[1]']);
    }
    const released = unsealReleaseRecord({
      request: req,
      party: 'party-1',
      field: f1.id,
      decision: 'released',
      box: f1.shares[0]!.box,
    });
    expect(released.box_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(
      unsealReleaseRecord({
        request: req,
        party: 'party-2',
        field: f1.id,
        decision: 'refused',
        rule: 'unseal.approvers',
      }),
    ).toEqual({
      type: 'UnsealRelease',
      request_id: 'req-7f3a',
      incident_id: 'inc-42',
      party: 'party-2',
      field: f1.id,
      decision: 'refused',
      rule: 'unseal.approvers',
    });
  });
});
