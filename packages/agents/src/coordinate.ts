/**
 * Client-side drivers over {@link PartyClient}: the DKG across every party (relaying sealed
 * round-2 shares it cannot read), and the FROST signing transport a `SigningSession` uses.
 */
import {
  type AnyCiphersuite,
  bytesToHex,
  type CommitRequest,
  canonicalize,
  DkgRound1PackageCodec,
  type Identifier,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  type Round1Commitment,
  Round1CommitmentBatchCodec,
  type SignatureShare,
  SignatureShareCodec,
  SigningPackageCodec,
  type SigningTransport,
  type SignRequest,
} from '@aaps/mpc-core';
import type { PartyClient } from './client.js';
import { frostIdentifier, partyByIdentifier, type Roster, rosterDigest } from './roster.js';

export type DkgProgress = (line: string) => void;

export interface DkgResult {
  publicPackage: PublicKeyPackage;
  groupPublicKeyHex: string;
  verifyingShares: Record<string, string>;
}

/** Run the three DKG rounds across every roster party. All parties must agree on the result. */
export async function runDkgOverHttp(
  client: PartyClient,
  suite: AnyCiphersuite,
  opts: { sessionId: string; replace?: boolean; progress?: DkgProgress },
): Promise<DkgResult> {
  const roster = client.roster;
  const say = opts.progress ?? (() => {});
  const ids = roster.parties.map((p) => p.id);
  const session = opts.sessionId;
  const digest = rosterDigest(roster);
  say(`dkg ${session}: round 1 (commitments and proofs of knowledge) across ${ids.length} parties`);
  const r1 = await Promise.all(
    ids.map((id) =>
      client.call<{ package: unknown }>(id, 'dkg.round1', session, {
        threshold: roster.threshold,
        roster_digest: digest,
        replace: opts.replace === true,
      }),
    ),
  );
  const round1Packages = r1.map((r) => r.package);
  // Each package must come from the party it claims to: check identifiers against the roster.
  r1.forEach((r, i) => {
    const pkg = DkgRound1PackageCodec.fromJSON(r.package, suite.id).value;
    const party = roster.parties[i]!;
    if (pkg.identifier !== frostIdentifier(roster, party)) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `${party.id} sent a round-1 package for another identifier`,
        [frostIdentifier(roster, party)],
      );
    }
  });
  say(`dkg ${session}: round 2 (shares sealed to each receiver)`);
  const r2 = await Promise.all(
    ids.map((id) =>
      client.call<{ sealed: { receiver: string; box: unknown }[] }>(id, 'dkg.round2', session, {
        round1_packages: round1Packages,
      }),
    ),
  );
  const inbox = new Map<string, { sender: string; box: unknown }[]>(ids.map((id) => [id, []]));
  r2.forEach((r, i) => {
    for (const s of r.sealed) inbox.get(s.receiver)?.push({ sender: ids[i]!, box: s.box });
  });
  say(`dkg ${session}: round 3 (verify shares, derive keys)`);
  const r3 = await Promise.all(
    ids.map((id) =>
      client.call<{ group_public_key: string; verifying_share: string; public_package: unknown }>(
        id,
        'dkg.round3',
        session,
        {
          round1_packages: round1Packages,
          sealed: inbox.get(id),
        },
      ),
    ),
  );
  const first = canonicalize(r3[0]!.public_package);
  r3.forEach((r, i) => {
    if (canonicalize(r.public_package) !== first) {
      throw new ProtocolError('INCONSISTENT_TRANSCRIPT', `${ids[i]} derived a different public key package`);
    }
  });
  const publicPackage = PublicKeyPackageCodec.fromJSON(r3[0]!.public_package, suite.id).value;
  const verifyingShares: Record<string, string> = {};
  for (const p of roster.parties)
    verifyingShares[p.id] = bytesToHex(publicPackage.verifyingShares[frostIdentifier(roster, p)]!);
  say(`dkg ${session}: done, group key ${r3[0]!.group_public_key}`);
  return { publicPackage, groupPublicKeyHex: r3[0]!.group_public_key, verifyingShares };
}

/** What round two carries: the subject each party derives its message from. */
export type SignSubject =
  | { kind: 'approval'; proposal: unknown }
  | { kind: 'evidence'; payload_type: string; payload: string; transcript: unknown[] }
  | { kind: 'checkpoint'; origin: string; tree_size: number; root_hash: string };

/** A `SigningTransport` over HTTP: FROST identifiers map to roster parties. */
export function httpSigningTransport(
  client: PartyClient,
  suite: AnyCiphersuite,
  traceId: string,
): SigningTransport<SignSubject> {
  const roster = client.roster;
  const partyOf = (id: Identifier) => {
    const p = partyByIdentifier(roster, id);
    if (!p) throw new ProtocolError('UNKNOWN_IDENTIFIER', `no roster party has identifier ${id}`);
    return p.id;
  };
  return {
    async commit(
      party: Identifier,
      req: CommitRequest,
      signal: AbortSignal,
    ): Promise<readonly Round1Commitment[]> {
      const out = await client.call<{ commitments: unknown }>(
        partyOf(party),
        'sign.commit',
        req.sessionId,
        { count: req.count },
        { trace_id: traceId },
        signal,
      );
      return Round1CommitmentBatchCodec.fromJSON(out.commitments, suite.id).value.commitments;
    },
    async sign(
      party: Identifier,
      req: SignRequest<SignSubject>,
      signal: AbortSignal,
    ): Promise<SignatureShare> {
      const out = await client.call<{ share: unknown }>(
        partyOf(party),
        'sign.round2',
        req.sessionId,
        {
          signing_package: SigningPackageCodec.toJSON(suite.id, req.signingPackage),
          subject: req.payload,
          attempt: req.attempt,
        },
        { trace_id: traceId },
        signal,
      );
      return SignatureShareCodec.fromJSON(out.share, suite.id).value;
    },
  };
}

export function partyIdsOf(roster: Roster, identifiers: readonly Identifier[]): string[] {
  return identifiers.map((id) => partyByIdentifier(roster, id)?.id ?? id);
}
