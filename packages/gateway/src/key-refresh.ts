/**
 * Proactive share refresh across the party processes. A refresh takes effect in two phases: each
 * party keeps its refreshed share pending until a commit shows every party verified the refresh
 * (`party/key-commit.ts` in the agents), so a refresh that fails in round 3 (one party dealing bad
 * shares to some peers, say) changes nobody's share. A commit can still reach only some parties
 * (a crash, a party down): such a party is committed later from the others' statements
 * (`finishKeyCommits`), or, if it lost its pending share, repaired from k holders. Before
 * refreshing, every party must answer and any party on another package than the gateway's (a
 * missed commit, a lost key) is brought onto it. The group key never changes. Secrets never pass
 * through here: refresh and repair relay only sealed boxes (`runRefreshOverHttp`,
 * `runRepairOverHttp`).
 */
import {
  finishKeyCommits,
  frostIdentifier,
  type PartyClient,
  type Roster,
  runRefreshOverHttp,
  runRepairOverHttp,
} from '@aaps/agents';
import {
  AapsError,
  type AnyCiphersuite,
  bytesToHex,
  canonicalize,
  isAapsError,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
} from '@aaps/mpc-core';
import { describeSilent, type SilentParty, silenceRemedy, silentParty } from './silent-parties.js';

/** What every party holds, as `key.info` tells it. */
export interface Survey {
  /** Party id to its public package, as canonical JSON text. */
  held: Map<string, string>;
  /** Canonical text to the package's JSON value. */
  packages: Map<string, unknown>;
  /** Canonical text to the package's group key (hex), as the parties state it. */
  groupKeys: Map<string, string>;
  noKey: string[];
  /** Parties that gave no answer (down, timed out, refusing the gateway's calls, an error), and why. */
  silent: SilentParty[];
}

const whyOf = (e: unknown): string =>
  isAapsError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);

/** Ask every party what it holds (`key.info`); never throws for one party. */
export async function survey(client: PartyClient, roster: Roster, session: string): Promise<Survey> {
  const answers = await Promise.allSettled(
    roster.parties.map((p) =>
      client.call<{ public_package: unknown; group_public_key: string }>(p.id, 'key.info', session, {}),
    ),
  );
  const out: Survey = {
    held: new Map(),
    packages: new Map(),
    groupKeys: new Map(),
    noKey: [],
    silent: [],
  };
  answers.forEach((a, i) => {
    const id = roster.parties[i]!.id;
    if (a.status === 'fulfilled') {
      // An answer without a valid package is no answer: one party's must not fail the survey (a
      // repair needs only the parties repaired and k holders). The group key is the package's own.
      let pkg: PublicKeyPackage;
      try {
        pkg = PublicKeyPackageCodec.fromJSON(a.value.public_package, roster.ciphersuite).value;
      } catch (e) {
        out.silent.push(
          silentParty(
            id,
            new AapsError(
              'INCONSISTENT_TRANSCRIPT',
              `answered key.info without a valid key package (${whyOf(e)})`,
            ),
          ),
        );
        return;
      }
      const text = canonicalize(a.value.public_package);
      out.held.set(id, text);
      out.packages.set(text, a.value.public_package);
      out.groupKeys.set(text, bytesToHex(pkg.groupPublicKey));
    } else if (isAapsError(a.reason) && a.reason.code === 'NO_KEY') out.noKey.push(id);
    else out.silent.push(silentParty(id, a.reason));
  });
  return out;
}

/** The parties holding the package `text`. */
export const holdersOf = (s: Survey, text: string) =>
  [...s.held].filter(([, t]) => t === text).map(([id]) => id);

/** The package the most parties hold (`prefer` on a tie, else the first found); none when no party holds one. */
export function mostHeld(s: Survey, prefer?: string): string | undefined {
  return [...new Set(s.held.values())]
    .map((t) => ({ t, n: holdersOf(s, t).length }))
    .sort((x, y) => y.n - x.n || Number(y.t === prefer) - Number(x.t === prefer))[0]?.t;
}

/**
 * Who holds what, for an error: the holders of `text` (named `label`), then those of each other
 * package (another sharing of `groupKey`, or another group key), those with no key and the silent.
 */
