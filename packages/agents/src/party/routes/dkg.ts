/**
 * DKG across party processes. The coordinator only relays: round-1 packages leave this process
 * signed by its identity key (so a share that fails against a commitment is provably its
 * sender's fault), round-2 shares sealed to their receiver's X25519 key (derived from its roster
 * identity key), bound to the session, sender, receiver and roster digest, so the relay never
 * sees them. Round 3 verifies and stores the key as pending; it takes effect only with a commit
 * that shows every participant verified it (`key-commit.ts`).
 */
import {
  AapsError,
  DkgRound1PackageCodec,
  type DkgRound2Package,
  DkgRound2PackageCodec,
  dkgRound1,
  dkgRound2,
  dkgRound3,
  ProtocolError,
  ValidationError,
} from '@aaps/mpc-core';
import { frostIdentifier, partyByIdentifier } from '../../roster.js';
import type { PartyDeps, PartyState } from '../context.js';
import { withKeyLock } from '../install-key.js';
import type { KeyCommitHandlers } from '../key-commit.js';
import { assertMayTakeKey } from '../key-replace.js';
import { rosterParticipants } from '../key-roster.js';
import { everyRosterPeer } from './roster-peers.js';
import { addressedHere, openAll, round1Digest, sealFor, signRound1, verifiedRound1 } from './sealed.js';

const DKG_TTL_MS = 10 * 60 * 1000;

export function createDkgHandlers(deps: PartyDeps, state: PartyState, commits: KeyCommitHandlers) {
  const { suite, roster, self } = deps;
  const myId = frostIdentifier(roster, self);
  const everyPeer = everyRosterPeer(roster, myId, 'a DKG');
  /** One signed round-1 package from each other roster party (see `verifiedRound1`). */
  const peerPackages = (session: string, list: unknown) =>
    verifiedRound1(deps, 'dkg', session, list, DkgRound1PackageCodec, everyPeer);
  const sessionOf = (id: string) => {
    const now = Date.now();
    for (const [k, s] of state.dkg) if (now - s.startedAt > DKG_TTL_MS) state.dkg.delete(k);
    const s = state.dkg.get(id);
    if (!s)
      throw new AapsError(
        'NOT_FOUND',
        `no DKG session ${id} in progress here (restarted or expired): start again`,
      );
    return s;
  };

  return {
    async round1(session: string, body: Record<string, unknown>) {
      const replace = body.replace === true;
      assertMayTakeKey(deps.config, state.key !== undefined, replace, 'run a new DKG');
      const t = body.threshold as { min?: unknown; max?: unknown } | undefined;
      if (t?.min !== roster.threshold.min || t?.max !== roster.threshold.max) {
        throw new ValidationError('INVALID_ARGUMENT', 'threshold differs from the roster', [
          'body.threshold',
        ]);
      }
      if (body.roster_digest !== deps.rosterDigest) {
        throw new ValidationError('INVALID_ARGUMENT', "roster_digest differs from this party's roster", [
          'body.roster_digest',
        ]);
      }
      // A new DKG supersedes a key a failed one left pending (it never took effect).
      await commits.dropOther(session);
      const out = dkgRound1(suite, { identifier: myId, threshold: roster.threshold, rng: deps.rng });
      const signed = signRound1(deps, 'dkg', session, DkgRound1PackageCodec, out.package);
      state.dkg.set(session, {
        startedAt: Date.now(),
        round1: out.secret,
        ownRound1Digest: round1Digest(signed.package),
        replace,
      });
      return signed;
    },

    round2(session: string, body: Record<string, unknown>) {
      const s = sessionOf(session);
      if (!s.round1) throw new ProtocolError('ROUND_ORDER', 'round 2 already ran for this session');
      // Checked before anything is computed: a wrong set leaves round 2 to be run again.
      const others = peerPackages(session, body.round1_packages).packages;
      const out = dkgRound2(suite, s.round1, others);
      s.round2 = out.secret;
      s.round1Packages = others;
      delete s.round1;
      const sealed = out.packages.map((pkg: DkgRound2Package) => {
        const receiver = partyByIdentifier(roster, pkg.receiver);
        if (!receiver)
          throw new ProtocolError(
            'UNKNOWN_IDENTIFIER',
            `round-2 receiver ${pkg.receiver} is not in the roster`,
          );
        // Bound to this party's own round-1 package: the share goes only with it.
        const item = sealFor(deps, 'dkg', session, receiver, DkgRound2PackageCodec, pkg, s.ownRound1Digest);
        pkg.signingShare.wipe();
        return item;
      });
      return { sealed };
    },

    /**
     * Verify the shares and store the key as pending (never used until committed), answering
     * with this party's signed statement that it verified it. Inside the key lock: a second
     * round 3 that arrives together sees the first one's pending key.
     */
    round3(session: string, body: Record<string, unknown>) {
      return withKeyLock(state, async () => {
        const s = sessionOf(session);
        if (!s.round2 || !s.round1Packages) throw new ProtocolError('ROUND_ORDER', 'round 3 before round 2');
        // Again now: another session may have given this party a key since round 1 of this one.
        assertMayTakeKey(deps.config, state.key !== undefined, s.replace, 'run a new DKG');
        commits.assertNoOtherPending(session);
        const round1 = peerPackages(session, body.round1_packages);
        const round2: DkgRound2Package[] = openAll(
          deps,
          'dkg',
          session,
          body.sealed,
          DkgRound2PackageCodec,
          'body.sealed',
          round1.digestOf,
        ).map((opened) => addressedHere(deps, 'round-2 package', opened));
        const out = dkgRound3(suite, s.round2, round1.packages, round2);
        state.dkg.delete(session);
        const key = {
          keyPackage: out.keyPackage,
          publicPackage: out.publicPackage,
          rosterDigest: deps.rosterDigest,
          createdAt: (deps.now?.() ?? new Date()).toISOString(),
          participants: rosterParticipants(roster),
        };
        // A key that failed to save is not claimed (a DKG can run again).
        return commits.stage('dkg', session, key);
      });
    },
  };
}
