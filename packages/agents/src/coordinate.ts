/**
 * Client-side drivers over {@link PartyClient}: the DKG across every party (relaying signed
 * round-1 packages and sealed round-2 shares it cannot read, each unchanged), and the FROST
 * signing transport a `SigningSession` uses.
 *
 * A DKG or refresh changes keys in two phases (`party/key-commit.ts`): round 3 leaves each party
 * a pending key and its signed statement that it verified it; only once every round 3 passed are
 * all statements sent to every party in `key.commit`. Before round 3, each sender's round-2 outbox
 * is checked here (one box per other party, each signed by it for that receiver), so a party that
 * leaves a box out or mis-signs one is named before anyone verifies anything.
 */
import {
  type AnyCiphersuite,
  bytesToHex,
  type CommitRequest,
  canonicalize,
  DkgRound1PackageCodec,
  type Identifier,
  isAapsError,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  type Round1Commitment,
  Round1CommitmentBatchCodec,
  type SignAnswer,
  SignatureShareCodec,
  SigningPackageCodec,
  type SigningTransport,
  type SignRequest,
} from '@aaps/mpc-core';
import type { PartyClient } from './client.js';
import { publicPackageDigestOfJson } from './key-digest.js';
import { type KeyProtocol, type KeyStatement, provenStatements } from './key-statement.js';
import { boxSignedFor, round1Digest, type SealedItem, type SignedRound1 } from './party/routes/sealed.js';
import type { ApprovalBacking } from './policy/backing.js';
import {
  frostIdentifier,
  partyById,
  partyByIdentifier,
  type Roster,
  type RosterParty,
  rosterDigest,
} from './roster.js';

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
  checkOutboxes(client.roster, suite, 'dkg', session, r1, r2);
  const inbox = relay(
    ids,
    r2.map((r) => r.sealed),
  );
  say(`dkg ${session}: round 3 (verify shares, derive keys; each party keeps its key pending)`);
  const r3 = await whenAllSettled(
    ids.map((id) =>
      client.call<Round3Answer & { verifying_share: string }>(id, 'dkg.round3', session, {
        round1_packages: round1Packages,
        sealed: inbox.get(id) ?? [],
      }),
    ),
  );
  samePublicPackage(r3, ids, 'dkg');
  await commitEverywhere(client, 'dkg', session, r3, say);
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
  checkOutboxes(roster, suite, 'refresh', session, r1, r2);
  const inbox = relay(
    ids,
    r2.map((r) => r.sealed),
  );
  say(`refresh ${session}: round 3 (verify; each party keeps its new share pending)`);
  const r3 = await whenAllSettled(
    ids.map((id) =>
      client.call<Round3Answer>(id, 'refresh.round3', session, {
        round1_packages: round1Packages,
        sealed: inbox.get(id) ?? [],
      }),
    ),
  );
  samePublicPackage(r3, ids, 'refresh');
  await commitEverywhere(client, 'refresh', session, r3, say);
  const publicPackage = PublicKeyPackageCodec.fromJSON(r3[0]!.public_package, suite.id).value;
  const verifyingShares: Record<string, string> = {};
  for (const p of roster.parties)
    verifyingShares[p.id] = bytesToHex(publicPackage.verifyingShares[frostIdentifier(roster, p)]!);
  say(`refresh ${session}: done, group key unchanged ${r3[0]!.group_public_key}`);
  return { publicPackage, groupPublicKeyHex: r3[0]!.group_public_key, verifyingShares };
}

/** What a DKG or refresh round 3 answers: the derived package and the party's signed statement. */
interface Round3Answer {
  group_public_key: string;
  public_package: unknown;
  package_digest: string;
  verified: KeyStatement;
}

/**
 * Check each sender's round-2 outbox before relaying it: exactly one box for each other roster
 * party, each signed by the sender over its associated data for that receiver (bound to the
 * sender's own round-1 package). The outbox is in the sender's signed answer, so a wrong one is
 * its sender's doing: named here, before any party runs round 3.
 */
