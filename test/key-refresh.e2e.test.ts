/**
 * Proactive share refresh across real party processes, driven by the gateway's coordinator: the
 * group key stays and every verifying share changes; signings wait for it and sign under the new
 * shares; a refresh whose round 3 fails anywhere changes no share; one whose commit reached only
 * some parties is committed at the rest from every party's statements (by the gateway, and by a
 * gateway starting later); one the gateway did not record is taken; a party down refuses it and
 * changes nothing. Then `aaps keys refresh` against `aaps up`, with an incident resolved and its
 * evidence verified offline after it.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  memoryLogger,
  publicPackageDigestOfJson,
  runRefreshOverHttp,
  runRepairOverHttp,
  vetoHolders,
} from '@aaps/agents';
import { formatCheckpoint, MemoryMerkleTree } from '@aaps/evidence';
import { createHttpCoordinator, type KeyRefreshResult, runDkg } from '@aaps/gateway';
import { AapsError, canonicalize, PublicKeyPackageCodec, type ValidationError } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPort } from '../bench/load/cluster.js';
import { proposalFor } from '../packages/agents/src/policy/test-helpers/fixtures.js';
import { AAPS_CLI, gatewayApi, killAllAaps, startAaps, waitSettled } from './helpers/aaps.js';
import { clusterBacking } from './helpers/backing.js';
import { incidentSignal } from './helpers/incidents.js';
import { type PartyCluster, startPartyCluster, suite } from './helpers/party-cluster.js';

const VERIFY = join(import.meta.dirname, '..', 'packages', 'evidence', 'dist', 'cli', 'aaps-verify.js');

let cluster: PartyCluster;
let initial: unknown;

beforeAll(async () => {
  cluster = await startPartyCluster({ prefix: 'aaps-refresh-' });
  initial = PublicKeyPackageCodec.toJSON(suite().id, (await cluster.dkg()).publicPackage);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
});

/** Every party's public package, as canonical text (`key.info`). */
async function held(): Promise<string[]> {
  const client = cluster.client();
  return Promise.all(
    cluster.ids.map(async (id) =>
      canonicalize(
        (await client.call<{ public_package: unknown }>(id, 'key.info', 'test', {})).public_package,
      ),
    ),
  );
}

/** A fault on `path` for the listed parties' ports, once each; every other request goes through. */
function failingOnce(path: string, partyIds: readonly string[]): typeof fetch {
  const ports = new Set(
    cluster.layout.roster.parties.filter((p) => partyIds.includes(p.id)).map((p) => new URL(p.url).port),
  );
  return (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.pathname === path && ports.delete(url.port)) {
      return Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }));
    }
    return fetch(input, init);
  };
}

/** The log the test's checkpoints are of: one leaf more for each. */
const log = new MemoryMerkleTree();
const origin = 'aaps.test/refresh';
/**
 * A checkpoint signature. Parties witness one log (its origin pinned with the first checkpoint
 * they sign), and a larger checkpoint needs a consistency proof from the one each last signed:
 * every call carries a proof from every smaller size.
 */
async function signs(coordinator: ReturnType<typeof createHttpCoordinator>, grow = true) {
  if (grow) log.append(new TextEncoder().encode(`leaf ${log.size}`));
  const treeSize = log.size;
  const rootHash = log.root(treeSize);
  const consistency = Array.from({ length: treeSize - 1 }, (_, i) => ({
    from: i + 1,
    hashes: log.consistencyProof(i + 1, treeSize),
  }));
  const r = await coordinator.signCheckpoint({ origin, treeSize, rootHash, consistency });
  const key = (await coordinator.keys()).group_public_key;
  const spki = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(key, 'hex')]),
    format: 'der',
    type: 'spki',
  });
  const body = Buffer.from(formatCheckpoint({ origin, size: treeSize, rootHash, extensions: [] }));
  expect(nodeVerify(null, body, spki, Buffer.from(r.signature))).toBe(true);
  expect(r.misbehaved).toEqual([]);
  return r;
}