export function describeHoldings(s: Survey, text: string, groupKey: string, label: string): string {
  const holders = holdersOf(s, text);
  return [
    holders.length === 0 ? `no party holds ${label}` : `${holders.join(', ')} hold ${label}`,
    ...[...new Set(s.held.values())]
      .filter((t) => t !== text)
      .map(
        (t) =>
          `${holdersOf(s, t).join(', ')} ${s.groupKeys.get(t) === groupKey ? 'another sharing of the group key' : `another group key (${s.groupKeys.get(t)})`}`,
      ),
    ...(s.noKey.length > 0 ? [`${s.noKey.join(', ')} no key`] : []),
    ...(s.silent.length > 0 ? [describeSilent(s.silent)] : []),
  ].join('; ');
}

/** Every `k`-subset of `items`, in order (lexicographic by position). */
function* subsets<T>(items: readonly T[], k: number, from = 0): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - k; i++)
    for (const rest of subsets(items, k - 1, i + 1)) yield [items[i]!, ...rest];
}

/**
 * Who an error names. `party`: the party it came from (the client sets `details.party`), with
 * `answered` true when that party sent the error itself (`details.status`: a timeout or no
 * connection has none). `culprits`: those the coordinator proved (`ProtocolError.culprits`, FROST
 * identifiers; a party's error body never becomes one). `claimed`: those an error body named
 * (`details.claimed_culprits`), unsigned: carried for the record, never acted on.
 */
interface Named {
  party?: string;
  answered: boolean;
  culprits: readonly string[];
  claimed?: unknown;
}

/** What error `e` names (`Named`); nothing for an error that is not an `AapsError`. */
function namedBy(e: unknown): Named {
  if (!isAapsError(e)) return { answered: false, culprits: [] };
  const details = (e.details ?? {}) as { party?: unknown; status?: unknown; claimed_culprits?: unknown };
  return {
    ...(typeof details.party === 'string' ? { party: details.party } : {}),
    answered: typeof details.party === 'string' && typeof details.status === 'number',
    culprits: e instanceof ProtocolError ? e.culprits : [],
    ...(details.claimed_culprits === undefined ? {} : { claimed: details.claimed_culprits }),
  };
}

/**
 * Repair each of `stale` onto `pkg`, helped by k of `holders` (each helper checks it holds
 * `pkg`). When a repair fails because of a helper it is tried again with another k of the
 * holders, until no set is left: one holder that will not help cannot keep a party from its share
 * while k others can. A helper is left out of the later sets (for this lost party only) when it
 * failed on its own (its error, a timeout) or the coordinator proved it a culprit; never because
 * an error body names it (unsigned: a lying party would shut honest helpers out). A helper whose
 * error accuses other helpers, and the lost party when it answers an error, may be telling the
 * truth or lying, so nobody is left out and the other sets are tried. Every party is tried;
 * returns those repaired and those whose repair failed, with why.
 */
export async function repairOnto(
  client: PartyClient,
  roster: Roster,
  pkg: unknown,
  holders: readonly string[],
  stale: readonly string[],
  say: (line: string) => void,
): Promise<{ repaired: string[]; failed: { id: string; why: string }[] }> {
  const k = roster.threshold.min;
  const out: { repaired: string[]; failed: { id: string; why: string }[] } = { repaired: [], failed: [] };
  for (const lost of stale) {
    // Helpers that failed this party's repair are not asked again for it.
    const shunned = new Set<string>();
    let why = `fewer than ${k} holders to help (${holders.join(', ') || 'none'})`;
    let done = false;
    for (const helpers of subsets(holders, k)) {
      if (helpers.some((h) => shunned.has(h))) continue;
      try {
        await runRepairOverHttp(client, {
          sessionId: `repair-${lost}-${Date.now().toString(36)}-${helpers.join('.')}`,
          lost,
          helpers,
          publicPackage: pkg,
          progress: say,
        });
        done = true;
        break;
      } catch (e) {
        why = whyOf(e);
        const next = afterFailure(namedBy(e), roster, lost, helpers);
        if (next === 'stop') break;
        for (const h of next) shunned.add(h);
        const left = next.length > 0 ? `${next.join(', ')} did not help` : 'failed';
        say(`repair of ${lost}: ${left} (${why}); trying other helpers`);
      }
    }
    if (done) out.repaired.push(lost);
    else out.failed.push({ id: lost, why });
  }
  return out;
}

