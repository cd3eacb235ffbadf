/**
 * Client-side drivers over {@link PartyClient}: the DKG across every party (relaying signed
 * round-1 packages and sealed round-2 shares it cannot read, each unchanged), and the FROST
 * signing transport a `SigningSession` uses.
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
import { publicPackageDigestOfJson } from './key-digest.js';
import type { SealedItem, SignedRound1 } from './party/routes/sealed.js';
import type { ApprovalBacking } from './policy/backing.js';
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
      client.call<SignedRound1>(id, 'dkg.round1', session, {
        threshold: roster.threshold,
        roster_digest: digest,
        replace: opts.replace === true,
      }),
    ),
  );
  // Relayed as answered: every party checks each package's signature by its sender.
  const round1Packages = r1.map(signedRound1);
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
      client.call<{ sealed: SealedItem[] }>(id, 'dkg.round2', session, {
        round1_packages: round1Packages,
      }),
    ),
  );
  const inbox = relay(
    ids,
    r2.map((r) => r.sealed),
  );
  say(`dkg ${session}: round 3 (verify shares, derive keys)`);
  const r3 = await whenAllSettled(
    ids.map((id) =>
      client.call<{ group_public_key: string; verifying_share: string; public_package: unknown }>(
        id,
        'dkg.round3',
        session,
        {
          round1_packages: round1Packages,
          sealed: inbox.get(id) ?? [],
        },
      ),
    ),
  );
  samePublicPackage(r3, ids, 'dkg');
  const publicPackage = PublicKeyPackageCodec.fromJSON(r3[0]!.public_package, suite.id).value;
  const verifyingShares: Record<string, string> = {};
  for (const p of roster.parties)
    verifyingShares[p.id] = bytesToHex(publicPackage.verifyingShares[frostIdentifier(roster, p)]!);
  say(`dkg ${session}: done, group key ${r3[0]!.group_public_key}`);
  return { publicPackage, groupPublicKeyHex: r3[0]!.group_public_key, verifyingShares };
}

export type { SealedItem, SignedRound1 };

/** A party's round-1 answer as relayed to the others: its package and signature, nothing else. */
function signedRound1(r: SignedRound1): SignedRound1 {
  return { package: r.package, signature: r.signature };
}

/** Like `Promise.all`, but a rejection is reported only once every promise has settled. */
async function whenAllSettled<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Route sealed items from their senders (`outboxes[i]` from `senders[i]`) to their receivers. */
function relay(senders: readonly string[], outboxes: readonly SealedItem[][]): Map<string, SealedItem[]> {
  const inbox = new Map<string, SealedItem[]>();
  outboxes.forEach((items, i) => {
    for (const item of items) {
      const list = inbox.get(item.party) ?? [];
      list.push({ party: senders[i]!, box: item.box, sig: item.sig });
      inbox.set(item.party, list);
    }
  });
  return inbox;
}

function samePublicPackage(
  results: readonly { public_package: unknown }[],
  ids: readonly string[],
  what: string,
): void {
  const first = canonicalize(results[0]!.public_package);
  results.forEach((r, i) => {
    if (canonicalize(r.public_package) !== first) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `${ids[i]} derived a different public key package (${what})`,
      );
    }
  });
}

