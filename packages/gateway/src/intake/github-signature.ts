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
 * (check `github.signature`, HTTP 401) with code `UNAUTHENTICATED` when the header is missing, and
 * `INVALID_SIGNATURE` when it is not `sha256=` and 64 hex digits or does not match. An empty
 * secret is a configuration error (`ValidationError`).
 */
export function verifyGithubSignature(rawBody: Uint8Array, header: string | undefined, secret: string): void {
  if (secret.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', 'the GitHub webhook secret is empty', ['secret']);
  }
  if (header === undefined || header === '') {
    throw new VerificationError(
      GITHUB_SIGNATURE_CHECK,
      "X-Hub-Signature-256 is missing: GitHub sends it only when the webhook has a secret; set the webhook's secret to the gateway's (AAPS_GITHUB_WEBHOOK_SECRET)",
      { code: 'UNAUTHENTICATED' },
    );
  }
  const hex = header.startsWith(PREFIX) ? header.slice(PREFIX.length) : '';
  if (hex.length !== HEX_LENGTH || !/^[0-9a-fA-F]+$/.test(hex)) {
    const sha1 = header.startsWith('sha1=') ? ' (a SHA-1 signature is not accepted)' : '';
    throw new VerificationError(
      GITHUB_SIGNATURE_CHECK,
      `X-Hub-Signature-256 is malformed: expected sha256= and 64 hex digits${sha1}`,
      { code: 'INVALID_SIGNATURE' },
    );
  }
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  if (!timingSafeEqual(given, expected)) {
    throw new VerificationError(
      GITHUB_SIGNATURE_CHECK,
      "X-Hub-Signature-256 does not match the body: the webhook's secret is not the gateway's, or the body was changed",
      { code: 'INVALID_SIGNATURE' },
    );
  }
}

/** The header value GitHub would send for `rawBody` (for tests and the `aaps submit` CLI). */
export function signGithubPayload(rawBody: Uint8Array, secret: string): string {
  return `${PREFIX}${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
