/** Parties with roster-style Ed25519 identity keys and the X25519 keys sealing derives from them. */
import { generateIdentityKey } from '../../envelope/sign.js';
import { x25519FromIdentityPublicKey, x25519FromIdentitySecretKey } from '../../seal.js';
import type { SecretBytes } from '../../secret.js';
import type { SealingParty } from '../seal-field.js';

export interface TestParty extends SealingParty {
  /** The X25519 secret sealing uses. */
  readonly secret: SecretBytes;
  /** The Ed25519 identity key it derives from (releases are signed with it). */
  readonly identity: { readonly publicKey: Uint8Array; readonly secretKey: SecretBytes };
}

export function makeParties(n: number, prefix = 'party'): TestParty[] {
  return Array.from({ length: n }, (_, i) => {
    const id = generateIdentityKey();
    return {
      id: `${prefix}-${i + 1}`,
      x25519PublicKey: x25519FromIdentityPublicKey(id.publicKey),
      secret: x25519FromIdentitySecretKey(id.secretKey),
      identity: id,
    };
  });
}
