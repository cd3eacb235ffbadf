/**
 * X25519 key agreement (RFC 7748) for sealing, on the fastest loaded backend: `node:crypto`
 * (OpenSSL) always, libsodium's WebAssembly build once `loadFastBackends()` has loaded it. Both
 * clamp the scalar, ignore the top bit of the u-coordinate and refuse a low-order peer key (an
 * all-zero shared secret), so their outputs are byte-identical (`x25519.test.ts` proves it) and
 * only speed differs: OpenSSL needs a KeyObject decoded from DER for every fresh key, about
 * 0.4-0.8 ms each on this machine, where libsodium multiplies the raw bytes (about a quarter of
 * the time for a whole agreement). Neither backend wipes its own copy of the secret (OpenSSL's
 * KeyObject lives until collected; libsodium's wrappers free the WebAssembly buffer unwiped).
 * (Internal: not in the index.)
 */
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { concatBytes } from './bytes.js';
import type { Sodium } from './suite/sodium-module.js';

/** What one agreement gives: our own public key (for the KDF's context) and the shared secret. */
export interface X25519Agreement {
  readonly publicKey: Uint8Array;
  readonly shared: Uint8Array;
}

export interface X25519Backend {
  readonly name: 'node:crypto' | 'libsodium';
  /**
   * Our public key for `secret` and X25519(secret, peer). Throws on a peer key that is not 32
   * bytes or is of low order.
   */
  agree(secret: Uint8Array, peer: Uint8Array): X25519Agreement;
}

const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function check32(bytes: Uint8Array, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new Error(`X25519 ${what}: 32 bytes`);
}

/**
 * The shared secret `agree` computes, or one error for a peer key of low order whichever library
 * refused it (OpenSSL and libsodium word it differently; both refuse an all-zero result).
 */
function lowOrderRefused(agree: () => Uint8Array): Uint8Array {
  try {
    return agree();
  } catch (cause) {
    throw new Error('X25519 public key: of low order (no shared secret)', { cause });
  }
}

/** OpenSSL through `node:crypto`: always available. */
export const nodeX25519: X25519Backend = Object.freeze({
  name: 'node:crypto' as const,
  agree(secret: Uint8Array, peer: Uint8Array): X25519Agreement {
    check32(secret, 'secret key');
    check32(peer, 'public key');
    const privateKey = createPrivateKey({
      key: Buffer.from(concatBytes(PKCS8_PREFIX, secret)),
      format: 'der',
      type: 'pkcs8',
    });
    const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    const publicKey = createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, peer)),
      format: 'der',
      type: 'spki',
    });
    return {
      publicKey: Uint8Array.from(der.subarray(der.length - 32)),
      shared: lowOrderRefused(() => Uint8Array.from(diffieHellman({ privateKey, publicKey }))),
    };
  },
});

/** libsodium's `crypto_scalarmult` (which refuses low-order peers itself) over a loaded module. */
export function sodiumX25519(sodium: Sodium): X25519Backend {
  // libsodium's typings want ArrayBuffer-backed views.
  const buf = (b: Uint8Array) =>
    (b.buffer instanceof ArrayBuffer ? b : Uint8Array.from(b)) as Uint8Array<ArrayBuffer>;
  return Object.freeze({
    name: 'libsodium' as const,
    agree(secret: Uint8Array, peer: Uint8Array): X25519Agreement {
      check32(secret, 'secret key');
      check32(peer, 'public key');
      return {
        publicKey: sodium.crypto_scalarmult_base(buf(secret)),
        shared: lowOrderRefused(() => sodium.crypto_scalarmult(buf(secret), buf(peer))),
      };
    },
  });
}

let current: X25519Backend = nodeX25519;

/** The backend sealing uses now. */
export function x25519Backend(): X25519Backend {
  return current;
}

/** Make `backend` the one sealing uses (`loadFastBackends`; tests switch between them). */
export function useX25519Backend(backend: X25519Backend): void {
  current = backend;
}
