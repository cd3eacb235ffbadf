/**
 * Proactive share refresh across the party processes, with the reconciliation it needs because
 * parties apply it one by one: a party the refresh did not reach keeps its old share, which no
 * longer combines with the others'. Before refreshing, every party must answer and any party on
 * another package than the gateway's (a missed refresh, a lost key) is repaired from k holders.
 * After a refresh that failed part-way, the package that k parties hold wins and the reachable
 * others are repaired onto it. The group key never changes. Secrets never pass through here:
 * refresh and repair relay only sealed boxes (`runRefreshOverHttp`, `runRepairOverHttp`).
 */
import { type PartyClient, type Roster, runRefreshOverHttp, runRepairOverHttp } from '@aaps/agents';
import {
  AapsError,
  type AnyCiphersuite,
  bytesToHex,
  canonicalize,
  isAapsError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
} from '@aaps/mpc-core';

/** What every party holds, as `key.info` tells it. */
interface Survey {
  /** Party id to its public package, as canonical JSON text. */
  held: Map<string, string>;
  /** Canonical text to the package's JSON value. */
  packages: Map<string, unknown>;
  noKey: string[];
  unreachable: { id: string; why: string }[];
}

const whyOf = (e: unknown): string =>
  isAapsError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);

async function survey(client: PartyClient, roster: Roster, session: string): Promise<Survey> {
  const answers = await Promise.allSettled(
    roster.parties.map((p) => client.call<{ public_package: unknown }>(p.id, 'key.info', session, {})),
  );
  const out: Survey = { held: new Map(), packages: new Map(), noKey: [], unreachable: [] };
  answers.forEach((a, i) => {
    const id = roster.parties[i]!.id;
    if (a.status === 'fulfilled') {
      const text = canonicalize(a.value.public_package);
      out.held.set(id, text);
      out.packages.set(text, a.value.public_package);
    } else if (isAapsError(a.reason) && a.reason.code === 'NO_KEY') out.noKey.push(id);
    else out.unreachable.push({ id, why: whyOf(a.reason) });
  });
  return out;
}

const holdersOf = (s: Survey, text: string) => [...s.held].filter(([, t]) => t === text).map(([id]) => id);

/** Who holds what, for an error: `old` is `old`'s holders, every other package is `new`. */
function describe(s: Survey, old: string): string {
  return [...new Set(s.held.values())]
    .map((t) => `${t === old ? 'old' : 'new'} package: ${holdersOf(s, t).join(', ')}`)
    .concat(
      s.unreachable.map((u) => `${u.id} unreachable`),
      s.noKey.map((id) => `${id} has no key`),
    )
    .join('; ');
}

/** Repair each of `stale` onto `pkg`, helped by the first k of `holders`. */
export async function repairOnto(
  client: PartyClient,
  roster: Roster,
  pkg: unknown,
  holders: readonly string[],
  stale: readonly string[],
  say: (line: string) => void,
): Promise<string[]> {
  const helpers = holders.slice(0, roster.threshold.min);
  for (const lost of stale) {
    await runRepairOverHttp(client, {
      sessionId: `repair-${lost}-${Date.now().toString(36)}`,
      lost,
      helpers,
      publicPackage: pkg,
      progress: say,
    });
  }
  return [...stale];
}

export interface RefreshOutcome {
  /**
   * The package k or more parties now hold (`PublicKeyPackageCodec` JSON), every reachable one
   * once repaired: the gateway signs under it from now on, whether or not the refresh completed.
   */
  publicPackage: unknown;
  repaired: string[];
  /** Set when the refresh did not take: the shares are those of the package before it. */
  failed?: AapsError;
}

/**
 * Refresh every party's share of the group key `current` (the package the gateway signs with).
 * `client` should have a generous timeout: a refresh round waits on every party.
 */
