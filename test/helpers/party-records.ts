/**
 * What the parties' own LevelDB says about the shares they gave: read after the processes
 * stopped, and compared with what the coordinator received.
 */
import { type PartyStore, partyIdsOf, type Roster, type SignSubject } from '@aaps/agents';
import { commitmentKey, type SigningTransport } from '@aaps/mpc-core';

/** One share the coordinator received: which party, for which commitment. */
export interface AnsweredCommitment {
  party: string;
  key: string;
}

export interface RecordCheck {
  /** Shares received by the coordinator. */
  answered: number;
  /** (party, commitment) pairs that came back with two shares. */
  doubleAnswered: number;
  /** Answered commitments the party has no tombstone for. */
  tombstonesMissing: number;
  /** `sign.share` audit entries across parties. */
  auditShares: number;
  /** Audit entries beyond the tombstones (a share without a consumed commitment). */
  sharesBeyondTombstones: number;
  /** Two audit entries with the same share digest. */
  duplicateShareDigests: number;
}

export async function checkPartyRecords(
  ids: readonly string[],
  openStore: (id: string) => Promise<PartyStore>,
  answered: readonly AnsweredCommitment[],
): Promise<RecordCheck> {
  const pairs = answered.map((a) => `${a.party}/${a.key}`);
  const out: RecordCheck = {
    answered: answered.length,
    doubleAnswered: pairs.length - new Set(pairs).size,
    tombstonesMissing: 0,
    auditShares: 0,
    sharesBeyondTombstones: 0,
    duplicateShareDigests: 0,
  };
  for (const id of ids) {
    const store = await openStore(id);
    try {
      const used = new Set(await store.usedCommitments());
      for (const a of answered) if (a.party === id && !used.has(a.key)) out.tombstonesMissing++;
      const shares = (await store.auditTrail(1_000_000)).filter((e) => e.event === 'sign.share');
      out.auditShares += shares.length;
      const digests = shares.map((e) => String(e.detail?.share_sha256));
      out.duplicateShareDigests += digests.length - new Set(digests).size;
      out.sharesBeyondTombstones += Math.max(0, shares.length - used.size);
    } finally {
      await store.close();
    }
  }
  return out;
}

/** Wrap a signing transport so every share received is noted with its party and commitment. */
export function recordingTransport(
  base: SigningTransport<SignSubject>,
  roster: Roster,
  ledger: AnsweredCommitment[],
): SigningTransport<SignSubject> {
  return {
    commit: (p, r, s) => base.commit(p, r, s),
    async sign(p, r, s) {
      const share = await base.sign(p, r, s);
      const mine = r.signingPackage.commitments.find((c) => c.identifier === p)!;
      ledger.push({ party: partyIdsOf(roster, [p])[0]!, key: commitmentKey(mine) });
      return share;
    },
  };
}
