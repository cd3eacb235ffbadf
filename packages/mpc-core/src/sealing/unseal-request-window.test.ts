/**
 * From the library review: verifyUnsealRequest enforces the time window with Date.parse and
 * plain comparisons; a request whose issued_at / expires_at do not parse (NaN) makes every
 * comparison false, so a signed request with no usable window is valid at any time. The project's
 * own routes call parseUnsealRequest first; a library user following the function's doc need not.
 */
import { expect, it } from 'vitest';
import {
  base64Encode,
  generateIdentityKey,
  signBytes,
  type UnsealRequest,
  unsealRequestSigningBytes,
  ValidationError,
  VerificationError,
  verifyUnsealRequest,
} from '../index.js';

it('a signed request without a parseable time window is refused, not valid forever', () => {
  const approver = generateIdentityKey();
  const body = {
    request_id: 'req-1',
    incident_id: 'inc-1',
    evidence_id: 'ev-1',
    fields: ['f-1'],
    requester: 'alice',
    reason: 'audit',
    issued_at: 'now',
    expires_at: 'never',
  };
  const sig = signBytes(approver.secretKey, unsealRequestSigningBytes(body));
  const req = { ...body, signature: `ed25519:${base64Encode(sig)}` } as UnsealRequest;
  let err: unknown;
  try {
    verifyUnsealRequest(req, approver.publicKey, new Date('2099-01-01T00:00:00Z'));
  } catch (e) {
    err = e;
  }
  expect(err instanceof VerificationError || err instanceof ValidationError).toBe(true);
});
