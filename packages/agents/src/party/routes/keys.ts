/**
 * Key maintenance across party processes: proactive refresh (every party deals a sharing of
 * zero; group key unchanged, old shares useless with new ones) and repair (t helpers rebuild a
 * party's lost share without anyone learning it). Secrets travel sealed point to point; the
 * coordinator relays what it cannot read. A refreshed share is stored as pending by round 3 and
 * takes effect only with a commit showing every party verified the refresh (`key-commit.ts`).
 */
import {
  AapsError,
  applyRefresh,
  bytesToHex,
  canonicalBytes,
  displayValue,
  type Identifier,
  ProtocolError,
  PublicKeyPackageCodec,
  RefreshRound1PackageCodec,
  type RefreshRound1Secret,
  RefreshRound2PackageCodec,
  type RefreshRound2Secret,
  type RepairDelta,
  RepairDeltaCodec,
  RepairSigmaCodec,
  refreshRound1,
  refreshRound2,
  refreshRound3,
  repairStep1,
  repairStep2,
  repairStep3,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { publicPackageDigest } from '../../key-digest.js';
import { frostIdentifier, partyById, partyByIdentifier, type RosterParty } from '../../roster.js';
import type { PartyDeps, PartyState } from '../context.js';
import { installKey, withKeyLock } from '../install-key.js';
import type { KeyCommitHandlers } from '../key-commit.js';
import { assertMayTakeKey } from '../key-replace.js';
import { rosterParticipants } from '../key-roster.js';
import { everyRosterPeer } from './roster-peers.js';
import { addressedHere, openAll, round1Digest, sealFor, signRound1, verifiedRound1 } from './sealed.js';

const TTL_MS = 10 * 60 * 1000;

interface RefreshSession {
  startedAt: number;
  round1?: RefreshRound1Secret;
  /** The digest of this party's own signed round-1 package, which its round-2 shares are bound to. */
  ownRound1Digest: string;
  round2?: RefreshRound2Secret;
}

/** What a helper keeps between repair steps: the helper set, the lost party, its own delta. */
interface RepairSession {
  startedAt: number;
  helpers: readonly string[];
  lost: string;
  own: RepairDelta;
}

export function createKeyHandlers(deps: PartyDeps, state: PartyState, commits: KeyCommitHandlers) {
  const { suite, roster, self } = deps;
  const myId = frostIdentifier(roster, self);
  const refreshes = new Map<string, RefreshSession>();
  const repairs = new Map<string, RepairSession>();
  const now = deps.now ?? (() => new Date());
  const requireKey = () => {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key');
    return state.key;
  };
  /**
   * The digest of this helper's own public package, which a repair must name: a helper refuses
   * to help rebuild a share of a sharing it does not hold.
   */
  const ownPackage = (key: NonNullable<PartyState['key']>, named: unknown): string => {
    const digest = publicPackageDigest(suite.id, key.publicPackage);
    if (named !== digest) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `the repair is for key package ${displayValue(named)}, and this helper holds ${digest}: it helps only with the package it holds`,
      );
    }
    return digest;
  };
  const session = (id: string) => {
    dropExpired(refreshes);
    const s = refreshes.get(id);
    if (!s)
      throw new AapsError(
        'NOT_FOUND',
        `no refresh session ${id} in progress here (restarted or expired): start again`,
      );
    return s;
  };
  const parties = (list: unknown, field: string): RosterParty[] => {
    if (!Array.isArray(list))
      throw new ValidationError('INVALID_ARGUMENT', `${field}: expected party ids`, [field]);
    return list.map((id, i) => {
      const p = partyById(roster, id);
      if (!p)
        throw new ValidationError(
          'UNKNOWN_IDENTIFIER',
          `${field}[${i}]: ${displayValue(id)} is not in the roster`,
          [`${field}[${i}]`],
        );
      return p;
    });
  };
  const store = (event: string, sessionId: string, key: NonNullable<PartyState['key']>) =>
    installKey(deps, state, key, { event, session: sessionId, at: now().toISOString() });

  // A refresh takes the whole roster (see everyRosterPeer).
  const everyPeer = everyRosterPeer(roster, myId, 'a refresh');
  /** One signed round-1 package from each other roster party (see `verifiedRound1`). */
  const peerPackages = (sessionId: string, list: unknown) =>
    verifiedRound1(deps, 'refresh', sessionId, list, RefreshRound1PackageCodec, everyPeer);

  return {
    async refreshRound1(sessionId: string) {
      const key = requireKey();
      // A new refresh supersedes a share a failed one left pending (it never took effect).
      await commits.dropOther(sessionId);
      const out = refreshRound1(suite, {
        identifier: myId,
        threshold: key.keyPackage.threshold,
        rng: deps.rng,
      });
      // One refresh at a time: a new one ends any other here, so a coordinator cannot take two
      // sessions to round 3 and apply one at some parties and the other at the rest.
      refreshes.clear();
      const signed = signRound1(deps, 'refresh', sessionId, RefreshRound1PackageCodec, out.package);
      refreshes.set(sessionId, {
        startedAt: Date.now(),
        round1: out.secret,
        ownRound1Digest: round1Digest(signed.package),
      });
      return signed;
    },

    refreshRound2(sessionId: string, body: Record<string, unknown>) {
      const s = session(sessionId);
      if (!s.round1) throw new ProtocolError('ROUND_ORDER', 'refresh round 2 already ran');
      const out = refreshRound2(suite, s.round1, peerPackages(sessionId, body.round1_packages).packages);
      s.round2 = out.secret;
      delete s.round1;
      const sealed = out.packages.map((pkg) => {
        const to = partyByIdentifier(roster, pkg.receiver);
        if (!to)
          throw new ProtocolError(
            'UNKNOWN_IDENTIFIER',
            `refresh receiver ${pkg.receiver} is not in the roster`,
          );
        // Bound to this party's own round-1 package: the share goes only with it.
        const item = sealFor(
          deps,
          'refresh',
          sessionId,
          to,
          RefreshRound2PackageCodec,
          pkg,
          s.ownRound1Digest,
        );
        pkg.zeroShare.wipe();
        return item;
      });
      return { sealed };
    },

    /**
     * Verify the zero shares and store the refreshed share as pending (the current one stays in
     * use until a commit), answering with this party's signed statement that it verified it.
     */
    refreshRound3(sessionId: string, body: Record<string, unknown>) {
      return withKeyLock(state, async () => {
        const s = session(sessionId);
        if (!s.round2) throw new ProtocolError('ROUND_ORDER', 'refresh round 3 before round 2');
        const key = requireKey();
        commits.assertNoOtherPending(sessionId);
        const round1 = peerPackages(sessionId, body.round1_packages);
        const received = openAll(
          deps,
          'refresh',
          sessionId,
          body.sealed,
          RefreshRound2PackageCodec,
          'body.sealed',
          round1.digestOf,
        ).map((opened) => addressedHere(deps, 'refresh round-2 package', opened));
        const share = refreshRound3(suite, s.round2, round1.packages, received);
        const out = applyRefresh(suite, key.keyPackage, key.publicPackage, share);
        refreshes.delete(sessionId);
        return commits.stage('refresh', sessionId, {
          ...key,
          keyPackage: out.keyPackage,
          publicPackage: out.publicPackage,
          // The same participants; a key that did not record them was refreshed under this roster's.
          participants: key.participants ?? rosterParticipants(roster),
        });
      });
    },

    repairStep1(sessionId: string, body: Record<string, unknown>) {
      const key = requireKey();
      const digest = ownPackage(key, body.package_digest);
      const helpers = parties(body.helpers, 'body.helpers');
      const lost = parties([body.lost], 'body.lost')[0]!;
      if (!helpers.some((h) => h.id === self.id))
        throw new ValidationError('FORBIDDEN', 'this party is not among the helpers');
      // A repair rebuilds a share its party held; helping a roster party the key never gave one
      // would enrol a new holder of the key (a share of the polynomial at its point) that no DKG
      // or refresh agreed to.
      if (!Object.hasOwn(key.publicPackage.verifyingShares, frostIdentifier(roster, lost)))
        throw new ValidationError(
          'UNKNOWN_IDENTIFIER',
          `${lost.id} holds no share of this key: a repair rebuilds a lost share, it does not enrol a new holder`,
          ['body.lost'],
        );
      dropExpired(repairs, (r) => r.own.delta.wipe());
      if (repairs.has(sessionId))
        throw new ProtocolError('ROUND_ORDER', `repair session ${sessionId} already ran step 1 here`);
      const deltas = repairStep1(
        suite,
        helpers.map((h) => frostIdentifier(roster, h)),
        key.keyPackage,
        frostIdentifier(roster, lost),
        deps.rng,
      );
      // This helper's own delta never leaves it: step 2 takes it from here, not from the relay.
      const own = deltas.find((d) => d.receiver === myId)!;
      repairs.set(sessionId, {
        startedAt: Date.now(),
        helpers: helpers.map((h) => h.id),
        lost: lost.id,
        own,
      });
      const sealed = deltas
        .filter((d) => d !== own)
        .map((d) => {
          const to = partyByIdentifier(roster, d.receiver)!;
          const item = sealFor(
            deps,
            `repair-delta@${digest}`,
            sessionId,
            to,
            RepairDeltaCodec,
            d,
            repairBinding(helpers, lost),
          );
          d.delta.wipe();
          return item;
        });
      return { sealed };
    },

    /**
     * Combine this helper's own delta (kept from step 1) with one signed delta from each other
     * helper, for the helper set and lost party of step 1, and seal the sum to that lost party.
     */
    repairStep2(sessionId: string, body: Record<string, unknown>) {
      const key = requireKey();
      const digest = ownPackage(key, body.package_digest);
      const r = repairs.get(sessionId);
      if (!r)
        throw new AapsError(
          'NOT_FOUND',
          `no repair session ${sessionId} in progress here (restarted or expired): start again`,
        );
      const helpers = parties(body.helpers, 'body.helpers');
      const lost = parties([body.lost], 'body.lost')[0]!;
      if (helpers.map((h) => h.id).join() !== r.helpers.join() || lost.id !== r.lost) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          'repair step 2 names other helpers or another lost party than step 1',
          ['body.helpers', 'body.lost'],
        );
      }
      const bound = repairBinding(helpers, lost);
      const received = openAll(
        deps,
        `repair-delta@${digest}`,
        sessionId,
        body.sealed,
        RepairDeltaCodec,
        'body.sealed',
        () => bound,
      );
      const others = helpers.filter((h) => h.id !== self.id);
      const lostId = frostIdentifier(roster, lost);
      const from = received.map((x) => x.sender.id).sort();
      if (
        from.join() !==
        others
          .map((h) => h.id)
          .sort()
          .join()
      ) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          'repair step 2 needs exactly one delta from each other helper',
          ['body.sealed'],
        );
      }
      for (const { sender, value } of received) {
        if (
          value.sender !== frostIdentifier(roster, sender) ||
          value.receiver !== myId ||
          value.lost !== lostId
        ) {
          throw new ProtocolError(
            'INCONSISTENT_TRANSCRIPT',
            `the repair delta from ${sender.id} is not for this helper and lost party`,
            [frostIdentifier(roster, sender)],
          );
        }
      }
      repairs.delete(sessionId);
      try {
        const sigma = repairStep2(
          suite,
          helpers.map((h) => frostIdentifier(roster, h)),
          key.keyPackage,
          [r.own, ...received.map((x) => x.value)],
        );
        const item = sealFor(deps, `repair-sigma@${digest}`, sessionId, lost, RepairSigmaCodec, sigma, bound);
        sigma.sigma.wipe();
        return { sealed: item };
      } finally {
        r.own.delta.wipe();
        for (const x of received) x.value.delta.wipe();
      }
    },

    repairStep3(sessionId: string, body: Record<string, unknown>) {
      // Inside the key lock: whether this party may take the share is asked against the key it
      // holds when no other change is under way.
      return withKeyLock(state, async () => {
        const publicPackage = PublicKeyPackageCodec.fromJSON(body.public_package, suite.id).value;
        // Repairing a share of the group key this party holds (a party left on its old share by a
        // refresh that did not reach it) is no re-key: the coordinator may ask for it (replace:
        // true) without the operator's switch. A share of another group key still needs the switch.
        const held = state.key?.publicPackage;
        const sameKey =
          held !== undefined &&
          bytesToHex(held.groupPublicKey) === bytesToHex(publicPackage.groupPublicKey) &&
          held.threshold.min === publicPackage.threshold.min &&
          held.threshold.max === publicPackage.threshold.max;
        if (sameKey) {
          if (body.replace !== true)
            throw new AapsError(
              'KEY_EXISTS',
              'this party already holds a key; pass replace: true to repair its share',
            );
        } else {
          assertMayTakeKey(deps.config, state.key !== undefined, body.replace === true, 'repair its share');
        }
        const helpers = parties(body.helpers, 'body.helpers');
        // Every helper sealed its sigma under the digest of the package it holds: one that holds
        // another package than this one (a helper from another sharing) does not open. Nor does
        // one made for another helper set (see repairBinding).
        const bound = repairBinding(helpers, self);
        const opened = openAll(
          deps,
          `repair-sigma@${publicPackageDigest(suite.id, publicPackage)}`,
          sessionId,
          body.sealed,
          RepairSigmaCodec,
          'body.sealed',
          () => bound,
        );
        for (const { sender, value } of opened) {
          if (value.sender !== frostIdentifier(roster, sender) || value.lost !== myId) {
            throw new ProtocolError(
              'INCONSISTENT_TRANSCRIPT',
              `the repair sigma from ${sender.id} is not for this party`,
              [frostIdentifier(roster, sender)],
            );
          }
        }
        const sigmas = opened.map((r) => r.value);
        // repairStep3 checks the rebuilt share against this party's verifying share in the package.
        const keyPackage = repairStep3(
          suite,
          helpers.map((h): Identifier => frostIdentifier(roster, h)),
          sigmas,
          myId,
          publicPackage,
        );
        await store('repair.completed', sessionId, {
          keyPackage,
          publicPackage,
          rosterDigest: deps.rosterDigest,
          createdAt: now().toISOString(),
          participants: rosterParticipants(roster),
        });
        return {
          verifying_share: bytesToHex(keyPackage.verifyingShare),
          group_public_key: bytesToHex(publicPackage.groupPublicKey),
        };
      });
    },
  };
}

/**
 * What a repair's deltas and sigmas are bound to (in their boxes' signed associated data): the
 * helper set and the lost party. A helper weights its share by its Lagrange coefficient over the
 * helper set it was named, so helpers named different sets (by a coordinator) would give sigmas
 * summing not to the lost share but to another combination of the helpers' shares, which with
 * k - 1 colluders' own points gives the group secret. Bound, a delta or sigma made for another set
 * does not open: every helper and the repaired party take parts made for their one set only.
 */
function repairBinding(helpers: readonly RosterParty[], lost: RosterParty): string {
  const ids = helpers.map((h) => h.id).sort();
  return bytesToHex(sha256(canonicalBytes({ domain: 'aaps.repair-set.v1', helpers: ids, lost: lost.id })));
}

/** Forget sessions older than {@link TTL_MS}, calling `onDrop` on each (to wipe its secrets). */
function dropExpired<S extends { startedAt: number }>(
  sessions: Map<string, S>,
  onDrop?: (s: S) => void,
): void {
  for (const [k, s] of sessions) {
    if (Date.now() - s.startedAt > TTL_MS) {
      onDrop?.(s);
      sessions.delete(k);
    }
  }
}
