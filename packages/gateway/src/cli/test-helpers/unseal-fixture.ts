/**
 * What an `aaps unseal` test against a fake gateway starts from: a data directory holding the
 * approver `oncall`'s key, five parties with identity keys, and a way to seal a secret to them
 * (3 of 5) at `/spec/db`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import {
  generateIdentityKey,
  type ReleasedShare,
  ReleasedShareCodec,
  releaseShare,
  type SealedField,
  sealValue,
  signRelease,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { type GatewayConfig, parseGatewayConfig } from '../../config.js';
import { sealedFieldsBundle } from './evidence-bundle.js';

/** What a release is signed for: the request a fake gateway was posted. */
export interface PostedRequest {
  requestId: string;
  incidentId: string;
  requester: string;
}

export function unsealFixture(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const parties = Array.from({ length: 5 }, (_, i) => {
    const key = generateIdentityKey();
    return { id: `p${i + 1}`, x25519PublicKey: x25519FromIdentityPublicKey(key.publicKey), key };
  });
  const approverPub = loadOrCreateIdentityKey(join(dir, 'approvers', 'oncall.key'), true).publicKey;
  return {
    dir,
    parties,
    approverPub,
    /** The client configuration of `dir`, against `http://gw.test`. */
    config(): GatewayConfig {
      const parsed = parseGatewayConfig(['--data-dir', dir, '--url', 'http://gw.test'], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      return parsed.config;
    },
    /** `{password: secret}` sealed to the five parties, 3 of 5, for `incidentId`. */
    seal(incidentId: string, secret: string): Promise<SealedField> {
      return sealValue({ password: secret }, '/spec/db', {
        incidentId,
        parties: parties.map(({ id, x25519PublicKey }) => ({ id, x25519PublicKey })),
        threshold: 3,
      });
    },
    /** Party `i`'s honest release of its share of `field`, signed for `posted`. */
    release(field: SealedField, i: number, posted: PostedRequest): ReleasedShare {
      const p = parties[i]!;
      const box = releaseShare(
        field,
        p.id,
        x25519FromIdentitySecretKey(p.key.secretKey),
        x25519FromIdentityPublicKey(approverPub),
        { incidentId: posted.incidentId },
      );
      return signRelease(posted, field, p.id, box, p.key.secretKey);
    },
    /**
     * A fake gateway serving the evidence of `field` (incident `incidentId`, the five parties in its
     * roster) and answering a posted request with the releases `answer` makes for it (or the
     * `Response` it returns); `io` for `runUnseal`, what it printed, and how often it was posted to.
     */
    gateway(
      incidentId: string,
      field: SealedField,
      answer: (posted: PostedRequest) => ReleasedShare[] | Response,
    ) {
      const out: string[] = [];
      const err: string[] = [];
      let posts = 0;
      const { bundle, evidenceId } = sealedFieldsBundle(
        incidentId,
        [field],
        parties.map((p) => ({ id: p.id, identityKey: p.key.publicKey })),
      );
      const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
        if (init?.method !== 'POST') return Response.json(bundle);
        posts += 1;
        const { request } = JSON.parse(String(init.body)) as {
          request: { request_id: string; requester: string };
        };
        const answered = answer({ requestId: request.request_id, incidentId, requester: request.requester });
        if (answered instanceof Response) return answered;
        return Response.json({
          releases: answered.map((r) => ({ field: field.id, release: ReleasedShareCodec.toJSON(r) })),
          refusals: [],
          evidence: { request: 'a'.repeat(64), releases: 'b'.repeat(64) },
        });
      }) as typeof globalThis.fetch;
      return {
        out,
        err,
        evidenceId,
        posts: () => posts,
        io: { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch },
      };
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
