/**
 * Crash during key generation, signing and refresh: kill -9 one party at seeded random points
 * (before or after a given request reaches it) across DKG, round 1, round 2 and refresh, restart
 * it, and show from the parties' own LevelDB records that no commitment was ever answered with two
 * shares, that every approval completed with another quorum or failed cleanly, and that the group
 * key never changed after the first DKG.
 */
import {
  type DkgResult,
  finishKeyCommits,
  frostIdentifier,
  httpSigningTransport,
  partyIdsOf,
  proposalSigningBytes,
  type RpcKind,
  runDkgOverHttp,
  runRefreshOverHttp,
  runRepairOverHttp,
  type SignSubject,
  vetoHolders,
} from '@aaps/agents';
import {
  AapsError,
  bytesToHex,
  commitmentKey,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  type SignatureShare,
  type SigningPackage,
  SigningPackageCodec,
  SigningSession,
  type SigningTransport,
  verifyEd25519,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalFor } from '../../packages/agents/src/policy/test-helpers/fixtures.js';
import { approvalRequired, approvalSubject } from '../helpers/backing.js';
import { type KillPoint, killingFetch } from '../helpers/fault-fetch.js';
import { type PartyCluster, startPartyCluster, suite } from '../helpers/party-cluster.js';
import { checkPartyRecords } from '../helpers/party-records.js';
import { recordResult } from '../helpers/results.js';
import { seededRng } from '../helpers/rng.js';
import { reproduce, SEED, scaled } from '../helpers/settings.js';

type Phase = 'dkg' | 'round1' | 'round2' | 'refresh';
const KINDS: Record<Phase, readonly RpcKind[]> = {
  dkg: ['dkg.round1', 'dkg.round2', 'dkg.round3', 'key.commit'],
  round1: ['sign.commit'],
  round2: ['sign.round2'],
  refresh: ['refresh.round1', 'refresh.round2', 'refresh.round3', 'key.commit'],
};

interface Answered {
  party: string;
  key: string;
  share: string;
  pkg: SigningPackage;
  subject: SignSubject;
}

const POINTS = scaled(16, 100);
let cluster: PartyCluster;

