/**
 * The coordinator over the party processes: agent steps run in each agent's own party (which
 * signs its outputs), and every threshold signature is a robust FROST session (`SigningSession`)
 * whose round two carries the subject, never bytes: each party applies its own policy and
 * derives the message itself. Commitments are fetched in batches and pooled, so a signing needs
 * one online round once the pool is warm. Also the DKG driver `aaps up` runs on first start.
 */

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AgentRole,
  type AggregationRef,
  type ApprovalBacking,
  type ApprovalProposal,
  finishKeyCommits,
  frostIdentifier,
  httpSigningTransport,
  type Logger,
  PartyClient,
  POOLED_RISK_CIRCUIT,
  partyIdsOf,
  proposalSigningBytes,
  type RiskSubject,
  type Roster,
  refusalFactsOf,
  runAggregationOverHttp,
  runDkgOverHttp,
  type SignSubject,
  vetoHolders,
  writeFileDurably,
} from '@aaps/agents';
import {
  evidenceSigningMessage,
  formatCheckpoint,
  IN_TOTO_PAYLOAD_TYPE,
  type JsonReading,
  parseJsonRefusingRepeats,
  statementBytes,
} from '@aaps/evidence';
import {
  AapsError,
  base64Decode,
  base64Encode,
  bytesToHex,
  canonicalize,
  encodeAggregationRecordJson,
  getCiphersuite,
  hexToBytes,
  type Identifier,
  type IdentityKey,
  isAapsError,
  PolicyRefusal,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  type SignedEnvelope,
  type SigningResult,
  SigningSession,
  type SigningTransport,
  ValidationError,
  verifyEnvelope,
} from '@aaps/mpc-core';
import type {
  AgentStepInput,
  Coordinator,
  KeyRefreshResult,
  KeyRepairResult,
  KeysInfo,
  Misbehaviour,
  PartyRefusal,
  PartyReleaseAnswer,
  PooledRisk,
  ThresholdResult,
  WitnessAnswer,
} from './coordinator.js';
import { holdersOf, mostHeld, refreshAcrossParties, repairOnto, type Survey, survey } from './key-refresh.js';
import { repairParties } from './key-repair.js';
import { type QuorumFailure, quorumFailureOf, quorumUnreachable } from './quorum-failure.js';
import { describeSilent, silenceRemedy } from './silent-parties.js';
import { reconcileSharings, type SharingVerdict } from './stale-sharing.js';
import { untilAborted } from './until-aborted.js';
import { roleStepRequest } from './workflow/step-request.js';

export interface HttpCoordinatorOptions {
  roster: Roster;
  gatewayKey: IdentityKey;
  /** The public key package (from the DKG); a `PublicKeyPackageCodec` JSON value or the decoded package. */
  publicPackage: unknown;
  logger: Logger;
  /** Per-call timeout (default 10 s). */
  timeoutMs?: number;
  /** Commitments fetched per party per round-one call (default 8). */
  batchSize?: number;
  /**
   * Requests in flight to one party at a time (default 1: measured, it gives the least CPU per incident); hot-path calls made meanwhile leave
   * together as one `batch` request (`PartyClientOptions.coalesce`).
   */
  maxInflightPerParty?: number;
  fetch?: typeof fetch;
  /**
   * Called with the new public package (`PublicKeyPackageCodec` JSON) after a refresh, before
   * signings resume: the gateway saves it as `public-package.json`.
   */
  savePublicPackage?: (json: unknown) => void;
}

function messageFor(subject: SignSubject): Uint8Array {
  switch (subject.kind) {
    case 'approval':
      return proposalSigningBytes(subject.proposal);
    case 'evidence':
      return evidenceSigningMessage(base64Decode(subject.payload, 'payload'));
    case 'checkpoint':
      return new TextEncoder().encode(
        formatCheckpoint({
          origin: subject.origin,
          size: subject.tree_size,
          rootHash: hexToBytes(subject.root_hash),
          extensions: [],
        }),
      );
  }
}

/** A party that answered a signing `NO_KEY` is repaired at most this often (a minute). */
export const KEYLESS_REPAIR_EVERY_MS = 60_000;

/** The signers an evidence Statement names (`predicate.signers`): the only parties asked to sign it. */
function namedSigners(statement: unknown): string[] {
  const named = (statement as { predicate?: { signers?: unknown } } | null)?.predicate?.signers;
  return Array.isArray(named) ? named.filter((id): id is string => typeof id === 'string') : [];
}

/**
 * The same failure, blaming nobody: the shares that failed are good shares of the sharing most
 * parties hold, checked against this gateway's other one (stale-sharing.ts). A required party
 * (a veto holder) among them is waited for, as one that could not answer is.
 */
function unblamed(e: ProtocolError, failure: QuorumFailure, message: string): ProtocolError {
  return quorumUnreachable(
    message,
    {
      ...failure,
      culprit_parties: [],
      required_unavailable: [...new Set([...failure.required_unavailable, ...failure.required_culprits])],
      required_culprits: [],
    },
    { extra: { ...e.details, key_sharing: 'gateway_package_not_held' } },
  );
}