/** Proactive refresh across every party: same group key, all shares replaced. */
export async function runRefreshOverHttp(
  client: PartyClient,
  suite: AnyCiphersuite,
  opts: { sessionId: string; progress?: DkgProgress },
): Promise<DkgResult> {
  const roster = client.roster;
  const say = opts.progress ?? (() => {});
  const ids = roster.parties.map((p) => p.id);
  const session = opts.sessionId;
  say(`refresh ${session}: round 1 (commitments to sharings of zero)`);
  const r1 = await Promise.all(ids.map((id) => client.call<SignedRound1>(id, 'refresh.round1', session, {})));
  const round1Packages = r1.map(signedRound1);
  say(`refresh ${session}: round 2 (zero shares sealed to each receiver)`);
  const r2 = await Promise.all(
    ids.map((id) =>
      client.call<{ sealed: SealedItem[] }>(id, 'refresh.round2', session, {
        round1_packages: round1Packages,
      }),
    ),
  );
  const inbox = relay(
    ids,
    r2.map((r) => r.sealed),
  );
  say(`refresh ${session}: round 3 (verify, apply)`);
  // Parties apply their new shares as their round 3 runs: wait for every answer before reporting
  // a failure, so a caller that then asks what each party holds sees where they settled.
  const r3 = await whenAllSettled(
    ids.map((id) =>
      client.call<{ group_public_key: string; public_package: unknown }>(id, 'refresh.round3', session, {
        round1_packages: round1Packages,
        sealed: inbox.get(id) ?? [],
      }),
    ),
  );
  samePublicPackage(r3, ids, 'refresh');
  const publicPackage = PublicKeyPackageCodec.fromJSON(r3[0]!.public_package, suite.id).value;
  const verifyingShares: Record<string, string> = {};
  for (const p of roster.parties)
    verifyingShares[p.id] = bytesToHex(publicPackage.verifyingShares[frostIdentifier(roster, p)]!);
  say(`refresh ${session}: done, group key unchanged ${r3[0]!.group_public_key}`);
  return { publicPackage, groupPublicKeyHex: r3[0]!.group_public_key, verifyingShares };
}

/** Rebuild `lost`'s share with the help of `helpers` (between t and n-1 other parties). */
export async function runRepairOverHttp(
  client: PartyClient,
  opts: {
    sessionId: string;
    lost: string;
    helpers: readonly string[];
    publicPackage: unknown;
    progress?: DkgProgress;
  },
): Promise<{ verifyingShare: string }> {
  const say = opts.progress ?? (() => {});
  const { sessionId: session, lost, helpers } = opts;
  // Every helper must hold this package (it refuses otherwise), and seals under its digest.
  const digest = publicPackageDigestOfJson(opts.publicPackage);
  say(`repair ${session}: ${helpers.length} helpers rebuild ${lost}'s share`);
  const s1 = await Promise.all(
    helpers.map((id) =>
      client.call<{ sealed: SealedItem[] }>(id, 'repair.step1', session, {
        helpers,
        lost,
        package_digest: digest,
      }),
    ),
  );
  const deltas = relay(
    helpers,
    s1.map((r) => r.sealed),
  );
  const s2 = await Promise.all(
    helpers.map((id) =>
      client.call<{ sealed: SealedItem }>(id, 'repair.step2', session, {
        helpers,
        lost,
        package_digest: digest,
        sealed: deltas.get(id) ?? [],
      }),
    ),
  );
  const sigmas = s2.map((r, i) => ({ party: helpers[i]!, box: r.sealed.box, sig: r.sealed.sig }));
  const out = await client.call<{ verifying_share: string }>(lost, 'repair.step3', session, {
    helpers,
    sealed: sigmas,
    public_package: opts.publicPackage,
    replace: true,
  });
  say(`repair ${session}: ${lost} holds its share again (verifying share ${out.verifying_share})`);
  return { verifyingShare: out.verifying_share };
}

/**
 * What round two carries: the subject each party derives its message from. A checkpoint carries
 * RFC 9162 consistency proofs (hex hashes) to its tree from smaller sizes: a party signs it only
 * with a proof from the size it last signed for the origin (`docs/evidence.md`).
 */
export type SignSubject =
  | { kind: 'approval'; proposal: unknown; backing: ApprovalBacking }
  | { kind: 'evidence'; payload_type: string; payload: string; transcript: unknown[] }
  | {
      kind: 'checkpoint';
      origin: string;
      tree_size: number;
      root_hash: string;
      consistency?: { from: number; hashes: string[] }[];
    };

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
        { signal },
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
        { signal },
      );
      return SignatureShareCodec.fromJSON(out.share, suite.id).value;
    },
  };
}

export function partyIdsOf(roster: Roster, identifiers: readonly Identifier[]): string[] {
  return identifiers.map((id) => partyByIdentifier(roster, id)?.id ?? id);
}
