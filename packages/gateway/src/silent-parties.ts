/**
 * Parties that gave the gateway no answer it could use, and why, for the one line an operator
 * reads. A party that is down and one that is up but refuses the gateway's calls (401/403: its
 * roster names another coordinator key, or another gateway id) need different remedies: starting
 * it again fixes the first, never the second.
 */
import { isAapsError } from '@aaps/mpc-core';

/**
 * How a party failed a call: `unreachable` (no connection), `timed out`, `refused` (it answered
 * 401 or 403: it does not take the gateway's calls), `unverified` (its answer is not signed by the
 * key the gateway's roster names for it), `failed` (any other error it answered).
 */
export type SilenceKind = 'unreachable' | 'timed out' | 'refused' | 'unverified' | 'failed';

export interface SilentParty {
  id: string;
  kind: SilenceKind;
  /** What the party (or the connection) said: `CODE: message`, without the party id. */
  why: string;
}

/** `id`'s failed call `e` (an `AapsError` from `PartyClient`, with `details.party` and `details.status`). */
export function silentParty(id: string, e: unknown): SilentParty {
  if (!isAapsError(e)) return { id, kind: 'failed', why: e instanceof Error ? e.message : String(e) };
  const status = (e.details as { status?: unknown } | undefined)?.status;
  // PartyClient prefixes the party's message with its id: said once, in the list.
  const said = e.message.startsWith(`${id}: `) ? e.message.slice(id.length + 2) : e.message;
  const why = `${e.code}: ${said}`;
  if (typeof status !== 'number') {
    if (e.code === 'TIMEOUT') return { id, kind: 'timed out', why };
    // An error answer the party did not sign for the call (PartyClient: `details.claimed`): no
    // answer from it. One that claims 401 or 403 is, from an honest party, its refusal before it
    // reads the call (a roster mismatch); said as claimed, for the remedy only.
    const claimed = (e.details as { claimed?: { status?: unknown; code?: unknown; message?: unknown } })
      ?.claimed;
    if (e.code === 'UNAVAILABLE' && (claimed?.status === 401 || claimed?.status === 403))
      return {
        id,
        kind: 'refused',
        why: `${String(claimed.code ?? 'UNAUTHENTICATED')}: ${String(claimed.message ?? '')}`,
      };
    if (e.code === 'INVALID_SIGNATURE') return { id, kind: 'unverified', why };
    if (e.code === 'UNAVAILABLE' && /is unreachable/.test(said)) return { id, kind: 'unreachable', why };
    return { id, kind: 'failed', why };
  }
  if (status === 401 || status === 403) return { id, kind: 'refused', why };
  return { id, kind: 'failed', why };
}

/**
 * `silent` for a message, grouped by what each party said: `unreachable: a, b; refused
 * (UNAUTHENTICATED: …): c, d`. Every party is named, each once, in the order given.
 */
export function describeSilent(silent: readonly SilentParty[]): string {
  const groups = new Map<string, string[]>();
  for (const s of silent) {
    // A lost connection or a timeout says nothing a party chose to say: its kind is the reason.
    const label = s.kind === 'unreachable' || s.kind === 'timed out' ? s.kind : `${s.kind} (${s.why})`;
    groups.set(label, [...(groups.get(label) ?? []), s.id]);
  }
  return [...groups].map(([label, ids]) => `${label}: ${ids.join(', ')}`).join('; ');
}

/**
 * What to do about `silent`: a party that refuses the gateway's calls or whose answer does not
 * verify runs with another roster than the gateway (a gateway identity key, id, or party key that
 * differs), which no restart fixes; any other needs starting (or its error fixing). `retry` ends
 * the remedy (e.g. `retry`, `refresh again`).
 */
export function silenceRemedy(silent: readonly SilentParty[], retry: string): string {
  const steps: string[] = [];
  const refused = silent.filter((s) => s.kind === 'refused').map((s) => s.id);
  const unverified = silent.filter((s) => s.kind === 'unverified').map((s) => s.id);
  if (refused.length > 0) {
    const one = refused.length === 1;
    steps.push(
      `${refused.join(', ')} ${one ? 'is' : 'are'} up but ${one ? 'refuses' : 'refuse'} the gateway's calls, a roster mismatch (not a stopped party): ${one ? 'its' : 'their'} roster.json names another identity key or id for the gateway than this gateway's; give every party the gateway's roster.json and restart it, or start the gateway with the identity key the parties' roster names`,
    );
  }
  if (unverified.length > 0)
    steps.push(
      `${unverified.join(', ')} ${unverified.length === 1 ? 'answers' : 'answer'} under another identity key than the gateway's roster.json names: give the gateway and every party the same roster.json`,
    );
  if (silent.some((s) => s.kind === 'unreachable' || s.kind === 'timed out')) steps.push('start every party');
  const failed = silent.filter((s) => s.kind === 'failed').map((s) => s.id);
  if (failed.length > 0) steps.push(`see why in the log of ${failed.join(', ')}`);
  return steps.length > 0 ? `${steps.join('; ')}; then ${retry}` : retry;
}
