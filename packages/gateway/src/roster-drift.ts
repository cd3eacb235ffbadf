/**
 * Parties that run another roster than the gateway. The roster is the trust root, handed around
 * out of band; a party whose copy differs (an approver or URL added on one side only) refuses
 * every evidence signature (`evidence.roster`), which otherwise shows only as sealing that never
 * ends. Each party reports the digest of the roster it runs on its unauthenticated `/healthz`.
 */
import { type Roster, rosterDigest } from '@aaps/agents';

export interface RosterDrift {
  party: string;
  /** The digest of the roster the party runs. */
  digest: string;
}

/**
 * The parties answering `/healthz` with another roster digest than `roster`'s (in roster order). A
 * party that does not answer in `timeoutMs` is left out: reachability is reported elsewhere.
 */
export async function rosterDrift(
  roster: Roster,
  opts: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<RosterDrift[]> {
  const own = rosterDigest(roster);
  const get = opts.fetch ?? fetch;
  const answers = await Promise.all(
    roster.parties.map(async (p): Promise<RosterDrift | undefined> => {
      try {
        const res = await get(new URL('/healthz', p.url), {
          signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
        });
        const digest = ((await res.json()) as { roster_digest?: unknown }).roster_digest;
        return typeof digest === 'string' && digest !== own ? { party: p.id, digest } : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((a) => a !== undefined);
}

/** One line for an operator about a party in {@link rosterDrift}. */
export function describeDrift(d: RosterDrift, roster: Roster): string {
  return (
    `roster: ${d.party} runs another roster (${d.digest.slice(0, 16)}…) than this gateway ` +
    `(${rosterDigest(roster).slice(0, 16)}…); it refuses evidence (evidence.roster) until every party ` +
    'and the gateway run the same roster.json'
  );
}
