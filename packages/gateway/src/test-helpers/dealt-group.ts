/**
 * Test-only: five real party apps holding one trusted dealer's 3-of-5 Ed25519 key (LevelDB
 * stores), reached by the gateway's HTTP coordinator through `app.request`, with evidence writers
 * over in-memory logs. `party(i)` (re)makes party `i` on a fresh store with the same key share: the
 * state a repair or `aaps party restore` leaves, or a second set of parties holding the group key.
 */
import { memoryLogger, type PartyStore } from '@aaps/agents';
import type { LogStore } from '@aaps/evidence';
import {
  getCiphersuite,
  type IdentityKey,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signEnvelope,
  trustedDealer,
} from '@aaps/mpc-core';
import { createPartyApp, type PartyApp } from '../../../agents/src/party/app.js';
import {
  type FiveParties,
  fiveParties,
  partyDeps,
  saveDealtKey,
} from '../../../agents/src/party/test-helpers/five-parties.js';
import type { Coordinator } from '../coordinator.js';
import { createHttpCoordinator } from '../coordinator-http.js';
import { createEvidenceWriter, type EvidenceWriter } from '../evidence-writer.js';

export interface DealtGroup {
  set: FiveParties;
  /** The party apps the coordinator reaches, by roster index (replaced by `party`). */
  apps: PartyApp[];
  /** Each party's store, by roster index (replaced by `party`). */
  stores: PartyStore[];
  /** Each party's logger, by roster index. */
  loggers: (ReturnType<typeof memoryLogger> | undefined)[];
  coordinator: Coordinator;
  /** (Re)make party `i` on a fresh store holding its dealt share; `logOrigin` configures it. */
  party(i: number, logOrigin?: string): Promise<void>;
  /** An evidence writer of the log `origin` over `log`, through `coordinator` (default: the group's). */
  writer(origin: string, log: LogStore, coordinator?: Coordinator): EvidenceWriter;
  /** An envelope signed by the gateway carrying `payload` (a transcript entry). */
  envelope(tag: string, payload: Record<string, unknown>): SignedEnvelope;
}

export async function dealtGroup(opts: {
  dir: string;
  /** Every store opened, for the caller to close. */
  opened: PartyStore[];
  approvers?: { id: string; key: IdentityKey }[];
  /** Each party's configured `log_origin` (default: none, as `aaps party init` leaves it). */
  logOrigin?: string;
  /** The group's key: another group's `dealt` makes a second set of parties holding the same key. */
  dealt?: ReturnType<typeof trustedDealer>;
  set?: FiveParties;
}): Promise<DealtGroup & { dealt: ReturnType<typeof trustedDealer> }> {
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const set = opts.set ?? fiveParties({ approvers: opts.approvers ?? [] });
  const dealt = opts.dealt ?? trustedDealer(suite, set.roster.threshold);
  const apps: PartyApp[] = [];
  const stores: PartyStore[] = [];
  const loggers: (ReturnType<typeof memoryLogger> | undefined)[] = [];
  const party = async (i: number, logOrigin = opts.logOrigin) => {
    const deps = await partyDeps(set, i, { dir: opts.dir, stores: opts.opened });
    const logger = memoryLogger('party');
    deps.logger = logger;
    if (logOrigin !== undefined) deps.config = { ...deps.config, logOrigin };
    await saveDealtKey(deps.store, set, dealt, i);
    apps[i] = await createPartyApp(deps);
    stores[i] = deps.store;
    loggers[i] = logger;
  };
  for (let i = 0; i < 5; i++) await party(i);
  const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  const coordinator = createHttpCoordinator({
    roster: set.roster,
    gatewayKey: set.gatewayKey,
    publicPackage: dealt.publicPackage,
    logger: memoryLogger('coordinator'),
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      return apps[indexOf.get(url.origin)!]!.app.request(url.pathname, init);
    }) as typeof fetch,
  });
  const trust = async () => ({
    parties: set.roster.parties,
    approvers: set.roster.approvers,
    gateway: set.roster.gateway,
  });
  return {
    set,
    dealt,
    apps,
    stores,
    loggers,
    coordinator,
    party,
    writer: (origin, log, c = coordinator) =>
      createEvidenceWriter({ coordinator: c, log, origin, trust, validFrom: '2026-01-01T00:00:00Z' }),
    envelope: (tag, payload) =>
      signEnvelope(
        {
          meta: {
            trace_id: `trace-${tag}`,
            span_id: `span-${tag}`,
            timestamp: new Date().toISOString(),
            source_agent: set.roster.gateway.id,
            target_agent: 'audit',
            message_type: 'EvidenceBundleRef',
            schema_version: SCHEMA_VERSION,
            idempotency_key: `idem-${tag}`,
          },
          context: {
            namespace: 'shop',
            cluster: 'prod',
            urgency: 'P2',
            constraints_ref: 'policy://unseal/v1',
          },
          payload,
        },
        set.gatewayKey.secretKey,
      ),
  };
}

/** An evidence entry that is not an incident's end, tagged `tag` (one gateway-signed envelope). */
export function plainEntry(group: Pick<DealtGroup, 'envelope'>, tag: string) {
  return {
    incident: { id: `inc-${tag}`, type: 'config_validation_failed' },
    decision: { outcome: 'recorded' },
    times: { received: new Date().toISOString() },
    transcript: [group.envelope(tag, { note: `entry ${tag}` })],
  };
}