/** Every party holds `pkg` and the coordinator signs under it; the next test starts from it. */
async function settledOn(pkg: unknown, coordinator: ReturnType<typeof createHttpCoordinator>) {
  expect(new Set(await held())).toEqual(new Set([canonicalize(pkg)]));
  await signs(coordinator);
  initial = pkg;
}

function coordinatorOn(
  publicPackage: unknown,
  o: { fetch?: typeof fetch; saved?: unknown[]; logger?: ReturnType<typeof memoryLogger> } = {},
) {
  return createHttpCoordinator({
    roster: cluster.layout.roster,
    gatewayKey: cluster.layout.gatewayKey,
    publicPackage,
    logger: o.logger ?? memoryLogger(),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    savePublicPackage: (json) => o.saved?.push(json),
  });
}

async function refusal(p: Promise<unknown>): Promise<AapsError> {
  const e = await p.then(
    () => expect.unreachable('expected a refusal'),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AapsError);
  return e as AapsError;
}

function expectAllChanged(r: KeyRefreshResult) {
  for (const p of r.parties) expect(p.verifying_share).not.toBe(p.previous_verifying_share);
}

describe('key refresh across party processes (3-of-5)', () => {
  it('changes every verifying share, keeps the group key, saves the package and signs after it', async () => {
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved });
    const before = await coordinator.keys();
    await signs(coordinator);
    const r = await coordinator.refreshKeys!();
    expect(r.group_public_key).toBe(before.group_public_key);
    expect(r.parties.map((p) => p.previous_verifying_share)).toEqual(
      before.parties.map((p) => p.verifying_share),
    );
    expectAllChanged(r);
    expect(r.repaired).toEqual([]);
    const after = await coordinator.keys();
    expect(after.parties.map((p) => p.verifying_share)).toEqual(r.parties.map((p) => p.verifying_share));
    expect(saved).toHaveLength(1);
    await settledOn(saved[0], coordinator);
  }, 60_000);

  it('lets signings under way finish first; those asked once it holds them wait and sign under the new shares', async () => {
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved });
    const doneAt = (p: Promise<unknown>) => p.then(() => performance.now());
    // Two signings at once are of one checkpoint: two of different sizes could reach a party in
    // either order, and one that claimed the larger first rightly refuses the smaller (behind).
    const early = [doneAt(signs(coordinator)), doneAt(signs(coordinator, false))];
    // Signings asked for once the gate is closed (the parties answered, nothing stale): they wait.
    const late: Promise<number>[] = [];
    const refresh = coordinator.refreshKeys!({
      progress: (line) => {
        if (line.startsWith('refresh: signings wait from here'))
          late.push(doneAt(signs(coordinator)), doneAt(signs(coordinator, false)));
      },
    });
    const refreshedAt = doneAt(refresh);
    const second = await refusal(coordinator.refreshKeys!());
    expect(second.code).toBe('CONFLICT');
    const r = await refresh;
    expectAllChanged(r);
    expect(late).toHaveLength(2);
    // The early signings ended before the refresh did; the late ones only after it.
    const [e, l, at] = [await Promise.all(early), await Promise.all(late), await refreshedAt];
    expect(Math.max(...e)).toBeLessThanOrEqual(at);
    expect(Math.min(...l)).toBeGreaterThanOrEqual(at);
    initial = saved[0];
  }, 60_000);

  it('completes a refresh whose commit reached only some parties, from every party’s statements', async () => {
    const [a, b] = [cluster.ids[0]!, cluster.ids[3]!];
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved, fetch: failingOnce('/v1/key/commit', [a, b]) });
    const r = await coordinator.refreshKeys!();
    // Committed, not repaired: every party had verified the refresh.
    expect(r.repaired).toEqual([]);
    expect(r.steps.join('\n')).toMatch(new RegExp(`committing at (${a}, ${b}|${b}, ${a})`));
    expectAllChanged(r);
    await settledOn(saved[0], coordinator);
  }, 60_000);

  it('leaves every share unchanged when a round 3 fails at some parties', async () => {
    const three = cluster.ids.slice(0, 3);
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved, fetch: failingOnce('/v1/refresh/round3', three) });
    const before = await coordinator.keys();
    const e = await refusal(coordinator.refreshKeys!());
    expect(e.message).toContain('the shares are unchanged');
    expect(saved).toEqual([]);
    expect((await coordinator.keys()).parties).toEqual(before.parties);
    await settledOn(initial, coordinator);
  }, 60_000);

  it('takes a refresh it did not record (k parties hold a newer package) and refreshes from there', async () => {
    await runRefreshOverHttp(cluster.client({ timeoutMs: 30_000 }), suite(), { sessionId: 'unrecorded' });
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved });
    const r = await coordinator.refreshKeys!();
    expect(r.steps.join('\n')).toContain('5 parties hold another key package than the gateway');
    await settledOn(saved[0], coordinator);
  }, 60_000);

  it('a gateway starting after a crash between commits commits the party it missed', async () => {
    const missed = cluster.ids[2]!;
    await expect(
      runRefreshOverHttp(
        cluster.client({ timeoutMs: 30_000, fetch: failingOnce('/v1/key/commit', [missed]) }),
        suite(),
        { sessionId: 'missed-one' },
      ),
    ).rejects.toThrow();
    // The party it missed is killed (-9) and restarted: its pending share is read back from disk.
    await cluster.restart(missed);
    const before = await held();
    const group = before.find((_, i) => i !== cluster.ids.indexOf(missed))!;
    expect(before[cluster.ids.indexOf(missed)]).not.toBe(group);
    const dataDir = mkdtempSync(join(tmpdir(), 'aaps-refresh-gw-'));
    try {
      const lines: string[] = [];
      const started = await runDkg({
        roster: cluster.layout.roster,
        gatewayKey: cluster.layout.gatewayKey,
        dataDir,
        log: (line) => lines.push(line),
      });
      expect(lines.join('\n')).toContain(`committing at ${missed}`);
      expect(canonicalize(started.publicPackage)).toBe(group);
      expect(canonicalize(JSON.parse(readFileSync(join(dataDir, 'public-package.json'), 'utf8')))).toBe(
        group,
      );
      await settledOn(started.publicPackage, coordinatorOn(started.publicPackage));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a repair with helpers from two sharings is refused, and nobody’s share changes', async () => {
    // A refresh committed at three parties only: two sharings of one group key.
    const [a, b, c, d, e] = cluster.ids as [string, string, string, string, string];
    await expect(
      runRefreshOverHttp(
        cluster.client({ timeoutMs: 30_000, fetch: failingOnce('/v1/key/commit', [a, b]) }),
        suite(),
        { sessionId: 'two-sharings' },
      ),
    ).rejects.toThrow();
    const split = await held();
    const [oldText, newText] = [split[0]!, split[2]!];
    expect(oldText).not.toBe(newText);
    const client = cluster.client({ timeoutMs: 30_000 });
    const newJson = JSON.parse(newText);
    const oldJson = JSON.parse(oldText);
    // Through the driver: the helper on the other sharing refuses to help.
    const mixed = runRepairOverHttp(client, {
      sessionId: 'mixed-1',
      lost: c,
      helpers: [a, d, e],
      publicPackage: newJson,
    });
    await expect(mixed).rejects.toThrow(/this helper holds/);
    // A coordinator that names each helper its own package: the deltas do not open across them.
    const digestOf: Record<string, string> = {
      [a]: publicPackageDigestOfJson(oldJson),
      [d]: publicPackageDigestOfJson(newJson),
      [e]: publicPackageDigestOfJson(newJson),
    };
    const helpers = [a, d, e];
    const step1 = await Promise.all(
      helpers.map((id) =>
        client.call<{ sealed: { party: string; box: unknown; sig: string }[] }>(
          id,
          'repair.step1',
          'mixed-2',
          {
            helpers,
            lost: c,
            package_digest: digestOf[id],
          },
        ),
      ),
    );
    // What d receives: one delta from each other helper (a's was sealed under the old package).
    const toD = step1.flatMap((r, i) =>
      r.sealed.filter((x) => x.party === d).map((x) => ({ ...x, party: helpers[i]! })),
    );
    await expect(
      client.call(d, 'repair.step2', 'mixed-2', {
        helpers,
        lost: c,
        package_digest: digestOf[d],
        sealed: toD,
      }),
    ).rejects.toThrow(/not signed by/);
    expect(await held()).toEqual(split);
    // The gateway's refresh settles the group again (committing a and b first).
    const saved: unknown[] = [];
    const coordinator = coordinatorOn(initial, { saved });
    await coordinator.refreshKeys!();
    await settledOn(saved[0], coordinator);
    void b;
  }, 60_000);

  it('refuses while a party is down, changing nothing; signings go on without it', async () => {
    const down = cluster.ids[4]!;
    const coordinator = coordinatorOn(initial);
    const before = await coordinator.keys();
    await cluster.kill(down);
    try {
      const e = await refusal(coordinator.refreshKeys!());
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(down);
      expect((await coordinator.keys()).parties).toEqual(before.parties);
      await signs(coordinator);
    } finally {
      await cluster.start(down);
    }
  }, 60_000);
});