export async function refreshAcrossParties(opts: {
  client: PartyClient;
  roster: Roster;
  suite: AnyCiphersuite;
  current: PublicKeyPackage;
  say: (line: string) => void;
}): Promise<RefreshOutcome> {
  const { client, roster, suite, say } = opts;
  const k = roster.threshold.min;
  const currentJson = PublicKeyPackageCodec.toJSON(suite.id, opts.current);
  const currentText = canonicalize(currentJson);
  const stamp = Date.now().toString(36);

  const before = await survey(client, roster, `refresh-check-${stamp}`);
  if (before.unreachable.length > 0) {
    throw new AapsError(
      'UNAVAILABLE',
      `a refresh needs every party, and ${before.unreachable.map((u) => `${u.id} (${u.why})`).join(', ')} did not answer`,
    );
  }
  // The package to refresh: the gateway's when k parties hold it; else one that k parties hold
  // under the same group key (a refresh the gateway did not record: it stopped before saving).
  const held = [...new Set(before.held.values())];
  const base =
    holdersOf(before, currentText).length >= k
      ? currentText
      : held.find((t) => holdersOf(before, t).length >= k);
  if (base === undefined) {
    throw new AapsError(
      'CONFLICT',
      `no key package is held by ${k} parties (${describe(before, currentText)}): repair or re-key first`,
    );
  }
  const baseJson = before.packages.get(base) ?? currentJson;
  const baseKey = PublicKeyPackageCodec.fromJSON(baseJson, suite.id).value.groupPublicKey;
  if (bytesToHex(baseKey) !== bytesToHex(opts.current.groupPublicKey)) {
    throw new AapsError(
      'CONFLICT',
      `the parties hold another group key (${bytesToHex(baseKey)}) than the gateway (${bytesToHex(opts.current.groupPublicKey)}): a refresh keeps the group key; restart the gateway to take theirs`,
    );
  }
  if (base !== currentText)
    say(
      'refresh: the parties hold a newer package than the gateway (a refresh it did not record): taking it',
    );
  const holders = holdersOf(before, base);
  const stale = roster.parties.map((p) => p.id).filter((id) => !holders.includes(id));
  const repaired: string[] = [];
  if (stale.length > 0) {
    say(`refresh: ${stale.join(', ')} not on the group's key package: repairing first`);
    try {
      repaired.push(...(await repairOnto(client, roster, baseJson, holders, stale, say)));
    } catch (cause) {
      const failed = new AapsError(
        isAapsError(cause) ? cause.code : 'UNAVAILABLE',
        `repairing ${stale.join(', ')} before the refresh failed (${whyOf(cause)}); nothing was refreshed`,
        { cause },
      );
      return { publicPackage: baseJson, repaired, failed };
    }
  }

  try {
    const result = await runRefreshOverHttp(client, suite, { sessionId: `refresh-${stamp}`, progress: say });
    return { publicPackage: PublicKeyPackageCodec.toJSON(suite.id, result.publicPackage), repaired };
  } catch (cause) {
    return await reconcile(cause, base);
  }

  /** After a failed refresh: settle every reachable party on the package k of them hold. */
  async function reconcile(cause: unknown, base: string): Promise<RefreshOutcome> {
    const failure = whyOf(cause);
    say(`refresh: failed (${failure}); checking what each party holds`);
    const after = await survey(client, roster, `refresh-reconcile-${stamp}`);
    const texts = [...new Set(after.held.values())];
    const fresh = texts.find((t) => t !== base && holdersOf(after, t).length >= k);
    const winner = fresh ?? (holdersOf(after, base).length >= k ? base : undefined);
    const summary = describe(after, base);
    if (winner === undefined) {
      throw new AapsError(
        'UNAVAILABLE',
        `the refresh failed (${failure}) and no key package is held by ${k} parties (${summary}): start every party and refresh again`,
        { cause },
      );
    }
    const owners = holdersOf(after, winner);
    const behind = roster.parties
      .map((p) => p.id)
      .filter((id) => !owners.includes(id) && !after.unreachable.some((u) => u.id === id));
    if (behind.length > 0) {
      say(`refresh: repairing ${behind.join(', ')} onto the ${winner === base ? 'old' : 'new'} package`);
      repaired.push(...(await repairOnto(client, roster, after.packages.get(winner), owners, behind, say)));
    }
    const missing = after.unreachable.map((u) => u.id);
    if (winner === base) {
      const error = new AapsError(
        isAapsError(cause) ? cause.code : 'UNAVAILABLE',
        `the refresh failed before ${k} parties applied it (${failure}); the shares are unchanged${
          missing.length > 0 ? ` (${missing.join(', ')} unreachable)` : ''
        }`,
        { cause },
      );
      return { publicPackage: after.packages.get(winner), repaired, failed: error };
    }
    say(
      `refresh: completed after a partial failure (${failure})${
        missing.length > 0
          ? `; ${missing.join(', ')} unreachable, still on the old share: refresh again once it is up`
          : ''
      }`,
    );
    return { publicPackage: after.packages.get(winner), repaired };
  }
}
