/**
 * Every roster party witnesses every checkpoint of the log, not only the k the coordinator asks
 * to sign it (docs/evidence.md, "What the parties check"; docs/threat-model.md): the evidence
 * writer shows each signed checkpoint to the parties outside its quorum (`checkpoint.witness`),
 * which check the group signature, the origin and consistency with their own record, and advance
 * it. So when a usual signer loses its record (a repair or `aaps party restore` gives it its share
 * back on an empty store), it and the parties that never signed are no quorum for a rewrite of the
 * log: those parties hold the true checkpoint. A fork shown to a party this way is refused, logged
 * and audited; a note the group did not sign is refused as well.
 *
 * Real parts: five party apps (dealt 3-of-5 key, LevelDB stores, `log_origin` set as `aaps up`
 * sets it) reached through app.request, the gateway's HTTP coordinator and evidence writer over
 * in-memory logs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartyStore } from '@aaps/agents';
import { openCheckpoint, signCheckpoint } from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, signBytes } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Coordinator, ThresholdResult } from './coordinator.js';
import { type DealtGroup, dealtGroup, plainEntry } from './test-helpers/dealt-group.js';
import { memoryLogStore } from './test-helpers/log-store.js';

const ORIGIN = 'aaps.local/log';
const dir = mkdtempSync(join(tmpdir(), 'aaps-witness-non-quorum-'));
const opened: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** The group's coordinator, recording who signed each checkpoint. */
function recording(group: DealtGroup, signers: string[][]): Coordinator {
  return {
    ...group.coordinator,
    signCheckpoint: async (input) => {
      const r: ThresholdResult = await group.coordinator.signCheckpoint(input);
      signers.push([...r.signers].sort());
      return r;
    },
  };
}

