/**
 * Departments on separate hosts: each party process runs in its own network namespace, reached
 * over a veth pair (198.18.0.0/15, made and removed by the test) through a TCP proxy the test runs
 * between the coordinator and the party. The proxy injects latency, connection loss, and
 * partitions that heal (refused connections, and a black hole that swallows them). Approvals fail
 * closed while no quorum can talk, complete within a bounded time once one can, and nothing is
 * signed twice (checked against the parties' own LevelDB). Skips, saying why, where the machine
 * refuses namespaces.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  httpSigningTransport,
  layoutCluster,
  loadOrCreateDataKey,
  PARTY_MAIN,
  PartyClient,
  PartyStore,
  proposalSigningBytes,
  type Roster,
  runDkgOverHttp,
  type SignSubject,
  writeJsonFile,
} from '@aaps/agents';
import {
  type AapsError,
  type IdentityKey,
  loadFastBackends,
  type PublicKeyPackage,
  SigningSession,
  verifyEd25519,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalFor } from '../../packages/agents/src/policy/test-helpers/fixtures.js';
import { approvalRequired, approvalSubject } from '../helpers/backing.js';
import { type Host, makeHost, netnsRefusal, removeHost } from '../helpers/netns.js';
import { PARTIES, suite } from '../helpers/party-cluster.js';
import { type AnsweredCommitment, checkPartyRecords, recordingTransport } from '../helpers/party-records.js';
import { startTcpProxy, type TcpProxy } from '../helpers/proxy.js';
import { type Figure, recordResult } from '../helpers/results.js';
import { seededRng } from '../helpers/rng.js';
import { reproduce, SEED, scaled } from '../helpers/settings.js';
import { shopStagingPolicies } from '../helpers/shop-policies.js';

const refusal = netnsRefusal();
const PER_PHASE = scaled(4, 40);
const CALL_TIMEOUT_MS = 2_500;
const TAG = `f${process.pid % 10000}`;

let dir: string;
const hosts: Host[] = [];
const children = new Map<string, ChildProcess>();
const proxies = new Map<string, TcpProxy>();
let proxied: Roster;
let pub: PublicKeyPackage;
const ledger: AnsweredCommitment[] = [];
const figures: Figure[] = [];
const signedMessages = new Map<string, number>();
let seq = 0;

if (refusal) {
  // Recorded so the report says why this suite has no figures on this machine.
  recordResult({
    suite: 'netns',
    order: 3,
    title: 'Departments on separate hosts (network namespaces)',
    command: reproduce('test/fault/netns.fault.test.ts'),
    figures: [{ name: 'skipped', value: refusal }],
  });
}

async function waitHealthy(url: string, child: ChildProcess, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`party exited ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not healthy in ${ms} ms`);
}

let gatewayKey: IdentityKey;
const client = () =>
  new PartyClient({
    roster: proxied,
    caller: { id: 'gateway', key: gatewayKey },
    timeoutMs: CALL_TIMEOUT_MS,
  });

/** One approval: a fresh proposal, a robust session; the outcome and how long it took. */
async function approve(label: string): Promise<{ ok: boolean; code?: string; ms: number }> {
  const t = performance.now();
  const subject: SignSubject = approvalSubject(
    { dir, roster: proxied },
    proposalFor('image_rollback', { incident_id: `inc-netns-${SEED}-${label}-${seq++}` }),
  );
  const session = new SigningSession<SignSubject>({
    suite: suite(),
    publicPackage: pub,
    transport: recordingTransport(httpSigningTransport(client(), suite(), label), proxied, ledger),
    timeoutMs: CALL_TIMEOUT_MS,
  });
  try {
    const r = await session.sign({
      payload: subject,
      required: approvalRequired({ roster: proxied }),
      messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
    });
    expect(verifyEd25519(pub.groupPublicKey, r.message, r.signature)).toBe(true);
    const key = Buffer.from(r.message).toString('hex');
    signedMessages.set(key, (signedMessages.get(key) ?? 0) + 1);
    return { ok: true, ms: performance.now() - t };
  } catch (e) {
    return { ok: false, code: (e as AapsError).code, ms: performance.now() - t };
  }
}

