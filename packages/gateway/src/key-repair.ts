/**
 * An operator's repair of parties' key shares onto the gateway's package (`POST /v1/keys/repair`,
 * `aaps keys repair`): a party whose disk was wiped (it holds no key) or that holds another sharing
 * of the group key (a refresh it missed, a backup from before one restored) gets a share of the
 * gateway's sharing back from k of its holders. Unlike a refresh, it needs only the parties
 * repaired and k holders: other parties may be down. Nothing else changes: the group key and every
 * verifying share stay, and no party on the package is touched (nothing to rebuild; a party given
 * back the share it holds would keep its nonces, one given another share drops them).
 *
 * Refused before anything changes: fewer than k parties hold the gateway's package (the message
 * says who holds what), or a named party is not in the roster. A party holding another group key
 * is never repaired over: that would destroy a key nothing here can check is unused.
 */
import type { PartyClient, Roster } from '@aaps/agents';
import { AapsError, canonicalize, ValidationError } from '@aaps/mpc-core';
import { describeHoldings, holdersOf, repairOnto, survey } from './key-refresh.js';
import { describeSilent, silenceRemedy } from './silent-parties.js';

export interface RepairOutcome {
  /** Parties now on the gateway's package, in roster order. */
  repaired: string[];
  /** Parties asked for (or, with none named, every answering party) that already held it. */
  upToDate: string[];
  /** Parties to repair whose repair failed or could not start, with why. */
  failed: { id: string; why: string }[];
}

/**
 * Repair `parties` (default: every party that answers and is not on `publicPackage`) onto the
 * gateway's package `publicPackage` (its `PublicKeyPackageCodec` JSON), helped by k of its holders.
 */
export async function repairParties(opts: {
  client: PartyClient;
  roster: Roster;
  publicPackage: unknown;
  groupKey: string;
  parties?: readonly string[];
  session: string;
  say: (line: string) => void;
}): Promise<RepairOutcome> {
  const { roster, say } = opts;
  const ids = roster.parties.map((p) => p.id);
  const named = opts.parties === undefined ? undefined : [...new Set(opts.parties)];
  // Field paths index the request's own list (duplicates included).
  const unknown = (opts.parties ?? []).map((id, i) => ({ id, i })).filter(({ id }) => !ids.includes(id));
  if (unknown.length > 0) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `not in the roster: ${[...new Set(unknown.map((u) => u.id))].join(', ')} (the parties are ${ids.join(', ')})`,
      unknown.map((u) => `parties[${u.i}]`),
    );
  }
  const k = roster.threshold.min;
  const found = await survey(opts.client, roster, opts.session);
  const text = canonicalize(opts.publicPackage);
  const holders = holdersOf(found, text);
  if (holders.length < k) {
    throw new AapsError(
      'CONFLICT',
      `a repair needs ${k} parties holding this gateway's key package to help, and ${holders.length} answered with it (${describeHoldings(found, text, opts.groupKey, 'it')}): ` +
        (found.silent.length > 0
          ? silenceRemedy(found.silent, 'repair again')
          : '`aaps keys refresh` takes the sharing most parties hold and repairs the others'),
    );
  }
  // With none named: every party that answered (a holder is up to date; the silent are not asked).
  const targets = named ?? ids.filter((id) => !found.silent.some((s) => s.id === id));
  const out: RepairOutcome = { repaired: [], upToDate: [], failed: [] };
  const lost: string[] = [];
  for (const id of targets) {
    const silent = found.silent.find((s) => s.id === id);
    const held = found.held.get(id);
    if (holders.includes(id)) out.upToDate.push(id);
    else if (silent !== undefined)
      out.failed.push({ id, why: `${describeSilent([silent])}: ${silenceRemedy([silent], 'repair again')}` });
    else if (held !== undefined && found.groupKeys.get(held) !== opts.groupKey)
      out.failed.push({
        id,
        why: `holds another group key (${found.groupKeys.get(held)}), which a repair would destroy: restore that party's store (aaps party restore), or move its key away if it is unused`,
      });
    else lost.push(id);
  }
  if (named === undefined && found.silent.length > 0)
    say(`repair: not asked (${describeSilent(found.silent)}): repair again once they answer`);
  if (out.upToDate.length > 0)
    say(
      `repair: ${out.upToDate.join(', ')} already ${out.upToDate.length === 1 ? 'holds' : 'hold'} the gateway's key package`,
    );
  for (const id of lost) {
    say(
      found.noKey.includes(id)
        ? `repair: ${id} holds no key: repairing its share from ${k} of ${holders.join(', ')}`
        : `repair: ${id} holds another sharing of the group key (a refresh it missed, or an old backup restored): repairing its share from ${k} of ${holders.join(', ')}`,
    );
  }
  const fixed = await repairOnto(opts.client, roster, opts.publicPackage, holders, lost, say);
  out.repaired = fixed.repaired;
  out.failed.push(...fixed.failed);
  const order = (list: string[]) => list.sort((a, b) => ids.indexOf(a) - ids.indexOf(b));
  order(out.repaired);
  order(out.upToDate);
  out.failed.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
  return out;
}