function checkOutboxes(
  roster: Roster,
  suite: AnyCiphersuite,
  protocol: KeyProtocol,
  session: string,
  r1: readonly SignedRound1[],
  r2: readonly { sealed: SealedItem[] }[],
): void {
  const digest = rosterDigest(roster);
  roster.parties.forEach((sender, i) => {
    const why = outboxProblem(roster, suite, protocol, session, digest, sender, r1[i]!, r2[i]?.sealed);
    if (why !== undefined) {
      throw new ProtocolError('INCONSISTENT_TRANSCRIPT', `${sender.id}'s ${protocol} round-2 answer ${why}`, [
        frostIdentifier(roster, sender),
      ]);
    }
  });
}

/** What is wrong with `sender`'s round-2 outbox `items` (see {@link checkOutboxes}), if anything. */
function outboxProblem(
  roster: Roster,
  suite: AnyCiphersuite,
  protocol: KeyProtocol,
  session: string,
  digest: string,
  sender: RosterParty,
  round1: SignedRound1,
  items: unknown,
): string | undefined {
  if (!Array.isArray(items)) return 'carries no list of sealed shares';
  const bound = round1Digest(round1.package);
  const seen = new Set<string>();
  for (const item of items as Partial<SealedItem>[]) {
    const to = partyById(roster, item?.party);
    if (!to || to.id === sender.id) return `has a box for ${String(item?.party)}, not another roster party`;
    if (seen.has(to.id)) return `has two boxes for ${to.id}`;
    seen.add(to.id);
    const ok = boxSignedFor(
      suite.id,
      { protocol, session, sender, receiver: to.id, rosterDigest: digest, bound },
      item.box,
      item.sig,
    );
    if (!ok) return `has a box for ${to.id} that it did not sign for ${to.id} in this session`;
  }
  const missing = roster.parties.filter((p) => p.id !== sender.id && !seen.has(p.id)).map((p) => p.id);
  return missing.length > 0 ? `has no box for ${missing.join(', ')}` : undefined;
}

/**
 * Send every party's round-3 statement to every party (`key.commit`), once every round 3 passed.
 * A statement that does not verify is its party's doing (its answer was signed): named, and
 * nothing is committed. A commit that fails at some parties (a crash) is finished later by
 * {@link finishKeyCommits}: every party verified, so the key is good.
 */
async function commitEverywhere(
  client: PartyClient,
  protocol: KeyProtocol,
  session: string,
  r3: readonly Round3Answer[],
  say: DkgProgress,
): Promise<void> {
  const roster = client.roster;
  const packageDigest = r3[0]!.package_digest;
  const { statements, missing: bad } = provenStatements(
    roster,
    { protocol, session, rosterDigest: rosterDigest(roster), packageDigest },
    r3.map((r) => r.verified),
  );
  if (bad.length > 0) {
    throw new ProtocolError(
      'INCONSISTENT_TRANSCRIPT',
      `${bad.join(', ')} answered round 3 of ${protocol} ${session} without a valid signed statement for package ${packageDigest}`,
      bad.map((id) => frostIdentifier(roster, partyById(roster, id)!)),
    );
  }
  say(`${protocol} ${session}: every party verified package ${packageDigest}: committing`);
  await whenAllSettled(
    roster.parties.map((p) =>
      client.call(p.id, 'key.commit', session, { protocol, package_digest: packageDigest, statements }),
    ),
  );
}

/** What `key.pending` answers. */
interface PendingAnswer {
  pending: { protocol: KeyProtocol; session: string; package_digest: string; statement: KeyStatement } | null;
  committed: {
    protocol: KeyProtocol;
    session: string;
    package_digest: string;
    statements: KeyStatement[];
  } | null;
}

