/**
 * `aaps party restore --checkpoint FILE`: a party restored onto a fresh store has no record of the
 * log checkpoints it signed, so it would take the next one it is shown on trust (any size, any
 * root). A log checkpoint the group signed (the gateway's `GET /v1/log/checkpoint`, or one an
 * auditor kept), checked here under the restored group key, gives it a record to hold the log to
 * again: from then on it signs only checkpoints that extend that tree. A party whose store already
 * records the log keeps its own record (which came with consistency proofs); one that records
 * another root for the same size is refused as a fork.
 */
import { ED25519_SUITE, openCheckpoint, type SignedCheckpoint } from '@aaps/evidence';
import { bytesToHex, type PublicKeyPackage, ValidationError, VerificationError } from '@aaps/mpc-core';
import { foreignOrigin, witnessedLog } from '../party/log-origin.js';
import type { PartyStore } from '../store/level.js';
import { Refused } from './stopped-party.js';

/** The checkpoint note in `text`, verified under the group key of `publicPackage`; refused otherwise. */
export function verifyRestoreCheckpoint(
  text: string,
  file: string,
  publicPackage: PublicKeyPackage,
): SignedCheckpoint {
  const name = text.slice(0, Math.max(0, text.indexOf('\n')));
  try {
    return openCheckpoint(text, [
      {
        name,
        type: publicPackage.suite === ED25519_SUITE ? 'ed25519' : 'bip340',
        publicKey: publicPackage.groupPublicKey,
      },
    ]);
  } catch (e) {
    if (!(e instanceof VerificationError) && !(e instanceof ValidationError)) throw e;
    throw new Refused(
      `--checkpoint ${file} is not a log checkpoint signed by the backup's group key (${bytesToHex(publicPackage.groupPublicKey).slice(0, 16)}…): ${e.message}`,
    );
  }
}

/**
 * Refuse `checkpoint` unless it may become the party's record: of the log the party witnesses, and
 * not another root for a size it recorded. Nothing is written.
 */
export async function checkRestoreCheckpoint(
  store: PartyStore,
  config: { logOrigin?: string },
  checkpoint: SignedCheckpoint,
): Promise<void> {
  const foreign = foreignOrigin(witnessedLog(config, store), checkpoint.origin);
  if (foreign !== undefined) throw new Refused(`--checkpoint: ${foreign}`);
  const own = await store.lastCheckpoint(checkpoint.origin);
  if (own !== undefined && own.size === checkpoint.size && own.rootHex !== bytesToHex(checkpoint.rootHash))
    throw new Refused(
      `--checkpoint: this party recorded another root for ${checkpoint.origin} at tree size ${own.size}: the log was forked; nothing restored`,
    );
}

/**
 * Record `checkpoint` (checked by {@link checkRestoreCheckpoint}) as the last the party witnessed,
 * unless it holds a record of that log already. Returns the line saying which.
 */
export async function recordRestoreCheckpoint(
  store: PartyStore,
  config: { logOrigin?: string },
  checkpoint: SignedCheckpoint,
): Promise<string> {
  const own = await store.lastCheckpoint(checkpoint.origin);
  if (own !== undefined)
    return `kept its own record of the log ${checkpoint.origin} (tree size ${own.size}); the checkpoint of size ${checkpoint.size} was not needed`;
  const claim = await store.claimCheckpoint(
    checkpoint.origin,
    { size: checkpoint.size, root: checkpoint.rootHash },
    witnessedLog(config, store).claimRule,
  );
  if (!claim.ok) throw new Refused(`--checkpoint: ${claim.message}`);
  await store.audit({
    at: new Date().toISOString(),
    event: 'checkpoint.restored',
    detail: {
      origin: checkpoint.origin,
      tree_size: checkpoint.size,
      root_hash: bytesToHex(checkpoint.rootHash),
    },
  });
  return `it holds the log ${checkpoint.origin} to tree size ${checkpoint.size} and on (root ${bytesToHex(checkpoint.rootHash).slice(0, 16)}…)`;
}