describe('key repair across party processes (3-of-5)', () => {
  /** `id`'s public package, as canonical text (`key.info`). */
  const heldBy = async (id: string) =>
    canonicalize(
      (await cluster.client().call<{ public_package: unknown }>(id, 'key.info', 'test', {})).public_package,
    );

  it('repairs a party whose disk was wiped while another is down; it signs again, and no verifying share changed', async () => {
    const [a, lost, c, down, e] = cluster.ids as [string, string, string, string, string];
    const coordinator = coordinatorOn(initial);
    const before = await coordinator.keys();
    // The department replaced the party's disk: a fresh store, no key.
    await cluster.kill(lost);
    rmSync(join(cluster.dir, 'parties', lost, 'db'), { recursive: true, force: true });
    await cluster.start(lost);
    await cluster.kill(down);
    try {
      // A refresh needs every party: it cannot bring the lost one back while another is down.
      expect((await refusal(coordinator.refreshKeys!())).code).toBe('UNAVAILABLE');
      const r = await coordinator.repairKeys!({ reason: 'disk replaced' });
      expect(r.repaired).toEqual([lost]);
      expect(r.up_to_date).toEqual([a, c, e]);
      const steps = r.steps.join('\n');
      expect(steps).toContain('repair: requested (disk replaced)');
      expect(steps).toContain(`${lost} holds no key`);
      expect(steps).toMatch(new RegExp(`not asked \\(unreachable: ${down}\\)`));
      expect(r.group_public_key).toBe(before.group_public_key);
      expect((await coordinator.keys()).parties).toEqual(before.parties);
      expect(await heldBy(lost)).toBe(canonicalize(initial));
      // With two parties down, the repaired one is in every quorum: its share signs.
      await cluster.kill(e);
      const signed = await signs(coordinator);
      expect(signed.signers).toContain(lost);
    } finally {
      await cluster.start(down);
      if (!cluster.isRunning(e)) await cluster.start(e);
    }
    await settledOn(initial, coordinator);
  }, 90_000);

  it('a running gateway repairs a party that answers with no key: before trying again an approval it is required for, and in the background after a signing that went on without it', async () => {
    const logger = memoryLogger();
    const coordinator = coordinatorOn(initial, { logger });
    const wipe = async (id: string) => {
      await cluster.kill(id);
      rmSync(join(cluster.dir, 'parties', id, 'db'), { recursive: true, force: true });
      await cluster.start(id);
    };
    // Quality assurance holds a veto: every approval quorum includes it.
    const qa = vetoHolders(cluster.layout.roster)[0]!.id;
    await wipe(qa);
    const approved = proposalFor('image_rollback', { incident_id: 'inc-keyless-1' });
    const signed = await coordinator.signApproval(approved, clusterBacking(cluster.layout, approved));
    expect(signed.signers).toContain(qa);
    expect(await heldBy(qa)).toBe(canonicalize(initial));
    expect(logger.lines.join('\n')).toContain(`${qa} answered a signing with no key`);

    const other = cluster.ids.find((id) => id !== qa)!;
    await wipe(other);
    const r = await signs(coordinator);
    expect(r.signers).not.toContain(other);
    // The repair runs behind the signing: wait for it (it takes about a second).
    for (let i = 0; i < 100 && (await heldBy(other).catch(() => '')) !== canonicalize(initial); i++)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await heldBy(other)).toBe(canonicalize(initial));
    await settledOn(initial, coordinator);
  }, 90_000);

  it('a repair of a party that held its share keeps its stored nonces: the commitments the gateway pooled still sign', async () => {
    const coordinator = coordinatorOn(initial);
    const [a, b, c, d, e] = cluster.ids as [string, string, string, string, string];
    // Pooled commitments from every party.
    await signs(coordinator);
    // A repair of a, whose share is whole (a gateway may ask for one): the same share again.
    const out = await runRepairOverHttp(cluster.client({ timeoutMs: 30_000 }), {
      sessionId: `healthy-${Date.now().toString(36)}`,
      lost: a,
      helpers: [b, c, d],
      publicPackage: initial,
    });
    expect(out.verifyingShare).toBe(
      (await coordinator.keys()).parties.find((p) => p.id === a)!.verifying_share,
    );
    // Its store still holds the nonces behind the commitments the gateway pooled.
    await cluster.kill(a);
    const store = await cluster.openStore(a);
    try {
      expect(await store.count()).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    await cluster.start(a);
    // With d and e down, a is in the quorum, signing with a commitment pooled before the repair.
    await cluster.kill(d);
    await cluster.kill(e);
    try {
      const r = await signs(coordinator);
      expect(r.signers).toContain(a);
      expect(r.unavailable).toEqual([]);
    } finally {
      await cluster.start(d);
      await cluster.start(e);
    }
  }, 90_000);

  it('leaves a party on the package alone, refuses an id not in the roster, a repair during a refresh, and one fewer than k holders could help', async () => {
    const coordinator = coordinatorOn(initial);
    const [a, b, c] = cluster.ids as [string, string, string];
    const untouched = await coordinator.repairKeys!({ reason: 'check', parties: [a] });
    expect(untouched.repaired).toEqual([]);
    expect(untouched.up_to_date).toEqual([a]);
    expect(untouched.steps.join('\n')).not.toContain('repairing');

    const unknown = await refusal(
      coordinator.repairKeys!({ reason: 'x', parties: [b, 'nobody', b, 'nobody'] }),
    );
    expect(unknown.code).toBe('INVALID_ARGUMENT');
    expect(unknown.message).toContain('not in the roster: nobody (the parties are');
    expect((unknown as ValidationError).fields).toEqual(['parties[1]', 'parties[3]']);

    const saved: unknown[] = [];
    const refreshing = coordinatorOn(initial, { saved });
    const refresh = refreshing.refreshKeys!();
    const during = await refusal(refreshing.repairKeys!({ reason: 'x' }));
    expect(during.code).toBe('CONFLICT');
    expect(during.message).toContain('a key refresh is running');
    await refresh;
    await settledOn(saved[0], refreshing);

    // Three of five down: two holders cannot help (k = 3), and nothing is asked of anyone.
    const down = cluster.ids.slice(2);
    for (const id of down) await cluster.kill(id);
    try {
      const few = await refusal(refreshing.repairKeys!({ reason: 'x', parties: [c] }));
      expect(few.code).toBe('CONFLICT');
      expect(few.message).toContain('a repair needs 3 parties holding this gateway');
      expect(few.message).toContain(`unreachable: ${down.join(', ')}`);
    } finally {
      for (const id of down) await cluster.start(id);
    }
    await settledOn(initial, refreshing);
  }, 90_000);
});