describe('kill -9 during DKG, signing and refresh', () => {
  beforeAll(async () => {
    // It re-keys over held keys (DKG with replace) and repairs parties left with a wrong share.
    cluster = await startPartyCluster({ prefix: 'aaps-fault-crash-', allowKeyReplace: true });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
    cluster?.remove();
  });

  it(
    `${POINTS} seeded crash points: no second share for any commitment, clean outcomes, one group key`,
    async () => {
      const rng = seededRng(SEED);
      const ids = cluster.ids;
      const urlOf = (id: string) => cluster.layout.roster.parties.find((p) => p.id === id)!.url;
      // Draw the points; DKG points run first (before the key exists), the rest in drawn order.
      const phases: Phase[] = ['dkg', 'round1', 'round2', 'refresh'];
      const points = Array.from({ length: POINTS }, (_, i) => {
        const phase = i < 4 ? phases[i]! : rng.pick(phases);
        const victim = rng.pick(ids);
        return {
          phase,
          point: {
            victim,
            victimUrl: urlOf(victim),
            kind: rng.pick(KINDS[phase]),
            nth: 1,
            when: rng.next() < 0.5 ? 'before' : 'after',
          } satisfies KillPoint,
        };
      }).sort((a, b) => Number(b.phase === 'dkg') - Number(a.phase === 'dkg'));

      const answered: Answered[] = [];
      const outcomes = {
        dkg: { tried: 0, completed: 0, failed: 0, partialKeys: 0 },
        sign: { tried: 0, completed: 0, failedClean: 0, unclean: 0, retried: 0 },
        refresh: { tried: 0, completed: 0, failed: 0, committedLater: 0, staleParties: 0, repaired: 0 },
        kills: 0,
        restarts: 0,
      };
      const unclean: string[] = [];
      const staleProbe: Record<string, number> = {};
      /** Why approvals failed cleanly: the party killed, and whether every quorum needs it. */
      const failedCleanBy: Record<string, number> = {};
      const vetoHolderIds = new Set(vetoHolders(cluster.layout.roster).map((p) => p.id));
      let groupKey: string | undefined;
      let pub: PublicKeyPackage | undefined;

      const restartIfDown = async (id: string) => {
        if (!cluster.isRunning(id)) {
          await cluster.start(id);
          outcomes.restarts++;
        }
      };
      const keyInfos = async () =>
        Promise.all(
          ids.map(async (id) => {
            try {
              const i = await cluster
                .client()
                .call<{ group_public_key: string; public_package: unknown }>(id, 'key.info', 'i', {});
              return {
                id,
                group: i.group_public_key,
                pkg: JSON.stringify(i.public_package),
                raw: i.public_package,
              };
            } catch (e) {
              return { id, group: undefined, pkg: undefined, raw: undefined, code: (e as AapsError).code };
            }
          }),
        );
      /** After a failed refresh: parties left on another public package are repaired from the majority. */
      const reconcile = async () => {
        // As the gateway does first: a commit a crash cut short is finished from the statements.
        outcomes.refresh.committedLater += (
          await finishKeyCommits(cluster.client({ timeoutMs: 30_000 }))
        ).length;
        const infos = await keyInfos();
        const counts = new Map<string, number>();
        for (const i of infos) if (i.pkg) counts.set(i.pkg, (counts.get(i.pkg) ?? 0) + 1);
        const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
        const good = infos.filter((i) => i.pkg === majority);
        const stale = infos.filter((i) => i.pkg !== majority);
        const majorityPub = PublicKeyPackageCodec.fromJSON(good[0]!.raw, suite().id).value;
        for (const s of stale) {
          outcomes.refresh.staleParties++;
          // Before the repair: a signing that asks the stale party first. What does it get?
          const roster = cluster.layout.roster;
          const staleParty = roster.parties.find((q) => q.id === s.id)!;
          const probe = new SigningSession<SignSubject>({
            suite: suite(),
            publicPackage: majorityPub,
            transport: httpSigningTransport(cluster.client(), suite(), `stale-${s.id}`),
            timeoutMs: 3_000,
            preference: [frostIdentifier(roster, staleParty)],
          });
          const stalePk = approvalSubject(
            cluster.layout,
            proposalFor('image_rollback', { incident_id: `inc-stale-${SEED}-${n}` }),
          );
          try {
            const r = await probe.sign({
              payload: stalePk,
              required: approvalRequired(cluster.layout),
              messageFor: (x) => proposalSigningBytes((x as { proposal: unknown }).proposal),
            });
            expect(verifyEd25519(majorityPub.groupPublicKey, r.message, r.signature)).toBe(true);
            const fault = [...r.misbehaved, ...r.failed, ...r.timedOut].find(
              (f) => f.party === frostIdentifier(roster, staleParty),
            );
            const key = `signed without it: ${fault?.code ?? (partyIdsOf(roster, r.signers).includes(s.id) ? 'it signed' : 'not asked')}`;
            staleProbe[key] = (staleProbe[key] ?? 0) + 1;
          } catch (e) {
            const key = `failed: ${(e as AapsError).code}`;
            staleProbe[key] = (staleProbe[key] ?? 0) + 1;
          }
          await runRepairOverHttp(cluster.client({ timeoutMs: 30_000 }), {
            sessionId: `repair-${s.id}-${Date.now().toString(36)}`,
            lost: s.id,
            helpers: good.slice(0, 3).map((g) => g.id),
            publicPackage: good[0]!.raw,
          });
          outcomes.refresh.repaired++;
        }
        pub = majorityPub;
        return good[0]!.group!;
      };

      let n = 0;
      for (const { phase, point } of points) {
        n++;
        const ff = killingFetch(point, async (id) => {
          outcomes.kills++;
          await cluster.kill(id);
        });
        const client = cluster.client({ fetch: ff.fetch, timeoutMs: 3_000 });
        if (phase === 'dkg') {
          outcomes.dkg.tried++;
          try {
            await runDkgOverHttp(client, suite(), { sessionId: `dkg-crash-${n}`, replace: true });
            outcomes.dkg.completed++;
          } catch (e) {
            expect(e).toBeInstanceOf(AapsError);
            outcomes.dkg.failed++;
          }
          // Requests the run left in flight (a pool's top-up) may still kill the victim: wait for them.
          await ff.idle();
          await restartIfDown(point.victim);
          continue;
        }
        if (groupKey === undefined) {
          // The key of record: a clean DKG after the crash points (replacing any partial key).
          const infos = await keyInfos();
          const agreed = infos.every((i) => i.pkg !== undefined && i.pkg === infos[0]!.pkg)
            ? infos[0]
            : undefined;
          if (!agreed) {
            outcomes.dkg.partialKeys += infos.filter((i) => i.pkg !== undefined).length > 0 ? 1 : 0;
            const r: DkgResult = await cluster.dkg(`dkg-final-${SEED}`, true);
            groupKey = r.groupPublicKeyHex;
            pub = r.publicPackage;
          } else {
            groupKey = agreed.group!;
            pub = PublicKeyPackageCodec.fromJSON(agreed.raw, suite().id).value;
          }
        }
        if (phase === 'refresh') {
          outcomes.refresh.tried++;
          try {
            const r = await runRefreshOverHttp(client, suite(), { sessionId: `refresh-${n}` });
            expect(r.groupPublicKeyHex).toBe(groupKey);
            outcomes.refresh.completed++;
          } catch (e) {
            expect(e).toBeInstanceOf(AapsError);
            outcomes.refresh.failed++;
          }
          // Requests the run left in flight (a pool's top-up) may still kill the victim: wait for them.
          await ff.idle();
          await restartIfDown(point.victim);
          expect(await reconcile()).toBe(groupKey);
          continue;
        }
        outcomes.sign.tried++;
        const subject: SignSubject = approvalSubject(
          cluster.layout,
          proposalFor('image_rollback', { incident_id: `inc-crash-${SEED}-${n}` }),
        );
        const base = httpSigningTransport(client, suite(), `crash-${n}`);
        const transport: SigningTransport<SignSubject> = {
          commit: (p, r, s) => base.commit(p, r, s),
          async sign(p, r, s) {
            const share: SignatureShare = await base.sign(p, r, s);
            const mine = r.signingPackage.commitments.find((c) => c.identifier === p)!;
            answered.push({
              party: partyIdsOf(cluster.layout.roster, [p])[0]!,
              key: commitmentKey(mine),
              share: bytesToHex(share.share),
              pkg: r.signingPackage,
              subject,
            });
            return share;
          },
        };
        const session = new SigningSession<SignSubject>({
          suite: suite(),
          publicPackage: pub!,
          transport,
          timeoutMs: 3_000,
        });
        try {
          const result = await session.sign({
            payload: subject,
            required: approvalRequired(cluster.layout),
            messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
          });
          expect(verifyEd25519(pub!.groupPublicKey, result.message, result.signature)).toBe(true);
          outcomes.sign.completed++;
          if (result.attempts > 1) outcomes.sign.retried++;
        } catch (e) {
          if (e instanceof AapsError && e.code === 'QUORUM_UNREACHABLE') {
            outcomes.sign.failedClean++;
            const why = `${point.victim} killed${vetoHolderIds.has(point.victim) ? ' (holds a veto: in every quorum)' : ''}`;
            failedCleanBy[why] = (failedCleanBy[why] ?? 0) + 1;
          } else {
            outcomes.sign.unclean++;
            unclean.push(
              `${phase} ${point.when} ${point.kind} ${point.victim}: ${(e as AapsError).code ?? e}`,
            );
          }
        }
        // Requests the run left in flight (a pool's top-up) may still kill the victim: wait for them.
        await ff.idle();
        await restartIfDown(point.victim);
      }
      if (groupKey === undefined) {
        const r = await cluster.dkg(`dkg-final-${SEED}`, true);
        groupKey = r.groupPublicKeyHex;
      }

      // Every commitment that was answered once is refused a second time, by a live party.
      const probe = cluster.client();
      const reasked: Record<string, number> = {};
      let secondShares = 0;
      for (const a of answered) {
        try {
          await probe.call(a.party, 'sign.round2', `reask-${a.key.slice(0, 8)}`, {
            signing_package: SigningPackageCodec.toJSON(suite().id, a.pkg),
            subject: a.subject,
          });
          secondShares++;
        } catch (e) {
          const code = (e as AapsError).code;
          reasked[code] = (reasked[code] ?? 0) + 1;
        }
      }
      const finalInfos = await keyInfos();
      const finalKeys = new Set(finalInfos.map((i) => i.group));

      // The parties' own records, read from their LevelDB after they stopped.
      await cluster.stopAll();
      const {
        tombstonesMissing,
        auditShares: auditShareEntries,
        duplicateShareDigests: duplicateAuditShares,
        sharesBeyondTombstones,
        doubleAnswered,
      } = await checkPartyRecords(cluster.ids, (id) => cluster.openStore(id), answered);

      recordResult({
        suite: 'crash',
        order: 1,
        title: 'Crash during DKG, signing and refresh',
        command: reproduce('test/fault/crash.fault.test.ts'),
        figures: [
          { name: 'crash points (kill -9 before/after a request)', value: points.length },
          { name: 'kills delivered', value: outcomes.kills },
          {
            name: 'points whose request never came (victim not in the quorum)',
            value: points.length - outcomes.kills,
          },
          { name: 'restarts', value: outcomes.restarts },
          {
            name: 'DKG attempts with a crash / completed / failed',
            value: `${outcomes.dkg.tried} / ${outcomes.dkg.completed} / ${outcomes.dkg.failed}`,
          },
          { name: 'approvals with a crash', value: outcomes.sign.tried },
          {
            name: 'approvals completed (signature verifies under the group key)',
            value: outcomes.sign.completed,
          },
          { name: 'approvals completed after a retry with another quorum', value: outcomes.sign.retried },
          {
            name: 'approvals failed cleanly (QUORUM_UNREACHABLE, no signature)',
            value: outcomes.sign.failedClean,
          },
          { name: 'approvals failed cleanly, by the party killed', value: JSON.stringify(failedCleanBy) },
          { name: 'approvals ending any other way', value: outcomes.sign.unclean, goal: 0 },
          {
            name: 'refreshes with a crash / completed / failed',
            value: `${outcomes.refresh.tried} / ${outcomes.refresh.completed} / ${outcomes.refresh.failed}`,
          },
          {
            name: 'parties whose commit a crash cut short, committed later from the statements',
            value: outcomes.refresh.committedLater,
          },
          {
            name: 'parties left on a stale share by a failed refresh (repaired)',
            value: `${outcomes.refresh.staleParties} (${outcomes.refresh.repaired})`,
          },
          {
            name: 'a signing asking a stale party first, before its repair',
            value: JSON.stringify(staleProbe),
          },
          { name: 'shares answered (coordinator side)', value: answered.length },
          { name: 'commitments answered with two shares (coordinator side)', value: doubleAnswered, goal: 0 },
          { name: 'answered commitments asked again that got a share', value: secondShares, goal: 0 },
          { name: 'answered commitments asked again: refusal codes', value: JSON.stringify(reasked) },
          {
            name: 'answered commitments without a tombstone in the party store',
            value: tombstonesMissing,
            goal: 0,
          },
          { name: 'sign.share audit entries (all parties)', value: auditShareEntries },
          {
            name: 'sign.share entries beyond the tombstones (per-party sum)',
            value: sharesBeyondTombstones,
            goal: 0,
          },
          { name: 'duplicate share digests in the audit trails', value: duplicateAuditShares, goal: 0 },
          { name: 'distinct group keys held by the parties at the end', value: finalKeys.size, goal: 1 },
          {
            name: 'group key equals the key of record',
            value: String(finalKeys.has(groupKey)),
            goal: 'true',
          },
        ],
        notes: [
          'Kill points are drawn from the seed: phase (DKG points first, while no key exists), victim, request kind, before or after delivery.',
          "A DKG or refresh takes effect in two phases: round 3 keeps the new key or share pending, and `key.commit` with every party's signed statement that it verified it makes it current. A party killed in round 3 leaves every share unchanged; one killed at its commit keeps its old share while the others hold the new one. After each refresh point the suite does what the gateway does: it finishes cut-short commits from the statements (`finishKeyCommits`), then repairs any party still on another public package from the majority (`runRepairOverHttp`); the group key never changes.",
          ...unclean.map((u) => `unclean outcome: ${u}`),
        ],
      });

      expect(outcomes.sign.unclean).toBe(0);
      expect(doubleAnswered).toBe(0);
      expect(secondShares).toBe(0);
      expect(tombstonesMissing).toBe(0);
      expect(sharesBeyondTombstones).toBe(0);
      expect(duplicateAuditShares).toBe(0);
      expect(finalKeys.size).toBe(1);
      expect(finalKeys.has(groupKey)).toBe(true);
      expect(outcomes.sign.completed + outcomes.sign.failedClean).toBe(outcomes.sign.tried);
    },
    scaled(150_000, 1_500_000),
  );
});
