/**
 * A lying coordinator's pooled-risk round, for tests of the parties' own defence: it shows each
 * party the `derive` subject `subjectOf` gives it at `agg.deal`, then relays every dealing and box
 * to `agg.evaluate`, skipping the check an honest coordinator makes (each dealer signed the
 * subject it was sent). Returns each party's evaluate outcome, in roster order.
 */
import { AapsError } from '@aaps/mpc-core';
import type { PartyClient } from '../../client.js';
import { POOLED_RISK_CIRCUIT } from '../pooled-risk.js';
import {
  readCircuitCatalog,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
} from '../routes/aggregation.js';

export type EvaluateOutcome = { party: string } & ({ ok: true } | { ok: false; error: AapsError });

export async function splitSubjectRound(
  client: PartyClient,
  sessionId: string,
  subjectOf: (partyId: string) => unknown,
): Promise<EvaluateOutcome[]> {
  const { parties } = client.roster;
  const circuit = new Map(readCircuitCatalog([SHIPPED_CIRCUITS_DIR])).get(POOLED_RISK_CIRCUIT)!;
  const dealt = await Promise.all(
    parties.map((p) =>
      client.call<{ dealing: SignedDealing; sealed: SealedShares[] }>(p.id, 'agg.deal', sessionId, {
        circuit: circuit.id,
        circuit_digest: circuit.digestHex,
        derive: subjectOf(p.id),
      }),
    ),
  );
  const inbox = new Map<string, SealedShares[]>();
  dealt.forEach((d, i) => {
    for (const item of d.sealed) {
      const list = inbox.get(item.party) ?? [];
      list.push({ party: parties[i]!.id, box: item.box, sig: item.sig });
      inbox.set(item.party, list);
    }
  });
  const evaluated = await Promise.allSettled(
    parties.map((p) =>
      client.call(p.id, 'agg.evaluate', sessionId, {
        dealings: dealt.map((d) => d.dealing),
        shares: inbox.get(p.id) ?? [],
      }),
    ),
  );
  return evaluated.map((r, i) => {
    const party = parties[i]!.id;
    if (r.status === 'fulfilled') return { party, ok: true };
    if (!(r.reason instanceof AapsError)) throw r.reason;
    return { party, ok: false, error: r.reason };
  });
}
