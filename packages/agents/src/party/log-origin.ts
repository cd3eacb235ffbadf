/**
 * The transparency log a party witnesses, named by its origin: the configured `log_origin` when
 * there is one (an operator moves parties to a new log by setting it), else the origin the
 * party's store pinned with the first checkpoint it signed or witnessed (`PartyStore.claimCheckpoint`).
 * Checkpoint signing, checkpoint witnessing and the unseal record check all read it from here, so
 * a party never signs for, advances or releases on a log other than the one it watches.
 */
import { type OriginRule, outsidePin, type PartyStore } from '../store/level.js';

export interface WitnessedLog {
  /** The origin, or `undefined` while none is configured and none pinned yet. */
  origin: string | undefined;
  /**
   * Where it comes from: the configuration, the store's pin, nowhere yet (`none`), or nowhere yet
   * with records of several logs from before pins were kept (`undecided`: see `candidates`).
   */
  source: 'configured' | 'pinned' | 'none' | 'undecided';
  /** With `undecided`: the logs the party holds records of, one of which its next claim pins. */
  candidates: readonly string[];
  /** How a checkpoint claim treats origins for this party. */
  claimRule: OriginRule;
}

export function witnessedLog(
  config: { logOrigin?: string },
  store: Pick<PartyStore, 'pinnedLogOrigin' | 'undecidedLogOrigins'>,
): WitnessedLog {
  if (config.logOrigin !== undefined)
    return { origin: config.logOrigin, source: 'configured', candidates: [], claimRule: 'configured' };
  const pinned = store.pinnedLogOrigin();
  if (pinned !== undefined) return { origin: pinned, source: 'pinned', candidates: [], claimRule: 'pin' };
  const candidates = store.undecidedLogOrigins();
  return {
    origin: undefined,
    source: candidates.length > 0 ? 'undecided' : 'none',
    candidates,
    claimRule: 'pin',
  };
}

/**
 * Why a checkpoint of `origin` is not of the log this party witnesses (a `checkpoint.origin`
 * message), or `undefined` when it is, or when no log is pinned yet (the claim pins it; an
 * undecided party's claim pins one of its candidates only).
 */
export function foreignOrigin(log: WitnessedLog, origin: string): string | undefined {
  if (log.source !== 'configured') return outsidePin(log.origin, log.candidates, origin);
  return log.origin === origin
    ? undefined
    : `this party signs checkpoints of ${log.origin} only, not ${origin}`;
}

/** Why a party with no configured or pinned log knows none (for refusals that need one). */
export function noLogReason(log: WitnessedLog): string {
  return log.source === 'undecided'
    ? `this party holds checkpoint records of the logs ${log.candidates.join(', ')} from before origins were pinned and has pinned none of them (set log_origin to the one it witnesses)`
    : 'this party has witnessed no checkpoint of the log yet (no log_origin configured, none pinned)';
}
