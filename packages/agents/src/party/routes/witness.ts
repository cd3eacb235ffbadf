/**
 * `checkpoint.witness`: the gateway shows this party a log checkpoint that other parties signed
 * (docs/evidence.md, "What the parties check"), so that every party's witness record follows the
 * log, not only the k that sign each checkpoint. It signs nothing. The party checks the group's
 * signature over the checkpoint note, that the checkpoint is of the log it witnesses (configured
 * or pinned origin), and that it extends its own record (the same rule as for signing, with the
 * consistency proof the call carries); then it advances its record, synced. A fork, rollback or
 * foreign origin offered this way is refused with the signing rule's name, and logged and audited
 * as a warning: someone holds a group signature over another history.
 */
import { ED25519_SUITE, openCheckpoint, type SignedCheckpoint } from '@aaps/evidence';
import { AapsError, bytesToHex, PolicyRefusal, ValidationError, VerificationError } from '@aaps/mpc-core';
import type { PartyDeps, PartyState } from '../context.js';
import { foreignOrigin, witnessedLog } from '../log-origin.js';
import { consistencyProofs } from './sign.js';

/** Refusals that are no alarm: the party is only behind, and the gateway sends a proof from its size. */
const ROUTINE = new Set(['checkpoint.behind']);

export function createWitnessHandler(
  deps: Pick<PartyDeps, 'config' | 'store' | 'suite' | 'logger' | 'now'>,
  state: PartyState,
) {
  const now = deps.now ?? (() => new Date());

  const refuse = async (
    session: string,
    rule: string,
    message: string,
    what: Record<string, unknown>,
    signedSize?: number,
  ): Promise<never> => {
    const facts = signedSize === undefined ? {} : { signed_size: signedSize };
    const detail = { rule, ...what, ...facts };
    await deps.store.audit({ at: now().toISOString(), event: 'checkpoint.witness_refused', session, detail });
    if (ROUTINE.has(rule)) deps.logger.info('checkpoint.witness_refused', { session, ...detail });
    else deps.logger.warn('checkpoint.witness_refused', { session, ...detail, message });
    throw new PolicyRefusal(rule, message, { details: { rule, ...facts } });
  };

  return async function witness(session: string, body: Record<string, unknown>) {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key yet: run the DKG first');
    const note = body.note;
    if (typeof note !== 'string' || note.length === 0)
      throw new ValidationError('INVALID_ARGUMENT', 'note: expected a signed checkpoint note', ['body.note']);
    const consistency = consistencyProofs(body.consistency, 'body.consistency');
    // The log key is the group key under the log's origin (its first line) as key name.
    const name = note.slice(0, Math.max(0, note.indexOf('\n')));
    let checkpoint: SignedCheckpoint;
    try {
      checkpoint = openCheckpoint(note, [
        {
          name,
          type: deps.suite.id === ED25519_SUITE ? 'ed25519' : 'bip340',
          publicKey: state.key.publicPackage.groupPublicKey,
        },
      ]);
    } catch (e) {
      if (!(e instanceof VerificationError) && !(e instanceof ValidationError)) throw e;
      return refuse(
        session,
        'checkpoint.signature',
        `the checkpoint note does not verify under the group key: ${e.message}`,
        {},
      );
    }
    const what = {
      origin: checkpoint.origin,
      tree_size: checkpoint.size,
      root_hash: bytesToHex(checkpoint.rootHash),
    };
    const log = witnessedLog(deps.config, deps.store);
    const foreign = foreignOrigin(log, checkpoint.origin);
    if (foreign !== undefined) return refuse(session, 'checkpoint.origin', foreign, what);
    const claim = await deps.store.claimCheckpoint(
      checkpoint.origin,
      { size: checkpoint.size, root: checkpoint.rootHash, consistency },
      log.claimRule,
    );
    if (!claim.ok)
      return refuse(
        session,
        claim.rule,
        claim.message,
        what,
        'signed_size' in claim ? claim.signed_size : undefined,
      );
    await deps.store.audit({ at: now().toISOString(), event: 'checkpoint.witnessed', session, detail: what });
    return { witnessed: { origin: checkpoint.origin, tree_size: checkpoint.size } };
  };
}