/**
 * Finish commits a crash cut short: a party whose pending key every participant verified (their
 * statements, gathered from the pending parties' own and from a party that committed it) is
 * committed. A pending key some participant never verified is left alone: it never takes effect,
 * and the next ceremony drops it. Unreachable parties are skipped. Returns the parties committed.
 */
export async function finishKeyCommits(client: PartyClient, say: DkgProgress = () => {}): Promise<string[]> {
  const roster = client.roster;
  const digest = rosterDigest(roster);
  const answers = await Promise.allSettled(
    roster.parties.map((p) => client.call<PendingAnswer>(p.id, 'key.pending', 'key-pending', {})),
  );
  const groups = new Map<
    string,
    {
      protocol: KeyProtocol;
      session: string;
      packageDigest: string;
      waiting: string[];
      statements: KeyStatement[];
    }
  >();
  const groupOf = (protocol: KeyProtocol, session: string, packageDigest: string) => {
    const id = JSON.stringify([protocol, session, packageDigest]);
    const g = groups.get(id) ?? { protocol, session, packageDigest, waiting: [], statements: [] };
    groups.set(id, g);
    return g;
  };
  answers.forEach((a, i) => {
    if (a.status !== 'fulfilled') return;
    const { pending, committed } = a.value;
    if (pending) {
      const g = groupOf(pending.protocol, pending.session, pending.package_digest);
      g.waiting.push(roster.parties[i]!.id);
      g.statements.push(pending.statement);
    }
    if (committed)
      groupOf(committed.protocol, committed.session, committed.package_digest).statements.push(
        ...committed.statements,
      );
  });
  const done: string[] = [];
  for (const g of groups.values()) {
    if (g.waiting.length === 0) continue;
    // One valid statement per party, whichever party reported it.
    const { statements } = provenStatements(
      roster,
      { protocol: g.protocol, session: g.session, rosterDigest: digest, packageDigest: g.packageDigest },
      g.statements,
    );
    if (statements.length !== roster.parties.length) continue;
    say(
      `${g.protocol} ${g.session}: every party verified package ${g.packageDigest}; committing at ${g.waiting.join(', ')}`,
    );
    for (const id of g.waiting) {
      try {
        await client.call(id, 'key.commit', g.session, {
          protocol: g.protocol,
          package_digest: g.packageDigest,
          statements,
        });
        done.push(id);
      } catch (e) {
        say(
          `${g.protocol} ${g.session}: committing at ${id} failed (${isAapsError(e) ? `${e.code}: ${e.message}` : String(e)})`,
        );
      }
    }
  }
  return done;
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
    async sign(party: Identifier, req: SignRequest<SignSubject>, signal: AbortSignal): Promise<SignAnswer> {
      const out = await client.call<{ share: unknown; commitments?: unknown }>(
        partyOf(party),
        'sign.round2',
        req.sessionId,
        {
          signing_package: SigningPackageCodec.toJSON(suite.id, req.signingPackage),
          subject: req.payload,
          attempt: req.attempt,
          ...(req.replenish ? { replenish: req.replenish } : {}),
        },
        { trace_id: traceId },
        { signal },
      );
      const share = SignatureShareCodec.fromJSON(out.share, suite.id).value;
      if (out.commitments === undefined) return share;
      // The session checks each fresh commitment (points, sender, repeats) before pooling it. Ones
      // that do not decode go to it as no list at all: the party signed this answer, so the session
      // names it (round-one misbehaviour) rather than count a transport failure.
      let commitments: readonly Round1Commitment[] | null;
      try {
        commitments = Round1CommitmentBatchCodec.fromJSON(out.commitments, suite.id).value.commitments;
      } catch {
        commitments = null;
      }
      return { ...share, commitments };
    },
  };
}

export function partyIdsOf(roster: Roster, identifiers: readonly Identifier[]): string[] {
  return identifiers.map((id) => partyByIdentifier(roster, id)?.id ?? id);
}