/**
 * What a failed repair of `lost` by `helpers` means for the next try: the helpers to leave out
 * (possibly none: try the other sets all the same), or `stop` when no other set can change the
 * outcome (the lost party did not answer, or nobody in the repair is named).
 */
function afterFailure(
  named: Named,
  roster: Roster,
  lost: string,
  helpers: readonly string[],
): string[] | 'stop' {
  const proven = roster.parties
    .filter((p) => helpers.includes(p.id) && named.culprits.includes(frostIdentifier(roster, p)))
    .map((p) => p.id);
  if (proven.length > 0) return proven;
  if (named.party === lost) return named.answered ? [] : 'stop';
  if (named.party === undefined || !helpers.includes(named.party)) return 'stop';
  // A helper that accuses another may be the honest one that received a bad part: leave nobody out.
  const accuses = Array.isArray(named.claimed) && named.claimed.length > 0;
  return named.answered && accuses ? [] : [named.party];
}

/** The parties a refresh failure names (its proven culprits, or those a party claimed), to carry on. */
function culpritDetails(cause: unknown): Record<string, unknown> | undefined {
  const { culprits, claimed } = namedBy(cause);
  const out: Record<string, unknown> = {};
  if (culprits.length > 0) out.culprits = [...culprits];
  if (claimed !== undefined) out.claimed_culprits = claimed;
  return Object.keys(out).length > 0 ? out : undefined;
}

const listFailed = (failed: readonly { id: string; why: string }[]) =>
  failed.map((f) => `${f.id} (${f.why})`).join(', ');

export interface RefreshOutcome {
  /**
   * The package k or more parties now hold (`PublicKeyPackageCodec` JSON): the gateway signs
   * under it from now on, whether or not the refresh completed.
   */
  publicPackage: unknown;
  repaired: string[];
  /** Set when the refresh did not complete, or a party could not be repaired onto the package. */
  failed?: AapsError;
}

/**
 * Refresh every party's share of the group key `current` (the package the gateway signs with).
 * `client`'s timeout bounds how long one silent party holds the refresh (and the signings that
 * wait for it).
 */