describe.skipIf(refusal !== undefined)(
  `parties in their own network namespaces${refusal ? ` (skipped: ${refusal})` : ''}`,
  () => {
    beforeAll(async () => {
      await loadFastBackends();
      dir = mkdtempSync(join(tmpdir(), 'aaps-fault-netns-'));
      const policyFor = shopStagingPolicies(dir);
      const layout = await layoutCluster({ dir, parties: PARTIES, threshold: 3, policyFor });
      gatewayKey = layout.gatewayKey;
      const rng = seededRng(SEED + 3);
      try {
        // Hosts and proxies first: the roster the parties read names them at their proxies (the
        // roster digest covers the URLs, and the coordinator reaches them only through a proxy).
        for (const [i, p] of layout.roster.parties.entries()) {
          const host = makeHost(i + 1, TAG);
          hosts.push(host);
          const port = 7000 + i;
          proxies.set(p.id, await startTcpProxy({ targetHost: host.address, targetPort: port, rng }));
          writeJsonFile(layout.configPaths[p.id]!, {
            id: p.id,
            host: host.address,
            port,
            data_dir: '.',
            roster: layout.rosterPath,
            // The departments' own policies (they know `shop` runs in staging, as the proposals say).
            policy: policyFor(p),
          });
        }
        proxied = {
          ...layout.roster,
          parties: layout.roster.parties.map((p) => ({
            ...p,
            url: `http://127.0.0.1:${proxies.get(p.id)!.port}`,
          })),
        };
        writeJsonFile(layout.rosterPath, proxied);
        for (const [i, p] of layout.roster.parties.entries()) {
          const host = hosts[i]!;
          const child = spawn(
            'ip',
            ['netns', 'exec', host.ns, process.execPath, PARTY_MAIN, '--config', layout.configPaths[p.id]!],
            { stdio: ['ignore', 'ignore', 'ignore'] },
          );
          children.set(p.id, child);
        }
        await Promise.all(
          layout.roster.parties.map((p, i) =>
            waitHealthy(`http://${hosts[i]!.address}:${7000 + i}`, children.get(p.id)!),
          ),
        );
      } catch (e) {
        for (const c of children.values()) c.kill('SIGKILL');
        for (const pr of proxies.values()) await pr.close();
        for (const h of hosts) removeHost(h);
        throw e;
      }
      const dkgClient = new PartyClient({
        roster: proxied,
        caller: { id: 'gateway', key: layout.gatewayKey },
        timeoutMs: 30_000,
      });
      pub = (await runDkgOverHttp(dkgClient, suite(), { sessionId: `dkg-netns-${SEED}` })).publicPackage;
    }, 120_000);

    afterAll(async () => {
      for (const p of proxies.values()) await p.close();
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null || c.signalCode !== null) return r();
              c.once('exit', () => r());
              c.kill('SIGKILL');
            }),
        ),
      );
      for (const h of hosts) removeHost(h);
      rmSync(dir, { recursive: true, force: true });
      if (figures.length)
        recordResult({
          suite: 'netns',
          order: 3,
          title: 'Departments on separate hosts (network namespaces)',
          command: reproduce('test/fault/netns.fault.test.ts'),
          figures,
          notes: [
            'Five parties, each in its own network namespace on a veth pair (198.18.<i>.0/30), behind a TCP proxy in the test namespace. k = 3, coordinator timeout per call 2.5 s.',
            'Loss is injected per TCP connection (a new connection cut at once); this kernel has no netem.',
            'A partition either refuses connections (reset) or black-holes them (accepted, nothing forwarded); the time to heal is measured from the moment the proxy heals to the first approval that completes.',
          ],
        });
    });

    it('with no faults, and with latency and connection loss, every approval completes', async () => {
      const clean = [];
      for (let i = 0; i < PER_PHASE; i++) clean.push(await approve('clean'));
      const rng = seededRng(SEED + 4);
      // Quality assurance (the veto holder) is in every approval quorum, so a lost connection to it
      // fails that approval by design: the lossy parties are drawn from the other four.
      const candidates = [...proxies.keys()].filter(
        (id) => proxied.parties.find((p) => p.id === id)?.role !== 'quality-assurance',
      );
      const first = rng.pick(candidates);
      const lossy = [first, rng.pick(candidates.filter((id) => id !== first))];
      for (const [id, p] of proxies) {
        p.latencyMs = 40;
        if (lossy.includes(id)) p.lossRate = 0.3;
      }
      const slow = [];
      for (let i = 0; i < PER_PHASE; i++) slow.push(await approve('lossy'));
      for (const p of proxies.values()) {
        p.latencyMs = 0;
        p.lossRate = 0;
      }
      const med = (xs: { ms: number }[]) =>
        Math.round([...xs].map((x) => x.ms).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
      figures.push(
        {
          name: 'no faults: approvals completed',
          value: `${clean.filter((r) => r.ok).length}/${PER_PHASE}`,
          goal: `${PER_PHASE}/${PER_PHASE}`,
        },
        { name: 'no faults: median approval time', value: med(clean), unit: 'ms' },
        {
          name: `40 ms each way on every link, 30% connection loss on ${lossy.length} parties: approvals completed`,
          value: `${slow.filter((r) => r.ok).length}/${PER_PHASE}`,
          goal: `${PER_PHASE}/${PER_PHASE}`,
        },
        { name: 'latency and loss: median approval time', value: med(slow), unit: 'ms' },
        {
          name: 'connections lost by the proxies',
          value: [...proxies.values()].reduce((a, p) => a + p.stats.lost, 0),
        },
      );
      expect(clean.every((r) => r.ok)).toBe(true);
      expect(slow.every((r) => r.ok)).toBe(true);
    }, 180_000);

    for (const kind of ['refused', 'black hole'] as const) {
      it(`a partition (${kind}) cutting off n-k parties changes nothing; one cutting off a quorum fails closed, then heals`, async () => {
        const ids = [...proxies.keys()];
        const slug = kind.replace(/ /g, '-');
        const cut = (n: number) => {
          for (const id of ids.slice(0, n)) {
            const p = proxies.get(id)!;
            if (kind === 'refused') p.partitioned = true;
            else p.blackhole = true;
            p.cutAll();
          }
        };
        const heal = () => {
          for (const p of proxies.values()) p.heal();
        };
        cut(2);
        const minority = [];
        for (let i = 0; i < PER_PHASE; i++) minority.push(await approve(`minority-${slug}`));
        heal();
        cut(3);
        const during = [];
        for (let i = 0; i < 2; i++) during.push(await approve(`majority-${slug}`));
        // Heal after a while; retry until an approval completes (bounded).
        let healedAt = 0;
        const healer = setTimeout(() => {
          heal();
          healedAt = performance.now();
        }, 2_000);
        let after: { ok: boolean; ms: number } | undefined;
        let retries = 0;
        const end = performance.now() + 60_000;
        while (performance.now() < end) {
          const r = await approve(`heal-${slug}`);
          if (r.ok && healedAt > 0) {
            after = r;
            break;
          }
          retries++;
          await new Promise((res) => setTimeout(res, 100));
        }
        clearTimeout(healer);
        heal();
        const healMs = after ? Math.round(performance.now() - healedAt) : -1;
        figures.push(
          {
            name: `partition (${kind}) of n-k parties: approvals completed`,
            value: `${minority.filter((r) => r.ok).length}/${PER_PHASE}`,
            goal: `${PER_PHASE}/${PER_PHASE}`,
          },
          {
            name: `partition (${kind}) of 3 parties: approvals failed closed`,
            value: `${during.filter((r) => !r.ok && r.code === 'QUORUM_UNREACHABLE').length}/${during.length}`,
            goal: `${during.length}/${during.length}`,
          },
          {
            name: `partition (${kind}) healed: time from heal to a completed approval`,
            value: healMs,
            unit: 'ms',
          },
          { name: `partition (${kind}): failed attempts before it healed and one completed`, value: retries },
        );
        expect(minority.every((r) => r.ok)).toBe(true);
        expect(during.every((r) => !r.ok && r.code === 'QUORUM_UNREACHABLE')).toBe(true);
        expect(after?.ok).toBe(true);
      }, 180_000);
    }

    it("nothing was signed twice: the coordinator's shares against the parties' own records", async () => {
      // Stop the parties (SIGKILL: what they wrote is what a crash leaves) and read their LevelDB.
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null || c.signalCode !== null) return r();
              c.once('exit', () => r());
              c.kill('SIGKILL');
            }),
        ),
      );
      const check = await checkPartyRecords(
        proxied.parties.map((p) => p.id),
        (id) => {
          const pdir = join(dir, 'parties', id);
          return PartyStore.open(join(pdir, 'db'), loadOrCreateDataKey(join(pdir, 'data.key'), false), id);
        },
        ledger,
      );
      const twice = [...signedMessages.values()].filter((n) => n > 1).length;
      figures.push(
        { name: 'approvals signed', value: signedMessages.size },
        { name: 'approval messages with two signatures', value: twice, goal: 0 },
        { name: 'shares received by the coordinator', value: check.answered },
        { name: 'commitments answered with two shares', value: check.doubleAnswered, goal: 0 },
        {
          name: 'answered commitments without a tombstone in the party store',
          value: check.tombstonesMissing,
          goal: 0,
        },
        {
          name: 'sign.share audit entries beyond the tombstones',
          value: check.sharesBeyondTombstones,
          goal: 0,
        },
        { name: 'duplicate share digests in the audit trails', value: check.duplicateShareDigests, goal: 0 },
      );
      expect(twice).toBe(0);
      expect(check.doubleAnswered).toBe(0);
      expect(check.tombstonesMissing).toBe(0);
      expect(check.sharesBeyondTombstones).toBe(0);
      expect(check.duplicateShareDigests).toBe(0);
    }, 60_000);
  },
);
