/**
 * GitHub webhook authentication: `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the
 * raw request body under the webhook secret. Compared in constant time over the decoded bytes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError, VerificationError } from '@aaps/mpc-core';

export const GITHUB_SIGNATURE_CHECK = 'github.signature';
const PREFIX = 'sha256=';
const HEX_LENGTH = 64;

/**
 * Throws unless `header` is the HMAC-SHA256 of `rawBody` under `secret`: a `VerificationError`
 * (check `github.signature`) with code `INVALID_ARGUMENT` when the header is missing,
 * `DECODE_FAILED` when it is not `sha256=` and 64 hex digits, `INVALID_SIGNATURE` when it does not
 * match. An empty secret is a configuration error (`ValidationError`).
 */
export function verifyGithubSignature(rawBody: Uint8Array, header: string | undefined, secret: string): void {
  if (secret.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', 'the GitHub webhook secret is empty', ['secret']);
  }
  if (header === undefined || header === '') {
    throw new VerificationError(GITHUB_SIGNATURE_CHECK, 'X-Hub-Signature-256 is missing', {
      code: 'INVALID_ARGUMENT',
    });
  }
  const hex = header.startsWith(PREFIX) ? header.slice(PREFIX.length) : '';
  if (hex.length !== HEX_LENGTH || !/^[0-9a-fA-F]+$/.test(hex)) {
    throw new VerificationError(
      GITHUB_SIGNATURE_CHECK,
      'X-Hub-Signature-256 is not sha256= and 64 hex digits',
      {
        code: 'DECODE_FAILED',
      },
    );
  }
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  if (!timingSafeEqual(given, expected)) {
    throw new VerificationError(GITHUB_SIGNATURE_CHECK, 'X-Hub-Signature-256 does not match the body', {
      code: 'INVALID_SIGNATURE',
    });
  }
}

/** The header value GitHub would send for `rawBody` (for tests and the `aaps submit` CLI). */
export function signGithubPayload(rawBody: Uint8Array, secret: string): string {
  return `${PREFIX}${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
