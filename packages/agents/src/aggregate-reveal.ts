/**
 * The complaint step of an aggregation round (the coordinator side; the dealer side is
 * `agg.reveal` in `party/routes/aggregation.ts`): the standard Pedersen-VSS answer to a receiver
 * that could not use a dealer's shares.
 *
 * For each dealer D that receivers claimed against after round 2 (a box that did not open, or a
 * signed complaint):
 *  - fewer than t claimants: D is asked (`agg.reveal`) for the shares it dealt to those that sent a
 *    signed reveal request (a box that did not open; D checks each request), each share signed
 *    by D. Revealing fewer than t shares tells nothing the adversary may not know already (under
 *    the honest-majority assumption at most t - 1 parties are corrupt: a complaining receiver is
 *    corrupt and may learn its share, or D is corrupt and knows it anyway), and D itself refuses
 *    t or more. Each revealed share is checked against D's signed commitments: good ones are
 *    relayed to their receiver (a second `agg.evaluate`), a refuted one proves D cheated;
 *  - t or more claimants (`named_by_claims`), a signed complaint that proves D cheated (`refuted`),
 *    no answer (`unanswered`) or a refusal (`refused`): D is to be excluded, if the round cannot
 *    open without that and the circuit gives its inputs public substitutes (the caller decides).
 */
import { AapsError, type AggregationSession, type ErrorCode, type ExclusionReason } from '@aaps/mpc-core';
import type { PartyClient } from './client.js';
import {
  judgeRevealedShares,
  openRevealedShares,
  type ParsedDealing,
  type RevealedShares,
} from './party/routes/aggregation.js';
import { partyById, type Roster } from './roster.js';

/** Codes that say a dealer did not answer (not a refusal). */
const UNANSWERED: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT', 'REQUEST_TIMEOUT']);

/** One receiver's claim: the dealers (party ids) whose shares it could not use. */
export interface ReceiverClaim {
  party: string;
  dealers: readonly string[];
  /**
   * Its signed reveal requests, by dealer (a box that did not open): a dealer reveals a receiver's
   * shares only against one, so claims without (another fault, or a coordinator's own word) are
   * counted toward t but never revealed on.
   */
  requests?: Readonly<Record<string, string>>;
}

/** What happened to one dealer in the complaint step. */
export interface RevealEntry {
  dealer: string;
  /** The receivers that claimed against it. */
  receivers: string[];
  /** `revealed`: its shares for them checked out and were relayed; otherwise why it is to be excluded. */
  outcome: 'revealed' | ExclusionReason;
}

export interface RevealPlan {
  /** Per receiver, the dealer-signed shares to relay to it (`party` = the dealer). */
  relay: Map<string, RevealedShares[]>;
  /** Dealers to exclude (if the round needs it), with why. */
  exclude: Map<string, ExclusionReason>;
  /** Dealers proven to have cheated (revealed shares their commitments refute). */
  refuted: string[];
  entries: RevealEntry[];
}

/**
 * Run the complaint step for `claims` (receivers and the dealers they could not use) and the
 * dealers signed complaints proved wrong (`refuted`). Calls `agg.reveal` on each dealer with fewer
 * than t claimants, in parallel.
 */
export async function runRevealStep(args: {
  client: PartyClient;
  roster: Roster;
  session: AggregationSession<unknown>;
  sessionId: string;
  rosterDigest: string;
  parsed: readonly ParsedDealing[];
  claims: readonly ReceiverClaim[];
  refuted: readonly string[];
  ctx: { trace_id: string };
  timeoutMs: number;
}): Promise<RevealPlan> {
  const { roster, session } = args;
  const t = session.threshold;
  const byDealer = new Map<string, Set<string>>();
  /** Per dealer, the receivers' signed reveal requests. */
  const requestsFor = new Map<string, Record<string, string>>();
  for (const c of args.claims) {
    for (const d of c.dealers) {
      if (d === c.party || !args.parsed.some((p) => p.dealer.id === d)) continue;
      byDealer.set(d, (byDealer.get(d) ?? new Set()).add(c.party));
      const request = c.requests?.[d];
      if (request !== undefined) requestsFor.set(d, { ...requestsFor.get(d), [c.party]: request });
    }
  }
  const plan: RevealPlan = { relay: new Map(), exclude: new Map(), refuted: [], entries: [] };
  for (const d of new Set(args.refuted)) {
    plan.exclude.set(d, 'refuted');
    plan.entries.push({ dealer: d, receivers: [...(byDealer.get(d) ?? [])].sort(), outcome: 'refuted' });
  }
  const asks: { dealer: ParsedDealing; receivers: string[]; requests: Record<string, string> }[] = [];
  for (const [d, set] of byDealer) {
    if (plan.exclude.has(d)) continue;
    if (set.size >= t) {
      const receivers = [...set].sort();
      plan.exclude.set(d, 'named_by_claims');
      plan.entries.push({ dealer: d, receivers, outcome: 'named_by_claims' });
      continue;
    }
    const requests = requestsFor.get(d) ?? {};
    const receivers = Object.keys(requests).sort();
    if (receivers.length > 0)
      asks.push({ dealer: args.parsed.find((p) => p.dealer.id === d)!, receivers, requests });
  }
  const answers = await Promise.allSettled(
    asks.map((a) =>
      args.client.call<{ revealed?: unknown }>(
        a.dealer.dealer.id,
        'agg.reveal',
        args.sessionId,
        { receivers: a.receivers, requests: a.requests },
        args.ctx,
        { timeoutMs: args.timeoutMs },
      ),
    ),
  );
  answers.forEach((r, k) => {
    const { dealer, receivers } = asks[k]!;
    const d = dealer.dealer.id;
    const excluded = (outcome: ExclusionReason) => {
      plan.exclude.set(d, outcome);
      plan.entries.push({ dealer: d, receivers, outcome });
    };
    if (r.status === 'rejected') {
      const code = r.reason instanceof AapsError ? r.reason.code : 'INTERNAL';
      excluded(UNANSWERED.has(code) ? 'unanswered' : 'refused');
      return;
    }
    const items = Array.isArray(r.value?.revealed) ? (r.value.revealed as unknown[]) : [];
    const good: [string, RevealedShares][] = [];
    let outcome: ExclusionReason | undefined;
    for (const receiver of receivers) {
      const item = items.find((x) => (x as Partial<RevealedShares> | null)?.party === receiver);
      const plain = openRevealedShares({
        sessionId: args.sessionId,
        rosterDigest: args.rosterDigest,
        dealing: dealer,
        receiver,
        item,
      });
      // Missing or not signed for this receiver: the dealer's own signed answer lacks it.
      if (plain === undefined) {
        outcome ??= 'refused';
        continue;
      }
      const judged = judgeRevealedShares({
        session,
        roster,
        dealing: dealer,
        receiver: partyById(roster, receiver)!,
        plain,
      });
      plain.fill(0);
      if (judged === 'refuted') outcome = 'refuted';
      else {
        const it = item as RevealedShares;
        good.push([receiver, { party: d, shares: it.shares, sig: it.sig }]);
      }
    }
    if (outcome !== undefined) {
      if (outcome === 'refuted') plan.refuted.push(d);
      excluded(outcome);
      return;
    }
    for (const [receiver, item] of good)
      plan.relay.set(receiver, [...(plan.relay.get(receiver) ?? []), item]);
    plan.entries.push({ dealer: d, receivers, outcome: 'revealed' });
  });
  return plan;
}
