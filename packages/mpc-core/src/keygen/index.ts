/**
 * Key generation beyond the trusted dealer: the three-round DKG, proactive refresh and share
 * repair. Named functions, plus the `dkg`, `refresh` and `repair` namespaces the package exports.
 */
import { dkgRound1, dkgRound2, dkgRound3, runDkgLocally } from './dkg.js';
import { applyRefresh, refreshDealer, refreshRound1, refreshRound2, refreshRound3 } from './refresh.js';
import { repairStep1, repairStep2, repairStep3 } from './repair.js';

export {
  type DkgOutput,
  type DkgRound1Options,
  type DkgRound1Output,
  type DkgRound1Package,
  DkgRound1Secret,
  type DkgRound2Output,
  type DkgRound2Package,
  DkgRound2Secret,
  dkgRound1,
  dkgRound2,
  dkgRound3,
  type LocalDkgOptions,
  runDkgLocally,
} from './dkg.js';
export {
  applyRefresh,
  type RefreshDealerOutput,
  type RefreshOutput,
  type RefreshRound1Options,
  type RefreshRound1Package,
  RefreshRound1Secret,
  type RefreshRound2Package,
  RefreshRound2Secret,
  type RefreshShare,
  refreshDealer,
  refreshRound1,
  refreshRound2,
  refreshRound3,
} from './refresh.js';
export { type RepairDelta, type RepairSigma, repairStep1, repairStep2, repairStep3 } from './repair.js';

/** The DKG rounds (frost-rs `keys::dkg` part1..part3), and all parties in one process. */
export const dkg = Object.freeze({
  round1: dkgRound1,
  round2: dkgRound2,
  round3: dkgRound3,
  runLocally: runDkgLocally,
});

/** Proactive refresh: by a trusted dealer, or distributed in three rounds; then `apply`. */
export const refresh = Object.freeze({
  dealer: refreshDealer,
  round1: refreshRound1,
  round2: refreshRound2,
  round3: refreshRound3,
  apply: applyRefresh,
});

/** Share repair (frost-rs `keys::repairable`) in three steps. */
export const repair = Object.freeze({ step1: repairStep1, step2: repairStep2, step3: repairStep3 });
