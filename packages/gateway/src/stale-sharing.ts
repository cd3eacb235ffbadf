/**
 * After a signing in which parties' shares failed their check (RFC 9591 §5.4): were they cheating,
 * or is a party (or the gateway) on another sharing of the same group key? A party restored from a
 * backup taken before a key refresh holds the group key, and its share is a good share of the old
 * sharing: it fails against the current verifying shares every time, with no fault of its own that
 * a person could see. Likewise a gateway whose `public-package.json` came back from such a backup
 * checks honest parties' current shares against old verifying shares.
 *
 * So the coordinator asks every party what it holds (`key.info`, {@link survey}) and:
 * - when k or more parties hold the gateway's own package, each culprit that holds another
 *   sharing of the same group key is **stale**: it is repaired onto the gateway's package, helped
 *   by k of its holders ({@link repairOnto}), and the signing can be tried again;
 * - when fewer than k hold the gateway's package and k or more hold another sharing of the same
 *   group key, the gateway's package is the odd one: **nobody is named a cheat** (the culprits'
 *   shares are good shares of the sharing most parties hold), and the failure says so.
 *
 * A package gives no order: a sharing held by more parties is not thereby newer. Repair only ever
 * moves a party onto a sharing k parties hold and whose shares combine under the group key, so it
 * cannot resurrect a sharing fewer than k parties kept.
 */
import type { PartyClient, Roster } from '@aaps/agents';
import { canonicalize } from '@aaps/mpc-core';
import { holdersOf, repairOnto, survey } from './key-refresh.js';

export type SharingVerdict =
  /** The culprits hold the gateway's package (or could not be asked): shares that fail are theirs. */
  | { kind: 'culprits' }
  /** These culprits were on another sharing and are now repaired onto the gateway's package. */
  | { kind: 'repaired'; repaired: string[]; failed: { id: string; why: string }[] }
  /** Fewer than k parties hold the gateway's package; `holders` of another sharing are k or more. */
  | { kind: 'gateway-odd'; message: string; holders: string[]; ours: string[] };

export async function reconcileSharings(opts: {
  client: PartyClient;
  roster: Roster;
  /** The gateway's public package, as the JSON value `PublicKeyPackageCodec.toJSON` gives. */
  publicPackage: unknown;
  groupKey: string;
  culprits: readonly string[];
  session: string;
  say: (line: string) => void;
}): Promise<SharingVerdict> {
  const { roster } = opts;
  const k = roster.threshold.min;
  const found = await survey(opts.client, roster, opts.session);
  // The survey keys packages by their canonical JSON text, as this is.
  const text = canonicalize(opts.publicPackage);
  const ours = holdersOf(found, text);
  const sameKey = (t: string) => found.groupKeys.get(t) === opts.groupKey;
  if (ours.length >= k) {
    const stale = opts.culprits.filter((id) => {
      const held = found.held.get(id);
      return held !== undefined && held !== text && sameKey(held);
    });
    if (stale.length === 0) return { kind: 'culprits' };
    for (const id of stale)
      opts.say(
        `keys: ${id} holds another sharing of group key ${opts.groupKey} than the ${ours.length} parties signing with this gateway (a backup from before a key refresh restored?): repairing its share`,
      );
    const fixed = await repairOnto(opts.client, roster, opts.publicPackage, ours, stale, opts.say);
    return { kind: 'repaired', ...fixed };
  }
  const other = [...new Set(found.held.values())]
    .filter((t) => t !== text && sameKey(t))
    .map((t) => holdersOf(found, t))
    .sort((a, b) => b.length - a.length)[0];
  if (other === undefined || other.length < k) return { kind: 'culprits' };
  return {
    kind: 'gateway-odd',
    holders: other,
    ours,
    message:
      `${other.length} parties (${other.join(', ')}) hold another sharing of group key ${opts.groupKey} than this gateway's public-package.json, ` +
      `which ${ours.length === 0 ? 'no party holds' : `only ${ours.join(', ')} hold${ours.length === 1 ? 's' : ''}`} (fewer than ${k}): ` +
      'their shares are checked against verifying shares they no longer hold, so nobody is named a cheat. ' +
      'One of the two is from before a key refresh (a backup restored on this gateway or on those parties): ' +
      '`aaps keys refresh` takes the sharing most parties hold, repairs the others and retires both',
  };
}