export function createHttpCoordinator(opts: HttpCoordinatorOptions): Coordinator {
  const { roster, logger } = opts;
  const suite = getCiphersuite(roster.ciphersuite);
  let publicPackage: PublicKeyPackage =
    opts.publicPackage && typeof opts.publicPackage === 'object' && 'v' in (opts.publicPackage as object)
      ? PublicKeyPackageCodec.fromJSON(opts.publicPackage, suite.id).value
      : (opts.publicPackage as PublicKeyPackage);
  const client = new PartyClient({
    roster,
    caller: { id: roster.gateway.id, key: opts.gatewayKey },
    timeoutMs: opts.timeoutMs ?? 10_000,
    coalesce: { maxInflight: opts.maxInflightPerParty ?? 1 },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  // One long-lived session: its commitment pool carries over between signings.
  const refusals = new Map<string, PartyRefusal[]>();
  const base = httpSigningTransport(client, suite, 'coordinator');
  const transport: SigningTransport<SignSubject> = {
    commit: (party, req, signal) => base.commit(party, req, signal),
    async sign(party, req, signal) {
      try {
        return await base.sign(party, req, signal);
      } catch (e) {
        if (e instanceof PolicyRefusal) {
          const list = refusals.get(req.sessionId) ?? [];
          const id = partyIdsOf(roster, [party])[0]!;
          list.push({ party: id, rule: e.rule, message: e.message, ...refusalFactsOf(e.details) });
          refusals.set(req.sessionId, list);
          logger.info('party.refused', {
            party: id,
            rule: e.rule,
            message: e.message,
            session: req.sessionId,
          });
        }
        throw e;
      }
    },
  };
  const session = new SigningSession<SignSubject>({
    suite,
    publicPackage,
    transport,
    timeoutMs: opts.timeoutMs ?? 10_000,
    batchSize: opts.batchSize ?? 8,
  });
  let counter = 0;
  // Signings under way, and the refresh (if any) that new signings wait for: a refresh starts
  // once the signings before it have finished, and signings resume under the refreshed package.
  let signing = 0;
  let refreshing: Promise<void> | undefined;
  let refreshRunning = false;
  // A repair (an operator's `repairKeys`, or of a party that answered with no key): signings go
  // on, but no refresh or other repair runs beside it (two repairs of one party would race its key
  // changes).
  let repairRunning = false;
  let drained: (() => void) | undefined;

  /**
   * A client for a key refresh or repair, apart from the signings' (no coalescing). Signings wait
   * while a refresh runs: a silent party holds them for at most its timeout.
   */
  const maintenanceClient = () =>
    new PartyClient({
      roster,
      caller: { id: roster.gateway.id, key: opts.gatewayKey },
      timeoutMs: 15_000,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });

  /** Repair `parties` (default: every party behind) onto the gateway's package (key-repair.ts). */
  const repairOntoOurs = (say: (line: string) => void, label: string, parties?: readonly string[]) =>
    repairParties({
      client: maintenanceClient(),
      roster,
      publicPackage: PublicKeyPackageCodec.toJSON(suite.id, publicPackage),
      groupKey: bytesToHex(publicPackage.groupPublicKey),
      ...(parties === undefined ? {} : { parties }),
      session: `${label}-${Date.now().toString(36)}`,
      say,
    });

  // Parties whose role holds a veto (quality assurance): in every approval quorum, and a refusal
  // of theirs ends the approval instead of being routed around.
  const vetoParties = vetoHolders(roster);
  const vetoIdentifiers = vetoParties.map((p) => frostIdentifier(roster, p));

  /**
   * Shares that fail their check: cheats, or a party (or this gateway) on another sharing of the
   * group key (stale-sharing.ts)? One look at a time; a look shared by the signings that failed
   * meanwhile.
   */
  let reconciling: Promise<SharingVerdict> | undefined;
  function reconcile(culprits: readonly string[]): Promise<SharingVerdict> {
    // A refresh repairs and settles every party itself; a look now would race its key changes.
    if (refreshRunning || repairRunning) return Promise.resolve({ kind: 'culprits' });
    reconciling ??= (async () => {
      try {
        return await reconcileSharings({
          client,
          roster,
          publicPackage: PublicKeyPackageCodec.toJSON(suite.id, publicPackage),
          groupKey: bytesToHex(publicPackage.groupPublicKey),
          culprits,
          session: `sharing-${randomUUID()}`,
          say: (line) => logger.warn('keys.sharing', { step: line }),
        });
      } catch (e) {
        logger.warn('keys.sharing_unchecked', { code: isAapsError(e) ? e.code : 'INTERNAL' });
        return { kind: 'culprits' } as const;
      } finally {
        reconciling = undefined;
      }
    })();
    return reconciling;
  }

  /**
   * A repair runs: an operator's or a keyless one (`repairRunning`), or the look at a party on
   * another sharing a failed signing started, with its repair. No refresh or other repair beside it:
   * its last step landing after a refresh committed would put the package from before it back.
   */
  const repairing = () => repairRunning || reconciling !== undefined;

  /**
   * Parties that answered a signing `NO_KEY` (a wiped disk, a store restored empty, a party started
   * afresh): each is repaired onto the gateway's package from k holders, as `aaps keys repair`
   * does, one repair at a time and at most once every {@link KEYLESS_REPAIR_EVERY_MS} per party
   * (one that stays keyless is not asked again on every signing). Resolves with those repaired.
   */
  const keylessTried = new Map<string, number>();
  let keylessRepair: Promise<string[]> | undefined;
  function repairKeyless(ids: readonly string[]): Promise<string[]> {
    if (keylessRepair !== undefined) return keylessRepair;
    const now = Date.now();
    const due = ids.filter((id) => now - (keylessTried.get(id) ?? -Infinity) >= KEYLESS_REPAIR_EVERY_MS);
    if (due.length === 0 || refreshRunning || repairing()) return Promise.resolve([]);
    for (const id of due) keylessTried.set(id, now);
    repairRunning = true;
    const say = (line: string) => logger.warn('keys.repair', { step: line });
    keylessRepair = (async () => {
      try {
        say(`repair: ${due.join(', ')} answered a signing with no key (a wiped disk?): repairing`);
        const out = await repairOntoOurs(say, 'repair-keyless', due);
        for (const f of out.failed) say(`repair: ${f.id} not repaired (${f.why})`);
        return out.repaired;
      } catch (e) {
        logger.warn('keys.repair_failed', {
          code: isAapsError(e) ? e.code : 'INTERNAL',
          parties: due.join(','),
        });
        return [];
      } finally {
        repairRunning = false;
        keylessRepair = undefined;
      }
    })();
    return keylessRepair;
  }

  /** The parties among `faults` that answered `NO_KEY` (`faults`: a session's, by identifier). */
  const keylessIn = (faults: unknown): string[] =>
    Array.isArray(faults)
      ? partyIdsOf(
          roster,
          faults.filter((f) => f?.code === 'NO_KEY' && typeof f.party === 'string').map((f) => f.party),
        )
      : [];

  /** The parties a signing proved to send shares that fail their check. */
  const badShares = (misbehaved: readonly { party: string; code: string }[]) =>
    misbehaved.filter((m) => m.code === 'INVALID_SIGNATURE_SHARE').map((m) => m.party);

  /**
   * Sign `subject` k-of-n, waiting out a key refresh; see {@link signOnce}. A signing that fails
   * for shares that do not verify is tried once more when they came from parties on another
   * sharing of the group key, repaired meanwhile; when it is this gateway's package that most
   * parties do not hold, the failure names no cheat and says so.
   */
  async function thresholdSign(
    subject: SignSubject,
    label: string,
    only?: readonly string[],
    required: readonly Identifier[] = [],
  ): Promise<ThresholdResult> {
    while (refreshing) await refreshing;
    signing++;
    try {
      let result: ThresholdResult;
      try {
        result = await signOnce(subject, label, only, required);
      } catch (e) {
        const failure = e instanceof ProtocolError ? quorumFailureOf(e) : undefined;
        if (failure === undefined) throw e;
        // A party with no key (a veto holder whose disk was wiped, say): repaired, then tried again.
        const keyless = keylessIn((e as ProtocolError).details['failed']);
        if (keyless.length > 0 && (await repairKeyless(keyless)).length > 0)
          return await signOnce(subject, label, only, required);
        if (failure.culprit_parties.length === 0) throw e;
        const verdict = await reconcile(failure.culprit_parties);
        if (verdict.kind === 'repaired' && verdict.repaired.length > 0)
          return await signOnce(subject, label, only, required);
        if (verdict.kind === 'gateway-odd')
          throw unblamed(e as ProtocolError, failure, `${label}: ${verdict.message}`);
        throw e;
      }
      // Signed all the same (k others were enough): a party on another sharing, or with no key, is
      // repaired meanwhile.
      const bad = badShares(result.misbehaved);
      if (bad.length > 0) void reconcile(bad);
      const keyless = result.unavailable.filter((u) => u.code === 'NO_KEY').map((u) => u.party);
      if (keyless.length > 0) void repairKeyless(keyless);
      return result;
    } finally {
      if (--signing === 0) drained?.();
    }
  }

  /** Sign `subject` k-of-n; with `only`, no party outside it is asked (none substitutes). */
  async function signOnce(
    subject: SignSubject,
    label: string,
    only: readonly string[] | undefined,
    required: readonly Identifier[],
  ): Promise<ThresholdResult> {
    const sessionId = `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
    const exclude = only
      ? roster.parties.filter((p) => !only.includes(p.id)).map((p) => frostIdentifier(roster, p))
      : [];
    let result: SigningResult;
    try {
      result = await session.sign({ payload: subject, messageFor, sessionId, exclude, required });
    } catch (e) {
      const list = refusals.get(sessionId) ?? [];
      refusals.delete(sessionId);
      if (e instanceof ProtocolError && e.code === 'QUORUM_UNREACHABLE') {
        // Parties that timed out or failed other than by refusing: a new quorum should skip them.
        const faults = e.details as {
          timedOut?: { party: Identifier }[];
          failed?: { party: Identifier }[];
          requiredLost?: Identifier[];
        };
        const refused = new Set(list.map((r) => r.party));
        const culpritIds = partyIdsOf(roster, e.culprits);
        const cheated = new Set(culpritIds);
        const requiredLost = partyIdsOf(roster, faults.requiredLost ?? []);
        const unavailable = partyIdsOf(
          roster,
          [...(faults.timedOut ?? []), ...(faults.failed ?? [])].map((f) => f.party),
        ).filter((id) => !refused.has(id));
        throw quorumUnreachable(
          `${label}: fewer than ${roster.threshold.min} parties would sign`,
          {
            refusals: list,
            vetoes: list.filter((r) => vetoParties.some((p) => p.id === r.party)),
            culprit_parties: culpritIds,
            unavailable_parties: [...new Set(unavailable)],
            // Required parties (the veto holders) lost without refusing or cheating: the approval
            // waits for them. One proven to cheat (a share that does not verify) is not waited for.
            required_unavailable: requiredLost.filter((id) => !refused.has(id) && !cheated.has(id)),
            required_culprits: requiredLost.filter((id) => cheated.has(id)),
          },
          { culprits: e.culprits, extra: e.details },
        );
      }
      throw e;
    }
    const list = refusals.get(sessionId) ?? [];
    refusals.delete(sessionId);
    const misbehaved = result.misbehaved.map((f) => ({
      party: partyIdsOf(roster, [f.party])[0]!,
      code: f.code,
      detail: f.detail,
    }));
    for (const m of misbehaved)
      logger.warn('party.misbehaved', { party: m.party, code: m.code, session: sessionId });
    for (const t of result.timedOut)
      logger.warn('party.timed_out', { party: partyIdsOf(roster, [t.party])[0]!, session: sessionId });
    // Each party in one list: a refusal or a proven fault (or a timeout) is not also "unavailable".
    const listed = new Set([
      ...list.map((r) => r.party),
      ...partyIdsOf(
        roster,
        [...result.misbehaved, ...result.timedOut].map((f) => f.party),
      ),
    ]);
    const unavailable = new Map<string, Misbehaviour>();
    for (const f of result.failed) {
      const party = partyIdsOf(roster, [f.party])[0]!;
      if (listed.has(party) || unavailable.has(party)) continue;
      unavailable.set(party, { party, code: f.code, detail: f.detail });
      logger.warn('party.unavailable', { party, code: f.code, session: sessionId });
    }
    return {
      signature: result.signature,
      signers: partyIdsOf(roster, result.signers),
      refusals: list,
      unavailable: [...unavailable.values()],
      misbehaved: [
        ...misbehaved,
        ...result.timedOut.map((f) => ({
          party: partyIdsOf(roster, [f.party])[0]!,
          code: 'TIMEOUT',
          detail: f.detail,
        })),
      ],
    };
  }

  return {
    async keys(): Promise<KeysInfo> {
      return {
        ciphersuite: roster.ciphersuite,
        group_public_key: bytesToHex(publicPackage.groupPublicKey),
        threshold: { min: roster.threshold.min, max: roster.threshold.max },
        parties: roster.parties.map((p) => ({
          id: p.id,
          role: p.role,
          url: p.url,
          identity_key: p.identity_key,
          verifying_share: bytesToHex(publicPackage.verifyingShares[frostIdentifier(roster, p)]!),
        })),
      };
    },

    async agentStep(role: AgentRole, input: AgentStepInput): Promise<SignedEnvelope[]> {
      const party = roster.parties.find((p) => p.role === role);
      if (!party) throw new AapsError('UNAVAILABLE', `no party in the roster runs the ${role} role`);
      const out = await client.call<{ envelopes: SignedEnvelope[] }>(
        party.id,
        'agent.step',
        `${input.incidentId}:${role}`,
        { request: roleStepRequest(role, input), context: input.context },
        { trace_id: input.traceId, namespace: input.context.namespace, cluster: input.context.cluster },
      );
      if (!Array.isArray(out.envelopes) || out.envelopes.length === 0) {
        throw new AapsError('INCONSISTENT_TRANSCRIPT', `${party.id} returned no step output`);
      }
      for (const env of out.envelopes) {
        if (env.meta?.source_agent !== party.id)
          throw new AapsError('INCONSISTENT_TRANSCRIPT', `${party.id} returned another agent's envelope`);
        verifyEnvelope(env, hexToBytes(party.identity_key));
      }
      return out.envelopes;
    },

    signApproval: (proposal: ApprovalProposal, backing: ApprovalBacking) =>
      thresholdSign(
        { kind: 'approval', proposal, backing },
        `approval-${proposal.incident_id}`,
        undefined,
        vetoIdentifiers,
      ),

    signEvidence: ({ statement, transcript }) =>
      thresholdSign(
        {
          kind: 'evidence',
          payload_type: IN_TOTO_PAYLOAD_TYPE,
          payload: base64Encode(statementBytes(statement as Parameters<typeof statementBytes>[0])),
          transcript,
        },
        'evidence',
        namedSigners(statement),
      ),

    signCheckpoint: ({ origin, treeSize, rootHash, consistency }) =>
      thresholdSign(
        {
          kind: 'checkpoint',
          origin,
          tree_size: treeSize,
          root_hash: bytesToHex(rootHash),
          ...(consistency === undefined
            ? {}
            : { consistency: consistency.map((p) => ({ from: p.from, hashes: p.hashes.map(bytesToHex) })) }),
        },
        `checkpoint-${treeSize}`,
      ),

    async witnessCheckpoint(party, { note, consistency }): Promise<WitnessAnswer> {
      const sessionId = `witness-${Date.now().toString(36)}-${(counter++).toString(36)}`;
      try {
        await client.call(party, 'checkpoint.witness', sessionId, {
          note,
          consistency: consistency.map((p) => ({ from: p.from, hashes: p.hashes.map(bytesToHex) })),
        });
        return { outcome: 'witnessed' };
      } catch (e) {
        if (!(e instanceof PolicyRefusal)) throw e;
        return { outcome: 'refused', rule: e.rule, message: e.message, ...refusalFactsOf(e.details) };
      }
    },

    async refreshKeys(o?: { progress?: (line: string) => void; reason?: string }): Promise<KeyRefreshResult> {
      if (refreshRunning) throw new AapsError('CONFLICT', 'a key refresh is already running');
      if (repairing()) throw new AapsError('CONFLICT', 'a key repair is running: refresh once it has ended');
      refreshRunning = true;
      const started = Date.now();
      let open: (() => void) | undefined;
      const steps: string[] = [];
      const say = (line: string) => {
        steps.push(line);
        logger.info('keys.refresh', { step: line });
        o?.progress?.(line);
      };
      /**
       * New signings wait from here; those under way finish first. Closed only once the parties
       * answered and stale ones were repaired, so a silent party does not hold signings.
       */
      const closeGate = async () => {
        if (open !== undefined) return;
        refreshing = new Promise<void>((resolve) => {
          open = resolve;
        });
        say(`refresh: signings wait from here (${signing} under way)`);
        if (signing > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
          });
          drained = undefined;
        }
      };
      try {
        if (o?.reason !== undefined) say(`refresh: requested (${o.reason})`);
        const previous = publicPackage;
        const out = await refreshAcrossParties({
          client: maintenanceClient(),
          roster,
          suite,
          current: previous,
          say,
          beforeRefresh: closeGate,
        });
        const next = PublicKeyPackageCodec.fromJSON(out.publicPackage, suite.id).value;
        if (
          canonicalize(out.publicPackage) !== canonicalize(PublicKeyPackageCodec.toJSON(suite.id, previous))
        ) {
          await closeGate();
          session.adoptRefresh(next);
          publicPackage = next;
          opts.savePublicPackage?.(out.publicPackage);
        }
        if (out.failed) throw out.failed;
        const share = (pkg: PublicKeyPackage, p: Roster['parties'][number]) =>
          bytesToHex(pkg.verifyingShares[frostIdentifier(roster, p)]!);
        return {
          group_public_key: bytesToHex(next.groupPublicKey),
          parties: roster.parties.map((p) => ({
            id: p.id,
            previous_verifying_share: share(previous, p),
            verifying_share: share(next, p),
          })),
          repaired: out.repaired,
          steps,
          took_ms: Date.now() - started,
        };
      } finally {
        refreshRunning = false;
        refreshing = undefined;
        open?.();
      }
    },

    async repairKeys(o: {
      reason: string;
      parties?: readonly string[];
      progress?: (line: string) => void;
    }): Promise<KeyRepairResult> {
      // The gateway's own repair of a party that answered with no key ends first.
      await keylessRepair;
      if (refreshRunning)
        throw new AapsError('CONFLICT', 'a key refresh is running (it repairs the parties it finds behind)');
      if (repairRunning) throw new AapsError('CONFLICT', 'a key repair is already running');
      repairRunning = true;
      const started = Date.now();
      const steps: string[] = [];
      const say = (line: string) => {
        steps.push(line);
        logger.info('keys.repair', { step: line });
        o.progress?.(line);
      };
      try {
        // A stale-sharing repair a failed signing started ends first.
        await reconciling;
        say(`repair: requested (${o.reason})`);
        const out = await repairOntoOurs(say, 'repair-check', o.parties);
        if (out.failed.length > 0) {
          const done = out.repaired.length > 0 ? `repaired ${out.repaired.join(', ')}; ` : '';
          const list = out.failed.map((f) => `${f.id} (${f.why})`).join(', ');
          throw new AapsError('UNAVAILABLE', `${done}could not repair ${list}`, {
            details: { repaired: out.repaired, failed: out.failed.map((f) => f.id) },
          });
        }
        say(
          out.repaired.length > 0
            ? `repair: ${out.repaired.join(', ')} now ${out.repaired.length === 1 ? 'holds' : 'hold'} the gateway's key package`
            : 'repair: nothing to repair',
        );
        return {
          group_public_key: bytesToHex(publicPackage.groupPublicKey),
          repaired: out.repaired,
          up_to_date: out.upToDate,
          steps,
          took_ms: Date.now() - started,
        };
      } finally {
        repairRunning = false;
      }
    },

    async poolRisk(subject: RiskSubject, o?: { traceId?: string }): Promise<PooledRisk | undefined> {
      const sessionId = `risk-${randomUUID()}`;
      const out = await runAggregationOverHttp(client, {
        circuitId: POOLED_RISK_CIRCUIT,
        sessionId,
        inputs: {},
        derive: subject,
        confirm: true,
        callerId: roster.gateway.id,
        ...(o?.traceId ? { traceId: o.traceId } : {}),
      });
      const confirmed = out.confirmed ?? [];
      const strategy = roster.parties.find((p) => p.role === 'strategy');
      if (
        out.pooledRisk === undefined ||
        confirmed.length < roster.threshold.min ||
        !strategy ||
        !confirmed.includes(strategy.id)
      ) {
        // Never fall back to the formula silently: the step fails (and is tried again).
        logger.warn('risk.pool_unconfirmed', {
          session: sessionId,
          confirmed: confirmed.length,
          // Who was left out of the opening, and whom they accused (a claim, not a culprit).
          left_out: out.leftOut.map(
            (l) =>
              `${l.party}:${l.code}${l.claimedCulprits.length ? ` accusing ${l.claimedCulprits.join(',')}` : ''}`,
          ),
        });
        throw new AapsError(
          'UNAVAILABLE',
          `pooled risk ${sessionId}: confirmed by ${confirmed.length} parties, the strategy party ${
            strategy !== undefined && confirmed.includes(strategy.id) ? 'among them' : 'not among them'
          }`,
        );
      }
      logger.info('risk.pooled', { session: sessionId, value: out.pooledRisk, confirmed: confirmed.length });
      const ref: AggregationRef = {
        circuit: POOLED_RISK_CIRCUIT,
        session_id: sessionId,
        output_digest: out.digest,
        value: out.pooledRisk,
      };
      return { ref, record: JSON.parse(encodeAggregationRecordJson(out.record)) as Record<string, unknown> };
    },

    async releaseSealed({ request, record, fields, detectors }): Promise<PartyReleaseAnswer[]> {
      const requestId = String((request as { request_id?: unknown })?.request_id ?? '');
      return Promise.all(
        roster.parties.map(async (p): Promise<PartyReleaseAnswer> => {
          try {
            const out = await client.call<{
              released?: { field: string; release: unknown }[];
              refused?: { field: string; rule: string }[];
            }>(p.id, 'sealed.release', requestId, { request, request_record: record, fields, detectors });
            return {
              party: p.id,
              outcome: 'answered',
              released: Array.isArray(out.released) ? out.released : [],
              refused: Array.isArray(out.refused) ? out.refused : [],
            };
          } catch (e) {
            if (e instanceof PolicyRefusal) {
              logger.info('party.refused', {
                party: p.id,
                rule: e.rule,
                message: e.message,
                session: requestId,
              });
              return { party: p.id, outcome: 'refused', rule: e.rule };
            }
            const code = e instanceof AapsError ? e.code : 'INTERNAL';
            logger.warn('party.unseal_failed', { party: p.id, code, session: requestId });
            return { party: p.id, outcome: 'unavailable', code };
          }
        }),
      );
    },
  };
}

