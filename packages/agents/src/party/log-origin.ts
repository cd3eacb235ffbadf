/**
 * The transparency log a party witnesses, named by its origin: the configured `log_origin` when
 * there is one (an operator moves parties to a new log by setting it), else the origin the
 * party's store pinned with the first checkpoint it signed or witnessed (`PartyStore.claimCheckpoint`).
 * Checkpoint signing, checkpoint witnessing and the unseal record check all read it from here, so
 * a party never signs for, advances or releases on a log other than the one it watches.
 */
import type { OriginRule, PartyStore } from '../store/level.js';

export interface WitnessedLog {
  /** The origin, or `undefined` while none is configured and none pinned yet. */
  origin: string | undefined;
  /** Where it comes from: the configuration, the store's pin, or nowhere yet. */
  source: 'configured' | 'pinned' | 'none';
  /** How a checkpoint claim treats origins for this party. */
  claimRule: OriginRule;
}

export function witnessedLog(
  config: { logOrigin?: string },
  store: Pick<PartyStore, 'pinnedLogOrigin'>,
): WitnessedLog {
  if (config.logOrigin !== undefined)
    return { origin: config.logOrigin, source: 'configured', claimRule: 'configured' };
  const pinned = store.pinnedLogOrigin();
  return { origin: pinned, source: pinned === undefined ? 'none' : 'pinned', claimRule: 'pin' };
}

/**
 * Why a checkpoint of `origin` is not of the log this party witnesses (a `checkpoint.origin`
 * message), or `undefined` when it is, or when no log is pinned yet (the claim pins it).
 */
export function foreignOrigin(log: WitnessedLog, origin: string): string | undefined {
  if (log.origin === undefined || log.origin === origin) return undefined;
  return log.source === 'configured'
    ? `this party signs checkpoints of ${log.origin} only, not ${origin}`
    : `this party witnesses the log ${log.origin} only (pinned), not ${origin}; set log_origin to move it to another log`;
}