describe('aaps keys refresh against aaps up', () => {
  // Made when the test runs, not when the file is collected: a run that filters this test out
  // (or whose file-level beforeAll fails) runs no afterAll here, and left the directory behind.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-keys-cli-'));
  });
  afterAll(async () => {
    await killAllAaps();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the keys, refreshes them, saves the package, and the next incident resolves and verifies', async () => {
    const port = await freshPort();
    const up = await startAaps({ command: 'up', dataDir: dir, port });
    const aaps = (...args: string[]) =>
      spawnSync(process.execPath, [AAPS_CLI, ...args, '--url', up.url, '--data-dir', dir], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    const shown = aaps('keys');
    expect(shown.status, shown.stderr).toBe(0);
    const groupKey = /^group key ([0-9a-f]{64}) /.exec(shown.stdout)?.[1];
    expect(groupKey).toBeDefined();
    const savedBefore = readFileSync(join(dir, 'public-package.json'), 'utf8');

    const noReason = aaps('keys', 'refresh');
    expect(noReason.status).toBe(2);
    expect(noReason.stderr).toContain('--reason TEXT is required');
    const refreshed = aaps('keys', 'refresh', '--reason', 'quarterly rotation');
    expect(refreshed.status, refreshed.stderr).toBe(0);
    expect(refreshed.stdout).toContain(`group key unchanged ${groupKey}`);
    expect(refreshed.stdout).toMatch(/refreshed 5 shares in [\d.]+ s/);
    expect(refreshed.stdout).toContain('refresh: requested (quarterly rotation)');
    const savedAfter = readFileSync(join(dir, 'public-package.json'), 'utf8');
    expect(savedAfter).not.toBe(savedBefore);
    const api = gatewayApi(up.url, up.token);
    const keys = await api.get<{ parties: { verifying_share: string }[] }>('/v1/keys');
    const file = JSON.parse(savedAfter) as { verifying_shares?: Record<string, string> };
    expect(JSON.stringify(file)).toContain(keys.body.parties[0]!.verifying_share);

    const posted = await api.post<{ incident_id: string }>(
      '/v1/incidents',
      incidentSignal('image', 'refresh'),
    );
    expect(posted.status).toBe(202);
    const settled = await waitSettled(api, [posted.body.incident_id], 60_000, { evidence: true });
    const incident = settled.get(posted.body.incident_id);
    expect(incident?.state, JSON.stringify(incident?.timeline?.slice(-3))).toBe('resolved');
    const bundle = await api.get(`/v1/evidence/${incident!.evidence_id}`);
    const root = await api.get('/v1/trusted-root');
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle.body));
    writeFileSync(join(dir, 'root.json'), JSON.stringify(root.body));
    const verified = spawnSync(
      process.execPath,
      [VERIFY, join(dir, 'bundle.json'), '--trusted-root', join(dir, 'root.json')],
      { encoding: 'utf8' },
    );
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);

    // A repair with every party on the package repairs nothing; an id not in the roster is refused.
    const repaired = aaps('keys', 'repair', '--reason', 'after the refresh');
    expect(repaired.status, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/^nothing to repair in [\d.]+ s; already on the package: .+; group key/m);
    const nobody = aaps('keys', 'repair', 'nobody', '--reason', 'disk replaced');
    expect(nobody.status).toBe(1);
    expect(nobody.stderr).toContain('not in the roster: nobody');

    // Unknown subcommands are usage errors.
    const bad = aaps('keys', 'rotate');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('keys: unknown subcommand rotate');
    await up.stop();
  }, 180_000);
});