/**
 * Run the DKG across the roster's party processes (first start), or take the key the parties
 * already hold (later starts), repairing a party that lost its share. Saves `public-package.json`
 * in `dataDir` and returns the group key.
 *
 * With `saved` (the public package of record) the parties must hold that group key: it is what
 * everything signed so far verifies against, so a lost or swapped key is refused, never replaced
 * by a new DKG. Without a record, a key fewer than k parties hold (a first DKG cut short in round
 * 3) cannot have signed anything and never can: a new DKG replaces it.
 */
export async function runDkg(opts: {
  roster: Roster;
  gatewayKey: IdentityKey;
  dataDir: string;
  log: (line: string) => void;
  /** The public package of record (`readSavedPublicPackage`), if any. */
  saved?: unknown;
  /** Stop waiting (a stop signal during start-up): the returned promise rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Let `holders` take a replacing key (their operator's `allow_key_replace`). `aaps up`, which
   * runs the parties, restarts them with it on; returns how to turn it off again. Without it the
   * parties' own setting decides, and a refusal names the step to take.
   */
  allowReplace?: (holders: readonly string[]) => Promise<() => Promise<void>>;
}): Promise<{ groupPublicKey: string; publicPackage: unknown }> {
  const suite = getCiphersuite(opts.roster.ciphersuite);
  const client = new PartyClient({
    roster: opts.roster,
    caller: { id: opts.roster.gateway.id, key: opts.gatewayKey },
    timeoutMs: 60_000,
  });
  const wait = <T>(p: Promise<T>) => untilAborted(p, opts.signal);
  // A DKG or refresh every party verified but whose commit a crash cut short is finished first; a
  // pending key some party did not verify is no key (the next DKG drops it).
  await wait(finishKeyCommits(client, opts.log));
  const found = await wait(survey(client, opts.roster, 'startup'));
  const k = opts.roster.threshold.min;
  const file = join(opts.dataDir, 'public-package.json');

  /** Repair every party not holding `text` from its holders; save and return it. */
  const keepHeld = async (text: string, groupKey: string) => {
    const group = { owners: holdersOf(found, text), json: found.packages.get(text) };
    const behind = opts.roster.parties.map((p) => p.id).filter((id) => !group.owners.includes(id));
    for (const id of behind) {
      opts.log(
        found.noKey.includes(id)
          ? `keys: ${id} holds no key: repairing its share`
          : `keys: ${id} holds another key package than the ${group.owners.length} others (a refresh it missed, or an old backup restored): repairing its share`,
      );
    }
    const fixed = await wait(repairOnto(client, opts.roster, group.json, group.owners, behind, opts.log));
    if (fixed.failed.length > 0) {
      throw new AapsError(
        'UNAVAILABLE',
        `could not repair ${fixed.failed.map((f) => `${f.id} (${f.why})`).join(', ')}: start every party and retry`,
      );
    }
    opts.log(`keys: reusing group key ${groupKey} held by all ${opts.roster.parties.length} parties`);
    writeSavedPublicPackage(opts.dataDir, group.json);
    return { groupPublicKey: groupKey, publicPackage: group.json };
  };

  if (opts.saved !== undefined) {
    const record = PublicKeyPackageCodec.fromJSON(opts.saved, suite.id).value;
    const recordKey = bytesToHex(record.groupPublicKey);
    if (found.silent.length > 0) {
      throw new AapsError(
        'UNAVAILABLE',
        `cannot check that the parties hold the group key of record ${recordKey} (${describeSilent(found.silent)}): ${silenceRemedy(found.silent, 'retry')}`,
      );
    }
    // The record's group key, in the package the most parties hold (a refresh the file missed
    // keeps the group key): k holders repair the rest.
    const recordText = canonicalize(opts.saved);
    const ours = [...new Set(found.held.values())]
      .filter((t) => found.groupKeys.get(t) === recordKey)
      .map((t) => ({ t, n: holdersOf(found, t).length }))
      .sort((x, y) => y.n - x.n || Number(y.t === recordText) - Number(x.t === recordText))[0];
    if (ours !== undefined && ours.n >= k) {
      if (ours.t !== recordText) {
        // Which of the two is older no package says: the file may have missed a refresh, or
        // those parties' stores came back from backups taken before one. Either way k of them
        // sign with theirs; a refresh retires the other sharing.
        const others = holdersOf(found, recordText);
        opts.log(
          `keys: ${ours.n} parties (${holdersOf(found, ours.t).join(', ')}) hold another sharing of group key ${recordKey} than ${file}, which ${others.length === 0 ? 'no party holds' : `only ${others.join(', ')} hold${others.length === 1 ? 's' : ''}`}: taking theirs. ` +
            'Either the file missed a key refresh, or backups from before one were restored on those parties: run `aaps keys refresh` to retire the other sharing',
        );
      }
      return keepHeld(ours.t, recordKey);
    }
    throw new AapsError(
      'CONFLICT',
      `${file} records group key ${recordKey} (${record.threshold.min}-of-${record.threshold.max}), but ${describeHeld(found, recordKey, k)}: restore the parties' stores (aaps party restore), or move ${file} away to run a new DKG (a new group key)`,
    );
  }

  if (found.silent.length > 0) {
    // Never re-key on a partial view: a slow or unreachable party is not a lost key.
    const why = [
      describeSilent(found.silent),
      found.held.size ? `holding a key: ${[...found.held.keys()].join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    throw new AapsError(
      'UNAVAILABLE',
      `refusing to run a DKG before every party says which key it holds (${why}): ${silenceRemedy(found.silent, 'retry')}`,
    );
  }
  const text = mostHeld(found);
  const keys = new Set(found.groupKeys.values());
  if (text !== undefined && holdersOf(found, text).length >= k) {
    if (keys.size > 1) {
      throw new AapsError(
        'UNAVAILABLE',
        `refusing to run a new DKG over existing keys (parties hold ${keys.size} different group keys; holding a key: ${[...found.held.keys()].join(', ')}); start every party and retry`,
      );
    }
    // One group key. The package most parties hold is the group's; a party on another one (a
    // refresh that missed it, an old backup restored) or with none (a wiped disk) is repaired
    // from k holders instead of re-keying, so the group key — and every signature made with it —
    // stays valid.
    return keepHeld(text, found.groupKeys.get(text)!);
  }
  let replace: { holders: string[]; restore?: () => Promise<void> } | undefined;
  if (text !== undefined) {
    // No record and no package k parties hold: fewer than k shares of any key exist, so no
    // signature was ever made with one (a first DKG cut short in round 3) and none can be.
    const holders = [...found.held.keys()];
    opts.log(
      `keys: no ${file}, and only ${holders.join(', ')} hold a key share (fewer than the ${k} a signature needs): nothing can have been signed with it; running a new DKG that replaces it`,
    );
    replace = { holders };
    if (opts.allowReplace) replace.restore = await opts.allowReplace(holders);
  }
  let result: Awaited<ReturnType<typeof runDkgOverHttp>>;
  try {
    result = await wait(
      runDkgOverHttp(client, suite, {
        sessionId: `dkg-${Date.now().toString(36)}`,
        progress: opts.log,
        ...(replace === undefined ? {} : { replace: true }),
      }),
    );
  } catch (e) {
    if (replace !== undefined && isAapsError(e) && e.code === 'FORBIDDEN') {
      throw new AapsError(
        'FORBIDDEN',
        `a new DKG must replace the unusable key share of ${replace.holders.join(', ')}: restart them with --allow-key-replace true (AAPS_PARTY_ALLOW_KEY_REPLACE), start the gateway again, then turn it off`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    await replace?.restore?.();
  }
  const json = PublicKeyPackageCodec.toJSON(suite.id, result.publicPackage);
  writeSavedPublicPackage(opts.dataDir, json);
  return { groupPublicKey: result.groupPublicKeyHex, publicPackage: json };
}

/** What the parties hold, against the group key of record, for a refusal. */
function describeHeld(found: Survey, recordKey: string, k: number): string {
  const byKey = new Map<string, string[]>();
  for (const [id, text] of found.held) {
    const key = found.groupKeys.get(text) ?? '?';
    byKey.set(key, [...(byKey.get(key) ?? []), id]);
  }
  const parts = [...byKey].map(([key, ids]) =>
    key === recordKey
      ? `only ${ids.join(', ')} hold it (fewer than the ${k} that can repair the others)`
      : `${ids.join(', ')} hold another group key ${key}`,
  );
  if (found.noKey.length > 0)
    parts.push(byKey.size === 0 ? 'no party holds a key' : `${found.noKey.join(', ')} hold none`);
  return parts.join('; ');
}

/**
 * Save the public package as `<dataDir>/public-package.json`, whole or not at all, and durably
 * (`writeFileDurably`): a crash or power loss mid-write leaves the old file or none, and once this
 * returns the new one is on disk.
 */
export function writeSavedPublicPackage(dataDir: string, json: unknown): void {
  writeFileDurably(join(dataDir, 'public-package.json'), `${JSON.stringify(json, null, 2)}\n`);
}

/**
 * The saved public package, if a DKG ran before, checked against `roster` (its suite, threshold
 * and number of verifying shares): a damaged file, or one from another roster, is refused with
 * one line rather than used.
 */
export function readSavedPublicPackage(dataDir: string, roster: Roster): unknown | undefined {
  const file = join(dataDir, 'public-package.json');
  if (!existsSync(file)) return undefined;
  const refuse = (why: string) =>
    new ValidationError(
      'INVALID_ARGUMENT',
      `${file}: ${why}; remove it to read the key from the parties again`,
      ['public-package'],
    );
  const notPackage = (e: unknown) =>
    refuse(`not a ${roster.ciphersuite} public key package (${(e as Error).message})`);
  let read: JsonReading;
  try {
    read = parseJsonRefusingRepeats(readFileSync(file, 'utf8'));
  } catch (e) {
    throw notPackage(e);
  }
  if ('notJson' in read) throw notPackage(read.notJson);
  // A key given twice (two group keys): JSON.parse keeps the last, another reader the first.
  if ('repeated' in read) throw refuse(read.repeated.problem);
  const json = read.value;
  let pkg: PublicKeyPackage;
  try {
    pkg = PublicKeyPackageCodec.fromJSON(json, roster.ciphersuite).value;
  } catch (e) {
    throw notPackage(e);
  }
  const t = roster.threshold;
  if (pkg.threshold.min !== t.min || pkg.threshold.max !== t.max)
    throw refuse(
      `its threshold ${pkg.threshold.min}-of-${pkg.threshold.max} is not the roster's ${t.min}-of-${t.max}`,
    );
  const shares = Object.keys(pkg.verifyingShares).length;
  if (shares !== roster.parties.length)
    throw refuse(`it has ${shares} verifying shares for the roster's ${roster.parties.length} parties`);
  return json;
}
