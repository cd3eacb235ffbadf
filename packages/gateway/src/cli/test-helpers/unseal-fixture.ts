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
  type SealedField,
  sealValue,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { type GatewayConfig, parseGatewayConfig } from '../../config.js';

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
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
