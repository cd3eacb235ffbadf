// A 3-of-5 FROST(Ed25519) key by DKG, a robust signing session, and an independent check.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  commitToStore,
  getCiphersuite,
  type Identifier,
  InMemoryNonceStore,
  identifierFromNumber,
  type KeyPackage,
  loadFastBackends,
  runDkgLocally,
  SigningSession,
  type SigningTransport,
  signFromStore,
  verify,
} from '@aaps/mpc-core';

export async function quickstart(): Promise<{ signature: Uint8Array; signers: readonly Identifier[] }> {
  await loadFastBackends(); // optional: libsodium for Ed25519; outputs are byte-identical
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');

  // 1. Distributed key generation (here all five parties run in this process).
  const identifiers = [1, 2, 3, 4, 5].map((n) => identifierFromNumber(suite, n));
  const { publicPackage, keyPackages } = runDkgLocally(suite, { identifiers, threshold: { min: 3, max: 5 } });

  // 2. Each party keeps its nonces in a NonceStore: saved before a commitment leaves, consumed
  //    before a share is computed. A real party uses LevelDB; this one is in memory.
  const parties = new Map<Identifier, { key: KeyPackage; store: InMemoryNonceStore }>(
    keyPackages.map((key) => [key.identifier, { key, store: new InMemoryNonceStore() }]),
  );
  const transport: SigningTransport = {
    commit: async (id, req) => commitToStore(suite, parties.get(id)!.key, parties.get(id)!.store, req.count),
    sign: async (id, req) =>
      signFromStore(suite, parties.get(id)!.key, parties.get(id)!.store, req.signingPackage, publicPackage),
  };

  // 3. A robust session: picks a quorum, drops parties that fail or cheat, retries until 3 sign.
  const session = new SigningSession({ suite, publicPackage, transport });
  const message = new TextEncoder().encode('approve incident 42: image_rollback');
  const { signature, signers } = await session.sign({ message });

  // 4. The group signature is a plain Ed25519 signature under the group key.
  if (!verify(suite, publicPackage.groupPublicKey, message, signature)) throw new Error('mpc-core rejects');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicPackage.groupPublicKey]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  if (!nodeVerify(null, message, key, signature)) throw new Error('node:crypto rejects');
  return { signature, signers };
}