describe('parties outside the signing quorum witness the log', () => {
  it('a repaired signer and the parties that never signed cannot sign a rewrite of the log', async () => {
    const group = await dealtGroup({ dir, opened, logOrigin: ORIGIN });
    const ids = group.set.roster.parties.map((p) => p.id);
    const signers: string[][] = [];
    const coordinator = recording(group, signers);

    // The true log: three entries, each checkpoint signed by the same three parties.
    const honest = group.writer(ORIGIN, memoryLogStore().store, coordinator);
    for (const n of [1, 2, 3]) await honest.record(plainEntry(group, `true-${n}`));
    await honest.witnessed();
    const signedTrue = (await honest.latestCheckpoint())!;
    expect(signedTrue.size).toBe(3);
    const usual = signers[0]!;
    expect(signers.every((s) => s.join() === usual.join())).toBe(true);
    const never = ids.filter((id) => !usual.includes(id));
    expect(never).toHaveLength(2);
    // The two that never signed were shown every checkpoint and hold the newest.
    for (const id of never) {
      expect(await group.stores[ids.indexOf(id)]!.lastCheckpoint(ORIGIN)).toEqual({
        size: 3,
        rootHex: bytesToHex(signedTrue.rootHash),
      });
    }

    // One of the usual signers loses its store and is given its share back: no witness record.
    const lost = ids.indexOf(usual.at(-1)!);
    await group.party(lost, ORIGIN);
    expect(await group.stores[lost]!.lastCheckpoint(ORIGIN)).toBeUndefined();

    // The gateway rewrites the log: another history under the same origin.
    const evil = group.writer(ORIGIN, memoryLogStore().store, coordinator);
    for (const n of [1, 2, 3]) {
      const e = await evil.record(plainEntry(group, `rewritten-${n}`)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    }
    expect(await evil.latestCheckpoint()).toBeUndefined();
    for (const id of never) {
      expect(await group.stores[ids.indexOf(id)]!.lastCheckpoint(ORIGIN)).toMatchObject({ size: 3 });
    }
    // The honest log goes on with the parties that hold it, each signing or shown its checkpoint.
    // The repaired party took the rewrite's first checkpoints on trust (an empty record trusts
    // the first it sees) and now refuses the true log, loudly, in signing and when shown it.
    await honest.record(plainEntry(group, 'true-4'));
    await honest.witnessed();
    const four = (await honest.latestCheckpoint())!;
    for (const [i, s] of group.stores.entries()) {
      if (i === lost) continue;
      expect(await s.lastCheckpoint(ORIGIN)).toEqual({ size: 4, rootHex: bytesToHex(four.rootHash) });
    }
    expect(
      group.loggers[lost]!.lines.some(
        (l) => l.includes('"level":"warn"') && l.includes('checkpoint.witness_refused'),
      ),
    ).toBe(true);
  }, 180_000);

  it('at a start, every party is shown the latest checkpoint: one repaired while the gateway was down records the true log first', async () => {
    const group = await dealtGroup({ dir, opened, logOrigin: ORIGIN });
    const log = memoryLogStore().store;
    const before = group.writer(ORIGIN, log);
    for (const n of [1, 2]) await before.record(plainEntry(group, `start-${n}`));
    await before.witnessed();
    const latest = (await before.latestCheckpoint())!;
    // Party 0 gets its share back on an empty store while the gateway is down: no witness record.
    await group.party(0, ORIGIN);
    expect(await group.stores[0]!.lastCheckpoint(ORIGIN)).toBeUndefined();
    // The gateway starts again over the same log and shows every party its latest checkpoint.
    const after = group.writer(ORIGIN, log);
    await after.witnessLatest();
    await after.witnessed();
    for (const s of group.stores)
      expect(await s.lastCheckpoint(ORIGIN)).toEqual({
        size: latest.size,
        rootHex: bytesToHex(latest.rootHash),
      });
    // So a rewrite of the log gets no signature from it: it holds the true checkpoint.
    const evil = group.writer(ORIGIN, memoryLogStore().store);
    for (const n of [1, 2]) {
      const e = await evil.record(plainEntry(group, `rewritten-${n}`)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    }
  }, 180_000);

  it('refuses, logs and audits a fork shown to it, and a note the group did not sign', async () => {
    const group = await dealtGroup({ dir, opened, logOrigin: ORIGIN });
    const honest = group.writer(ORIGIN, memoryLogStore().store);
    for (const n of [1, 2]) await honest.record(plainEntry(group, `true-${n}`));
    await honest.witnessed();
    const party = group.set.roster.parties[4]!.id;
    expect(await group.stores[4]!.lastCheckpoint(ORIGIN)).toMatchObject({ size: 2 });

    // A fork at size 2, signed by other holders of the group key that know no log.
    const fresh = await dealtGroup({ dir, opened, set: group.set, dealt: group.dealt, logOrigin: ORIGIN });
    const forked = fresh.writer(ORIGIN, memoryLogStore().store);
    for (const n of [1, 2]) await forked.record(plainEntry(fresh, `fork-${n}`));
    const fork = (await forked.latestCheckpoint())!;
    expect(fork.size).toBe(2);
    openCheckpoint(fork.note, [await honest.logKey()]);

    const shown = await group.coordinator.witnessCheckpoint!(party, { note: fork.note, consistency: [] });
    expect(shown).toMatchObject({ outcome: 'refused', rule: 'checkpoint.fork', signed_size: 2 });
    expect(
      group.loggers[4]!.lines.some((l) => l.includes('checkpoint.witness_refused') && l.includes('"warn"')),
    ).toBe(true);
    const trail = await group.stores[4]!.auditTrail();
    expect(trail.at(-1)).toMatchObject({
      event: 'checkpoint.witness_refused',
      detail: { rule: 'checkpoint.fork', tree_size: 2 },
    });

    // A note of the true log's next size signed by a key that is not the group's.
    const stranger = generateIdentityKey();
    const note = await signCheckpoint(
      { origin: ORIGIN, size: 3, rootHash: new Uint8Array(32).fill(7), extensions: [] },
      { name: ORIGIN, type: 'ed25519', publicKey: stranger.publicKey },
      async (m) => signBytes(stranger.secretKey, m),
    );
    const unsigned = await group.coordinator.witnessCheckpoint!(party, { note, consistency: [] });
    expect(unsigned).toMatchObject({ outcome: 'refused', rule: 'checkpoint.signature' });
    const junk = await group.coordinator.witnessCheckpoint!(party, { note: 'no note\n', consistency: [] });
    expect(junk).toMatchObject({ outcome: 'refused', rule: 'checkpoint.signature' });
    expect(await group.stores[4]!.lastCheckpoint(ORIGIN)).toMatchObject({ size: 2 });
  }, 180_000);
});
