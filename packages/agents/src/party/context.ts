/** What a party app needs, injected; `main.ts` builds it from disk and the environment. */
import type { AnyCiphersuite, IdentityKey, Rng, SignedEnvelope } from '@aaps/mpc-core';
import type { PartyConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { Registry } from '../metrics.js';
import type { Policy } from '../policy/schema.js';
import type { Roster, RosterParty } from '../roster.js';
import type { RpcKind, RpcRequestPayload } from '../rpc.js';
import type { PartyStore, PendingKey, StoredKey } from '../store/level.js';
import { partyVersion } from '../version.js';

export interface PartyDeps {
  config: PartyConfig;
  roster: Roster;
  rosterDigest: string;
  self: RosterParty;
  identity: IdentityKey;
  store: PartyStore;
  policy: Policy;
  logger: Logger;
  suite: AnyCiphersuite;
  now?: () => Date;
  rng?: Rng;
}

export interface PartyMetrics {
  registry: Registry;
  requests: ReturnType<Registry['counter']>;
  refusals: ReturnType<Registry['counter']>;
  rejected: ReturnType<Registry['counter']>;
  sessions: ReturnType<Registry['counter']>;
  latency: ReturnType<Registry['histogram']>;
}

export function createPartyMetrics(): PartyMetrics {
  const registry = new Registry();
  const metrics: PartyMetrics = {
    registry,
    requests: registry.counter('aaps_party_requests_total', 'Protocol requests by kind and outcome'),
    refusals: registry.counter('aaps_party_refusals_total', 'Policy refusals by rule'),
    rejected: registry.counter(
      'aaps_party_rejected_requests_total',
      'Requests refused before processing, by reason',
    ),
    sessions: registry.counter('aaps_party_sessions_total', 'Completed protocol sessions by kind'),
    latency: registry.histogram('aaps_party_request_duration_seconds', 'Request handling time by kind'),
  };
  registry.gauge('aaps_party_build_info', 'The release this party runs (always 1)', () => 1, {
    version: partyVersion(),
  });
  return metrics;
}

/** Mutable party state shared by the routes. */
export interface PartyState {
  key: StoredKey | undefined;
  /**
   * A key (a DKG's, or a refreshed share) this party verified in round 3 and stored, never used
   * until a commit shows every participant verified it too (`key-commit.ts`).
   */
  pending: PendingKey | undefined;
  dkg: Map<string, DkgSession>;
  /** Sessions in flight, so shutdown can wait for them. */
  inflight: number;
  shuttingDown: boolean;
}

export interface DkgSession {
  startedAt: number;
  /** Whether round 1 was asked to replace a key this party held (and was allowed to). */
  replace: boolean;
  round1?: import('@aaps/mpc-core').DkgRound1Secret;
  /** The digest of this party's own signed round-1 package, which its round-2 shares are bound to. */
  ownRound1Digest?: string;
  round2?: import('@aaps/mpc-core').DkgRound2Secret;
  round1Packages?: unknown[];
}

export type Env = {
  Variables: {
    request: SignedEnvelope<RpcRequestPayload>;
    started: number;
    /** The kind of the route called, set before it authenticates (so a failure is counted under it). */
    kind: RpcKind | 'batch';
  };
};
