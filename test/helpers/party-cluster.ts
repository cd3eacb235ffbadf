/**
 * A cluster of real party processes for the fault suites: layout under a temp dir, spawn, DKG over
 * HTTP, kill -9 and restart one party, and open a stopped party's own LevelDB to read its records.
 * Every process it spawns is killed by `stopAll()` (call it in `afterAll`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterLayout,
  type DkgResult,
  layoutCluster,
  loadOrCreateDataKey,
  PartyClient,
  type PartyProcess,
  type PartySpec,
  PartyStore,
  ROLE_NAMED_PARTIES,
  type Roster,
  retryTakenPort,
  runDkgOverHttp,
  START_ATTEMPTS,
  spawnParty,
  writeJsonFile,
} from '@aaps/agents';
import { getCiphersuite, loadFastBackends } from '@aaps/mpc-core';
import { shopStagingPolicies } from './shop-policies.js';

export interface PartyCluster {
  readonly dir: string;
  readonly layout: ClusterLayout;
  readonly ids: readonly string[];
  proc(id: string): PartyProcess;
  /** A gateway-side client; `roster` lets a suite point it at proxies, `fetch` wraps the transport. */
  client(opts?: { fetch?: typeof fetch; roster?: Roster; timeoutMs?: number }): PartyClient;
  dkg(sessionId?: string, replace?: boolean): Promise<DkgResult>;
  kill(id: string): Promise<void>;
  start(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  isRunning(id: string): boolean;
  /** SIGKILL every party process. */
  stopAll(): Promise<void>;
  /** Open a stopped party's LevelDB (the process must not run: LevelDB holds a lock). */
  openStore(id: string): Promise<PartyStore>;
  remove(): void;
}

/** The parties `aaps up` runs (ids are their roles), so envelopes from `*-agent` senders stay unsigned-legal. */
export const PARTIES: readonly PartySpec[] = ROLE_NAMED_PARTIES;

export const suite = () => getCiphersuite('FROST-ED25519-SHA512-v1');

export interface PartyClusterOptions {
  threshold?: number;
  parties?: readonly PartySpec[];
  prefix?: string;
  /**
   * Before any party starts: return a roster naming the parties at other URLs (e.g. proxies in
   * front of them). It replaces `roster.json`, which every party reads (the roster digest covers
   * the URLs); the parties still listen where their own config says. Called again for each
   * layout on fresh ports (a probed port taken meanwhile): what an earlier call made is the
   * caller's to release.
   */
  rewriteRoster?: (layout: ClusterLayout) => Promise<Roster>;
  /** Start the parties with `allow_key_replace` (a suite that re-keys or repairs over keys). */
  allowKeyReplace?: boolean;
}

export async function startPartyCluster(opts: PartyClusterOptions = {}): Promise<PartyCluster> {
  await loadFastBackends();
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'aaps-fault-'));
  try {
    return await startIn(dir, opts);
  } catch (e) {
    // Its processes are stopped; nor is its directory left: the suite has no cluster to remove.
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startIn(dir: string, opts: PartyClusterOptions): Promise<PartyCluster> {
  const laidOut = async () => {
    const laid = await layoutCluster({
      dir,
      threshold: opts.threshold ?? 3,
      parties: opts.parties ?? PARTIES,
      // The fixtures' proposals declare `shop` staging: the departments' policies say so too.
      policyFor: shopStagingPolicies(dir),
      ...(opts.allowKeyReplace ? { allowKeyReplace: true } : {}),
    });
    if (!opts.rewriteRoster) return { laid, layout: laid };
    const roster = await opts.rewriteRoster(laid);
    writeJsonFile(laid.rosterPath, roster);
    return { laid, layout: { ...laid, roster } };
  };
  let { laid, layout } = await laidOut();
  // The URL each party process really listens on (its config), whatever the roster says.
  const listenUrl = () => new Map(laid.roster.parties.map((p) => [p.id, p.url]));
  const procs = new Map<string, PartyProcess>();
  const spawnOne = (id: string) => {
    const proc = spawnParty(id, listenUrl().get(id)!, layout.configPaths[id]!);
    procs.set(id, proc);
    return proc;
  };
  // A probed port another process took before its party bound it: lay out again on fresh ports.
  await retryTakenPort(
    async (attempt) => {
      if (attempt > 1) ({ laid, layout } = await laidOut());
      try {
        await Promise.all(layout.roster.parties.map((p) => spawnOne(p.id).ready()));
      } catch (e) {
        await Promise.all([...procs.values()].map((p) => p.stop('SIGKILL')));
        procs.clear();
        throw e;
      }
    },
    { attempts: START_ATTEMPTS },
  );
  const cluster: PartyCluster = {
    dir,
    layout,
    ids: layout.roster.parties.map((p) => p.id),
    proc: (id) => procs.get(id)!,
    client: (o = {}) =>
      new PartyClient({
        roster: o.roster ?? layout.roster,
        caller: { id: 'gateway', key: layout.gatewayKey },
        timeoutMs: o.timeoutMs ?? 5_000,
        ...(o.fetch ? { fetch: o.fetch } : {}),
      }),
    dkg: (sessionId = `dkg-${Date.now().toString(36)}`, replace = false) =>
      runDkgOverHttp(cluster.client({ timeoutMs: 30_000 }), suite(), { sessionId, replace }),
    async kill(id) {
      await procs.get(id)?.stop('SIGKILL');
    },
    async start(id) {
      await spawnOne(id).ready();
    },
    async restart(id) {
      await cluster.kill(id);
      await cluster.start(id);
    },
    isRunning: (id) => {
      const c = procs.get(id)?.child;
      return c !== undefined && c.exitCode === null && c.signalCode === null;
    },
    async stopAll() {
      await Promise.all([...procs.values()].map((p) => p.stop('SIGKILL')));
    },
    async openStore(id) {
      if (cluster.isRunning(id)) throw new Error(`party ${id} is running; stop it first`);
      const pdir = join(dir, 'parties', id);
      return PartyStore.open(join(pdir, 'db'), loadOrCreateDataKey(join(pdir, 'data.key'), false), id);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
