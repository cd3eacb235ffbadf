/**
 * Key maintenance across party processes: proactive refresh (every party deals a sharing of
 * zero; group key unchanged, old shares useless with new ones) and repair (t helpers rebuild a
 * party's lost share without anyone learning it). Secrets travel sealed point to point; the
 * coordinator relays what it cannot read.
 */
import {
  AapsError,
  applyRefresh,
  bytesToHex,
  displayValue,
  type Identifier,
  ProtocolError,
  PublicKeyPackageCodec,
  RefreshRound1PackageCodec,
  type RefreshRound1Secret,
  RefreshRound2PackageCodec,
  type RefreshRound2Secret,
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
import { frostIdentifier, partyById, partyByIdentifier, type RosterParty } from '../../roster.js';
import type { PartyDeps, PartyState } from '../context.js';
import { openAll, sealFor } from './sealed.js';

const TTL_MS = 10 * 60 * 1000;

interface RefreshSession {
  startedAt: number;
  round1?: RefreshRound1Secret;
  round2?: RefreshRound2Secret;
}

export function createKeyHandlers(deps: PartyDeps, state: PartyState) {
  const { suite, roster, self } = deps;
  const myId = frostIdentifier(roster, self);
  const refreshes = new Map<string, RefreshSession>();
  const now = deps.now ?? (() => new Date());
  const requireKey = () => {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key');
    return state.key;
  };
  const session = (id: string) => {
    for (const [k, s] of refreshes) if (Date.now() - s.startedAt > TTL_MS) refreshes.delete(k);
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
  const store = async (event: string, sessionId: string, key: NonNullable<PartyState['key']>) => {
    state.key = key;
    await deps.store.saveKey(key);
    // Nonces drawn for the old share must never sign with the new one.
    const dropped = await deps.store.clearNonces();
    await deps.store.audit({
      at: now().toISOString(),
      event,
      session: sessionId,
      detail: { dropped_nonces: dropped },
    });
  };

  return {
    refreshRound1(sessionId: string) {
      const key = requireKey();
      const out = refreshRound1(suite, {
        identifier: myId,
        threshold: key.keyPackage.threshold,
        rng: deps.rng,
      });
      refreshes.set(sessionId, { startedAt: Date.now(), round1: out.secret });
      return { package: RefreshRound1PackageCodec.toJSON(suite.id, out.package) };
    },

    refreshRound2(sessionId: string, body: Record<string, unknown>) {
      const s = session(sessionId);
      if (!s.round1) throw new ProtocolError('ROUND_ORDER', 'refresh round 2 already ran');
      const all = decodeList(
        body.round1_packages,
        (p) => RefreshRound1PackageCodec.fromJSON(p, suite.id).value,
      );
      const out = refreshRound2(
        suite,
        s.round1,
        all.filter((p) => p.identifier !== myId),
      );
      s.round2 = out.secret;
      delete s.round1;
      const sealed = out.packages.map((pkg) => {
        const to = partyByIdentifier(roster, pkg.receiver);
        if (!to)
          throw new ProtocolError(
            'UNKNOWN_IDENTIFIER',
            `refresh receiver ${pkg.receiver} is not in the roster`,
          );
        const item = sealFor(deps, 'refresh', sessionId, to, RefreshRound2PackageCodec, pkg);
        pkg.zeroShare.wipe();
        return item;
      });
      return { sealed };
    },

    async refreshRound3(sessionId: string, body: Record<string, unknown>) {
      const s = session(sessionId);
      if (!s.round2) throw new ProtocolError('ROUND_ORDER', 'refresh round 3 before round 2');
      const key = requireKey();
      const round1 = decodeList(
        body.round1_packages,
        (p) => RefreshRound1PackageCodec.fromJSON(p, suite.id).value,
      );
      const received = openAll(deps, 'refresh', sessionId, body.sealed, RefreshRound2PackageCodec).map(
        (r) => r.value,
      );
      const share = refreshRound3(
        suite,
        s.round2,
        round1.filter((p) => p.identifier !== myId),
        received,
      );
      const out = applyRefresh(suite, key.keyPackage, key.publicPackage, share);
      refreshes.delete(sessionId);
      await store('refresh.completed', sessionId, {
        ...key,
        keyPackage: out.keyPackage,
        publicPackage: out.publicPackage,
      });
      return {
        group_public_key: bytesToHex(out.publicPackage.groupPublicKey),
        verifying_share: bytesToHex(out.keyPackage.verifyingShare),
        public_package: PublicKeyPackageCodec.toJSON(suite.id, out.publicPackage),
      };
    },

    repairStep1(sessionId: string, body: Record<string, unknown>) {
      const key = requireKey();
      const helpers = parties(body.helpers, 'body.helpers');
      const lost = parties([body.lost], 'body.lost')[0]!;
      if (!helpers.some((h) => h.id === self.id))
        throw new ValidationError('FORBIDDEN', 'this party is not among the helpers');
      const deltas = repairStep1(
        suite,
        helpers.map((h) => frostIdentifier(roster, h)),
        key.keyPackage,
        frostIdentifier(roster, lost),
        deps.rng,
      );
      const sealed = deltas.map((d) => {
        const to = partyByIdentifier(roster, d.receiver)!;
        const item = sealFor(deps, 'repair-delta', sessionId, to, RepairDeltaCodec, d);
        d.delta.wipe();
        return item;
      });
      return { sealed };
    },

    repairStep2(sessionId: string, body: Record<string, unknown>) {
      const key = requireKey();
      const helpers = parties(body.helpers, 'body.helpers');
      const lost = parties([body.lost], 'body.lost')[0]!;
      const deltas = openAll(deps, 'repair-delta', sessionId, body.sealed, RepairDeltaCodec).map(
        (r) => r.value,
      );
      const sigma = repairStep2(
        suite,
        helpers.map((h) => frostIdentifier(roster, h)),
        key.keyPackage,
        deltas,
      );
      const item = sealFor(deps, 'repair-sigma', sessionId, lost, RepairSigmaCodec, sigma);
      sigma.sigma.wipe();
      return { sealed: item };
    },

    async repairStep3(sessionId: string, body: Record<string, unknown>) {
      if (state.key && body.replace !== true)
        throw new AapsError('KEY_EXISTS', 'this party holds a key; pass replace: true to repair it');
      const helpers = parties(body.helpers, 'body.helpers');
      const publicPackage = PublicKeyPackageCodec.fromJSON(body.public_package, suite.id).value;
      const sigmas = openAll(deps, 'repair-sigma', sessionId, body.sealed, RepairSigmaCodec).map(
        (r) => r.value,
      );
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
      });
      return {
        verifying_share: bytesToHex(keyPackage.verifyingShare),
        group_public_key: bytesToHex(publicPackage.groupPublicKey),
      };
    },
  };
}

function decodeList<T>(list: unknown, decode: (v: unknown) => T): T[] {
  if (!Array.isArray(list))
    throw new ValidationError('INVALID_ARGUMENT', 'expected an array of round-1 packages', [
      'body.round1_packages',
    ]);
  return list.map(decode);
}
