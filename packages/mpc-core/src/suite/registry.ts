/** The ciphersuites by id, and the switch to the fastest loaded backend for each. */
import { ValidationError } from '../errors.js';
import { sodiumX25519, useX25519Backend } from '../x25519.js';
import { ED25519_ID, ed25519Noble } from './ed25519.js';
import { loadEd25519Sodium } from './ed25519-sodium.js';
import { SECP256K1_ID, SECP256K1_TR_ID, secp256k1Suite, secp256k1TrSuite } from './secp256k1.js';
import { loadSodium } from './sodium-module.js';
import { type AnyCiphersuite, CIPHERSUITE_IDS, type CiphersuiteId } from './types.js';

/** The pure-JS (noble) ciphersuites; always available, synchronously. */
export const ciphersuites = Object.freeze({
  ed25519: ed25519Noble as AnyCiphersuite,
  secp256k1: secp256k1Suite as AnyCiphersuite,
  secp256k1tr: secp256k1TrSuite as AnyCiphersuite,
});

const best = new Map<CiphersuiteId, AnyCiphersuite>([
  [ED25519_ID, ciphersuites.ed25519],
  [SECP256K1_ID, ciphersuites.secp256k1],
  [SECP256K1_TR_ID, ciphersuites.secp256k1tr],
]);

export function isCiphersuiteId(id: unknown): id is CiphersuiteId {
  return typeof id === 'string' && (CIPHERSUITE_IDS as readonly string[]).includes(id);
}

/** The fastest loaded implementation of a ciphersuite (see {@link loadFastBackends}). */
export function getCiphersuite(id: string = ED25519_ID): AnyCiphersuite {
  if (!isCiphersuiteId(id)) {
    throw new ValidationError(
      'UNKNOWN_CIPHERSUITE',
      `unknown ciphersuite ${JSON.stringify(id)}; known: ${CIPHERSUITE_IDS.join(', ')}`,
      ['ciphersuite'],
    );
  }
  return best.get(id)!;
}

/** Which backend carries what, after {@link loadFastBackends}. */
export interface LoadedBackends {
  /** FROST(Ed25519)'s group arithmetic. */
  ed25519: 'libsodium' | 'noble';
  /** The X25519 agreements of `seal` and `open`. */
  x25519: 'libsodium' | 'node:crypto';
}

/**
 * Load the WebAssembly backends (libsodium for Ed25519 and for sealing's X25519) and make them
 * what {@link getCiphersuite} returns and `seal`/`open` use. Outputs are byte-identical; only
 * speed changes. Long-running processes call this once at start.
 */
export async function loadFastBackends(): Promise<LoadedBackends> {
  try {
    best.set(ED25519_ID, (await loadEd25519Sodium()) as AnyCiphersuite);
    useX25519Backend(sodiumX25519(await loadSodium()));
    return { ed25519: 'libsodium', x25519: 'libsodium' };
  } catch {
    // libsodium-wrappers-sumo is an optional dependency (auditors need not install it): the
    // noble backend and OpenSSL compute the same bytes, only slower.
    return { ed25519: 'noble', x25519: 'node:crypto' };
  }
}