export async function refreshAcrossParties(opts: {
  client: PartyClient;
  roster: Roster;
  suite: AnyCiphersuite;
  current: PublicKeyPackage;
  say: (line: string) => void;
  /** Called once every party answered and stale ones were repaired, just before round 1. */
  beforeRefresh?: () => Promise<void>;
}): Promise<RefreshOutcome> {
  const { client, roster, suite, say } = opts;
  const k = roster.threshold.min;
  const ids = roster.parties.map((p) => p.id);
  const currentText = canonicalize(PublicKeyPackageCodec.toJSON(suite.id, opts.current));
  const groupKey = bytesToHex(opts.current.groupPublicKey);
  const stamp = Date.now().toString(36);
  /** Whether a package (JSON) shares the gateway's group key and threshold: a refresh of it. */
  const sameGroup = (json: unknown): boolean => {
    const pkg = PublicKeyPackageCodec.fromJSON(json, suite.id).value;
    return (
      bytesToHex(pkg.groupPublicKey) === bytesToHex(opts.current.groupPublicKey) &&
      pkg.threshold.min === opts.current.threshold.min &&
      pkg.threshold.max === opts.current.threshold.max
    );
  };
  /** The package the most parties hold, if k do: the gateway's own when it ties. */
  const groupPackage = (s: Survey): string | undefined => {
    const t = mostHeld(s, currentText);
    return t !== undefined && holdersOf(s, t).length >= k ? t : undefined;
  };

  // A commit a crash cut short (every party verified its pending share) is finished first.
  await finishKeyCommits(client, say);
  const before = await survey(client, roster, `refresh-check-${stamp}`);
  if (before.silent.length > 0) {
    throw new AapsError(
      'UNAVAILABLE',
      `a refresh needs every party, and not every party answered (${describeSilent(before.silent)}); nothing was refreshed: ${silenceRemedy(before.silent, 'refresh again')}`,
    );
  }
  const base = groupPackage(before);
  if (base === undefined) {
    throw new AapsError(
      'CONFLICT',
      `no key package is held by ${k} parties (${describeHoldings(before, currentText, groupKey, "this gateway's package")}): repair or re-key first`,
    );
  }
  const baseJson = before.packages.get(base);
  if (!sameGroup(baseJson)) {
    throw new AapsError(
      'CONFLICT',
      `the parties hold another group key or threshold than the gateway: a refresh keeps both; restart the gateway to take theirs`,
    );
  }
  if (base !== currentText) {
    say(
      `refresh: ${holdersOf(before, base).length} parties hold another key package than the gateway's (a refresh it did not record, or shares restored from backups): taking theirs`,
    );
  }
  const holders = holdersOf(before, base);
  const stale = ids.filter((id) => !holders.includes(id));
  const repaired: string[] = [];
  if (stale.length > 0) {
    say(`refresh: ${stale.join(', ')} not on the group's key package: repairing first`);
    const fixed = await repairOnto(client, roster, baseJson, holders, stale, say);
    repaired.push(...fixed.repaired);
    if (fixed.failed.length > 0) {
      const failed = new AapsError(
        'UNAVAILABLE',
        `repairing ${listFailed(fixed.failed)} before the refresh failed; nothing was refreshed`,
      );
      return { publicPackage: baseJson, repaired, failed };
    }
  }

  await opts.beforeRefresh?.();
  let result: Awaited<ReturnType<typeof runRefreshOverHttp>>;
  try {
    result = await runRefreshOverHttp(client, suite, { sessionId: `refresh-${stamp}`, progress: say });
  } catch (cause) {
    return reconcile(cause, base, baseJson);
  }
  return { publicPackage: PublicKeyPackageCodec.toJSON(suite.id, result.publicPackage), repaired };

  /**
   * After a failed refresh (every call has settled): settle every reachable party on the package
   * k of them hold: the refreshed one when k committed it (a commit that failed at the others),
   * else the one before (a round 3 that failed anywhere: nobody committed).
   */
  async function reconcile(cause: unknown, base: string, baseJson: unknown): Promise<RefreshOutcome> {
    const failure = whyOf(cause);
    say(`refresh: failed (${failure}); checking what each party holds`);
    // Every party verified but a commit failed somewhere: finish it where it can be.
    await finishKeyCommits(client, say);
    const after = await survey(client, roster, `refresh-reconcile-${stamp}`);
    const fresh = [...new Set(after.held.values())].find(
      (t) => t !== base && holdersOf(after, t).length >= k && sameGroup(after.packages.get(t)),
    );
    const winner = fresh ?? (holdersOf(after, base).length >= k ? base : undefined);
    if (winner === undefined) {
      throw new AapsError(
        'UNAVAILABLE',
        `the refresh failed (${failure}) and no key package is held by ${k} parties (${describeHoldings(after, base, groupKey, 'the package before the refresh')}): start every party and refresh again`,
        { cause },
      );
    }
    const winnerJson = winner === base ? baseJson : after.packages.get(winner);
    const owners = holdersOf(after, winner);
    const unreachable = after.silent.map((u) => u.id);
    const behind = ids.filter((id) => !owners.includes(id) && !unreachable.includes(id));
    const problems: string[] = [];
    if (behind.length > 0) {
      say(
        `refresh: repairing ${behind.join(', ')} onto the ${winner === base ? 'package before it' : 'refreshed package'}`,
      );
      const fixed = await repairOnto(client, roster, winnerJson, owners, behind, say);
      repaired.push(...fixed.repaired);
      if (fixed.failed.length > 0) problems.push(`repairing ${listFailed(fixed.failed)} failed`);
    }
    if (after.silent.length > 0) problems.push(describeSilent(after.silent));
    const still =
      problems.length > 0 ? `; ${problems.join('; ')}: refresh again once every party answers` : '';
    if (winner === base) {
      const failed = new AapsError(
        isAapsError(cause) ? cause.code : 'UNAVAILABLE',
        `the refresh failed before ${k} parties committed it (${failure}); the shares are unchanged${still}`,
        // Who failed it, as the party that refused said (a claim) or the coordinator found.
        { cause, details: culpritDetails(cause) },
      );
      return { publicPackage: winnerJson, repaired, failed };
    }
    say(`refresh: completed at ${owners.length} parties after a partial failure (${failure})${still}`);
    if (problems.length > 0) {
      const failed = new AapsError(
        'UNAVAILABLE',
        `the refresh completed at ${owners.length} parties, but ${problems.join('; ')}: refresh again once every party answers`,
        { cause },
      );
      return { publicPackage: winnerJson, repaired, failed };
    }
    return { publicPackage: winnerJson, repaired };
  }
}
