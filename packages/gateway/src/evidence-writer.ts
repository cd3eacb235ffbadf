/**
 * The evidence writer: seals an ended incident into a bundle whose DSSE signature is the parties'
 * k-of-n FROST signature, appends it to the transparency log, has the parties sign the new
 * checkpoint (with consistency proofs from the sizes they last signed: they witness the log), and
 * attaches the inclusion proof. The log's checkpoints are signed under the group key, named by
 * the log origin; each is then shown to the parties that did not sign it (`checkpoint-witness.ts`).
 */
import type { EvidenceSummary, HumanRejection, Logger } from '@aaps/agents';
import {
  aggregationDigest,
  attachLogEntry,
  type BuildBundleInput,
  buildBundle,
  buildTrustedRoot,
  bundleLogLeaf,
  ED25519_SUITE,
  type EvidenceBundle,
  type EvidenceCiphersuite,
  evidenceIdOfLeaf,
  type JsonObject,
  knownPartyRoles,
  type LogStore,
  type NoteKey,
  parseCheckpoint,
  type StoredCheckpoint,
  TransparencyLog,
  type TrustedRoot,
} from '@aaps/evidence';
import { AapsError, bytesToHex, hexToBytes, type SignedEnvelope, ValidationError } from '@aaps/mpc-core';
import { type CheckpointSigning, createCheckpointWitness } from './checkpoint-witness.js';
import type { Coordinator, KeysInfo, PartyRefusal, ThresholdResult } from './coordinator.js';
import type { GatewayMetrics } from './metrics.js';
import { quorumFailureOf } from './quorum-failure.js';
import { type TrustedKeys, verifierRoster } from './trust.js';
import type { IncidentRecord } from './workflow/record.js';
import { lastPayload } from './workflow/step-request.js';

/** A bundle signed k-of-n by `signers`; `evidenceId` is the SHA-256 of its log leaf. */
export interface SealedEvidence {
  evidenceId: string;
  bundle: EvidenceBundle;
  signers: string[];
}

export interface EvidenceWriter {
  /**
   * Build and sign (k-of-n) an ended incident's bundle. It is not in the log yet: store it, then
   * `publish` it, so a crash in between resumes with the same bundle and the same log entry.
   */
  sign(incident: IncidentRecord, summary: EvidenceSummary): Promise<SealedEvidence>;
  /**
   * Put a signed bundle in the log and return it with its log entry: appended once (a bundle the
   * log already holds keeps its entry: `TransparencyLog.appendOnce`), then a signed checkpoint
   * covering it is awaited and its inclusion proof attached. `logIndex`, when the caller recorded
   * the entry already (records from before bundles were stored ahead of their append), is used as
   * it is.
   */
  publish(bundle: EvidenceBundle, logIndex?: number): Promise<EvidenceBundle>;
  /**
   * Evidence that is not an incident's end (an unseal request, the parties' releases): a bundle
   * over `transcript` signed k-of-n, appended to the log, with its inclusion proof.
   */
  record(input: EvidenceRecordInput): Promise<SealedEvidence>;
  /**
   * The first half of {@link record}: the bundle signed k-of-n, not in the log yet, for a caller
   * that stores it before it `publish`es it (as `sign` is for an incident's end).
   */
  signRecord(input: EvidenceRecordInput): Promise<SealedEvidence>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  inclusionProof(index: number, treeSize: number): Promise<Uint8Array[]>;
  consistencyProof(first: number, second: number): Promise<Uint8Array[]>;
  logSize(): Promise<number>;
  /** The leaf bytes at `index`, if the log holds it. */
  logLeaf(index: number): Promise<Uint8Array | undefined>;
  logKey(): Promise<NoteKey>;
  trustedRoot(): Promise<TrustedRoot>;
  /**
   * Resolves once every signed checkpoint has been shown to the parties that did not sign it (or
   * they failed): the calls run in the background, after the checkpoint is stored.
   */
  witnessed(): Promise<void>;
  /**
   * Show every party the latest stored checkpoint, in the background (as after a signing, with a
   * proof from the size each holds). Run at start: a party repaired or restored while the gateway
   * was down starts with an empty witness record, and would otherwise take on trust whatever
   * checkpoint it is next shown; this way it records the log before anything else. Nothing to show
   * (an empty log, a coordinator without witness calls): nothing happens.
   */
  witnessLatest(): Promise<void>;
}

export interface EvidenceWriterOptions {
  coordinator: Coordinator;
  log: LogStore;
  /** The checkpoint origin line (also the log key's name), e.g. `aaps.local/log`. */
  origin: string;
  trust: () => Promise<TrustedKeys>;
  /** RFC 3339 start of the keys' validity in the trusted root. */
  validFrom: string;
  /** Where failed and refused witness calls are reported (default: nowhere). */
  logger?: Logger;
  /** Counts the witness calls (`aaps_checkpoint_witness_total`). */
  metrics?: GatewayMetrics;
}

export interface EvidenceRecordInput {
  /** `predicate.incident`: at least the id (the incident it concerns) and a type. */
  incident: { id: string; type: string } & Record<string, unknown>;
  decision: Record<string, unknown>;
  times: Record<string, string>;
  /** Envelopes signed by the gateway or roster members. */
  transcript: SignedEnvelope[];
}

const utf8 = new TextDecoder();

function json(value: unknown): JsonObject {
  return JSON.parse(JSON.stringify(value ?? {})) as JsonObject;
}

/**
 * The human rejection that ended an incident, as the signed summary records it: who, when and why
 * (the signed rejection itself is in the transcript). Absent for every other incident.
 */
function humanRejection(incident: IncidentRecord): { human_rejection?: Record<string, string> } {
  if (incident.state !== 'rejected') return {};
  // A rejection is the last decision an incident takes: nothing is appended after it but evidence.
  const last = lastPayload<Partial<HumanRejection>>(incident.transcript, 'ApprovalDecision');
  if (last?.decision !== 'reject') return {};
  return {
    human_rejection: {
      approver_id: String(last.approver_id),
      reason: String(last.reason),
      rejected_at: String(last.rejected_at),
    },
  };
}

/**
 * The most characters a text the gateway alone vouches for (a reason's message, a source's
 * resolution) takes into the predicate: what it records is short, but a failure's message may quote
 * an executor's or a party's error, and the Statement every verifier reads stays small. A longer
 * one is cut, ending in `…`.
 */
export const MAX_PREDICATE_TEXT = 1024;

/** `text` as the predicate holds it: at most {@link MAX_PREDICATE_TEXT} characters (code points). */
function bounded(text: unknown): string {
  const chars = Array.from(String(text));
  return chars.length <= MAX_PREDICATE_TEXT
    ? chars.join('')
    : `${chars.slice(0, MAX_PREDICATE_TEXT - 1).join('')}…`;
}

/**
 * Why the incident stopped, as the gateway recorded it (`reason` in `GET /v1/incidents/:id`): a
 * refusal, a failure before any change, an execution that failed. The gateway's word (the
 * transcript holds the signed facts behind some of them, e.g. a person's rejection); absent when
 * the record has none. Named as the record names it, and stated whenever the record has one, not
 * only for `failed`: a rejection's or a rollback's reason is as much the gateway's word.
 */
export function stopReason(incident: IncidentRecord): { reason?: { code: string; message: string } } {
  const r = incident.reason;
  return r === undefined ? {} : { reason: { code: bounded(r.code), message: bounded(r.message) } };
}

/**
 * What the source said when it reported the problem gone (an Alertmanager resolved alert, a
 * resolve posted to the API): the first such report, whether it ended the incident
 * (`resolved_by_source`) or came after a change (the `source.resolved` note). Who sent it, when it
 * arrived, the end time it gave and the API token's name (never the token). The gateway's word;
 * absent without one. A resolve holds nothing from the signal's payload, so nothing sealed.
 */
export function sourceResolution(incident: IncidentRecord): {
  source_resolution?: Record<string, string>;
} {
  const entry = incident.timeline.find(
    (e) => e.event === 'resolved_by_source' || e.event === 'source.resolved',
  );
  if (entry === undefined) return {};
  const detail = entry.detail ?? {};
  return {
    source_resolution: {
      actor: bounded(entry.actor),
      received_at: bounded(entry.at),
      ...(typeof detail['source_ended_at'] === 'string'
        ? { source_ended_at: bounded(detail['source_ended_at']) }
        : {}),
      ...(typeof detail['token_name'] === 'string' ? { token_name: bounded(detail['token_name']) } : {}),
    },
  };
}

/**
 * The pooled-risk aggregation record, when the decision cites it: the bundle carries it and the
 * statement signs its digest, so a verifier re-checks it offline. Only the very record the
 * proposal's `aggregation_ref` names (its digest is the reference's `output_digest`): verifiers and
 * parties refuse any other (`aggregation`, `evidence.aggregation`). A decision strategy refused, say
 * for a reference no party confirmed, may go without one (docs/evidence.md).
 */
function pooledAggregation(incident: IncidentRecord): { aggregation?: BuildBundleInput['aggregation'] } {
  const pooled = incident.pooled_risk;
  const cited = incident.decision?.proposal.risk.aggregation_ref;
  if (pooled === undefined || cited === undefined) return {};
  const record = json(pooled.record);
  if (bytesToHex(aggregationDigest(record)) !== cited.output_digest.toLowerCase()) return {};
  return { aggregation: record };
}

/**
 * The next quorum to name after an evidence signing found no quorum. A coordinator asks only the
 * parties a Statement names (a party signs only when named: `evidence.signers`), so the failure
 * says which named parties are out: those that refused, cheated, failed or timed out. They join
 * `ruledOut` (kept across attempts), and the next quorum is the named parties still usable, then
 * parties not yet ruled out, in roster order. A party that refused only for not being named (a
 * coordinator that asked it anyway) is not ruled out: named, it would sign. `undefined` when the
 * failure is another, no named party is out, or too few parties are left.
 */
export function requorum(
  error: unknown,
  named: readonly string[],
  parties: readonly string[],
  threshold: number,
  ruledOut: Set<string>,
): string[] | undefined {
  const failure = quorumFailureOf(error);
  if (failure === undefined) return undefined;
  const refusals = failure.refusals.filter((r) => r.rule !== 'evidence.signers' || named.includes(r.party));
  for (const p of [
    ...refusals.map((r) => r.party),
    ...failure.culprit_parties,
    ...failure.unavailable_parties,
  ])
    ruledOut.add(p);
  const usable = named.filter((p) => !ruledOut.has(p));
  if (usable.length === named.length) return undefined;
  const next = [...usable, ...parties.filter((p) => !ruledOut.has(p) && !named.includes(p))];
  return next.length >= threshold ? next.slice(0, threshold) : undefined;
}

export function createEvidenceWriter(opts: EvidenceWriterOptions): EvidenceWriter {
  let logPromise: Promise<TransparencyLog> | undefined;
  let keysPromise: Promise<KeysInfo> | undefined;
  const log = () => {
    if (logPromise === undefined) {
      const opening = TransparencyLog.open(opts.log, { origin: opts.origin });
      logPromise = opening;
      // A failed open (a read that failed once) is tried again by the next seal, not kept.
      opening.catch(() => {
        if (logPromise === opening) logPromise = undefined;
      });
    }
    return logPromise;
  };
  const keys = () => {
    keysPromise ??= opts.coordinator.keys();
    return keysPromise;
  };
  const noteKey = async (): Promise<NoteKey> => {
    const k = await keys();
    return {
      name: opts.origin,
      type: k.ciphersuite === 'FROST-ED25519-SHA512-v1' ? 'ed25519' : 'bip340',
      publicKey: hexToBytes(k.group_public_key),
    };
  };
  const witness = createCheckpointWitness({
    coordinator: opts.coordinator,
    consistencyProof: async (from, to) => (await log()).consistencyProof(from, to),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
  });
  /** Who signed the last checkpoint this writer had signed (the log may adopt one stored already). */
  let lastSigning: (CheckpointSigning & { size: number }) | undefined;
  /**
   * Parties that refused a checkpoint as `checkpoint.behind`, with the size they last signed (from
   * their signed refusals): the next checkpoints carry a proof from there until they sign one.
   */
  const behind = new Map<string, number>();
  /** Learn from a signing's refusals; returns whether a size not in `sizes` was reported. */
  const learn = (refusals: readonly PartyRefusal[], sizes: Set<number>): boolean => {
    let learned = false;
    for (const r of refusals) {
      if (r.rule !== 'checkpoint.behind' || r.signed_size === undefined) continue;
      behind.set(r.party, r.signed_size);
      if (!sizes.has(r.signed_size)) learned = true;
    }
    return learned;
  };
  /**
   * The parties sign a checkpoint only when it extends, by a consistency proof, the last one each
   * signed for the origin (parties are witnesses of the log). It carries proofs from the previous
   * signed checkpoint's size and from every size a party reported being behind at; a signing that
   * fails because parties are behind at sizes it had no proof from is tried again with them.
   */
  const signCheckpointNote = (l: TransparencyLog) => async (message: Uint8Array) => {
    const cp = parseCheckpoint(utf8.decode(message));
    const previous = await l.latestCheckpoint();
    const sizes = new Set<number>(behind.values());
    if (previous !== undefined) sizes.add(previous.size);
    // Each retry follows a newly reported size: at most one per party.
    const retries = (await keys()).parties.length;
    for (let attempt = 0; ; attempt++) {
      const consistency = await Promise.all(
        [...sizes]
          .filter((from) => from < cp.size)
          .sort((a, b) => a - b)
          .map(async (from) => ({
            from,
            hashes: from === 0 ? [] : await l.consistencyProof(from, cp.size),
          })),
      );
      let r: ThresholdResult;
      try {
        r = await opts.coordinator.signCheckpoint({
          origin: cp.origin,
          treeSize: cp.size,
          rootHash: cp.rootHash,
          consistency,
        });
      } catch (e) {
        const refusals = quorumFailureOf(e)?.refusals ?? [];
        if (!learn(refusals, sizes) || attempt >= retries) throw e;
        for (const size of behind.values()) sizes.add(size);
        continue;
      }
      learn(r.refusals, sizes);
      for (const party of r.signers) behind.delete(party);
      lastSigning = { size: cp.size, signers: r.signers, refusals: r.refusals };
      return r.signature;
    }
  };

  /**
   * Waits for a signed checkpoint that covers leaf `index`. One signing runs at a time and covers
   * every leaf appended before it starts, so concurrent incidents share checkpoints.
   */
  let signing: Promise<unknown> | undefined;
  const checkpointCovering = async (l: TransparencyLog, index: number): Promise<void> => {
    for (;;) {
      const latest = await l.latestCheckpoint();
      if (latest !== undefined && latest.size > index) return;
      if (signing !== undefined) {
        await signing.catch(() => undefined);
        continue;
      }
      const task = noteKey()
        .then((key) => l.signCheckpoint(key, signCheckpointNote(l)))
        .then(async (stored) => {
          // Stored: now the parties outside the quorum are shown it, in the background.
          const signing = lastSigning;
          if (signing?.size === stored.size) {
            const parties = (await keys()).parties.map((p) => p.id);
            witness.signed(stored, parties, signing);
          }
          return stored;
        });
      // The waiters' copy of the task: its failure is this caller's to report (below), so the copy
      // must not be left rejected with nobody listening (Node ends the process on that).
      signing = task
        .finally(() => {
          signing = undefined;
        })
        .catch(() => undefined);
      await task;
    }
  };

  /**
   * Sign a bundle. The Statement names its signers and a party signs only when named
   * (`evidence.signers`), so the quorum is chosen first: the first `t` parties, and when that
   * signing fails, the named ones still usable plus parties not yet ruled out ({@link requorum}),
   * for up to n - t + 1 attempts (at least three). If another set signed after all (a
   * coordinator that does not enforce naming), sign again naming it.
   */
  const signBundle = async (
    base: Omit<BuildBundleInput, 'signers'>,
    transcript: SignedEnvelope[],
  ): Promise<SealedEvidence> => {
    const k = await keys();
    const parties = k.parties.map((p) => p.id);
    let quorum = parties.slice(0, k.threshold.min);
    const ruledOut = new Set<string>();
    let bundle: EvidenceBundle | undefined;
    // Each failed attempt rules out at least one party: n - t + 1 attempts outlast n - t failures.
    const attempts = Math.max(3, parties.length - k.threshold.min + 1);
    for (let attempt = 0; attempt < attempts && bundle === undefined; attempt++) {
      const input: BuildBundleInput = { ...base, signers: quorum };
      let used: string[] = quorum;
      let built: EvidenceBundle;
      try {
        // The parties are shown the Statement and derive the message themselves.
        built = await buildBundle(input, async (_message, statement) => {
          const r = await opts.coordinator.signEvidence({ statement, transcript });
          used = r.signers;
          return r.signature;
        });
      } catch (e) {
        const next =
          attempt < attempts - 1 ? requorum(e, quorum, parties, k.threshold.min, ruledOut) : undefined;
        if (next === undefined) throw e;
        quorum = next;
        continue;
      }
      if ([...used].sort().join() === [...quorum].sort().join()) bundle = built;
      else quorum = used;
    }
    if (bundle === undefined) {
      throw new ValidationError('QUORUM_UNREACHABLE', 'no stable quorum signed the evidence', ['signers']);
    }
    return { evidenceId: evidenceIdOfLeaf(bundleLogLeaf(bundle)), bundle, signers: quorum };
  };

  const material = async () => {
    const k = await keys();
    return {
      ciphersuite: k.ciphersuite as EvidenceCiphersuite,
      groupPublicKey: hexToBytes(k.group_public_key),
      threshold: k.threshold,
      roster: verifierRoster(await opts.trust()),
    };
  };

  return {
    async record(input) {
      const signed = await this.signRecord(input);
      return { ...signed, bundle: await this.publish(signed.bundle) };
    },
    async signRecord(input) {
      return signBundle(
        {
          incident: json(input.incident) as BuildBundleInput['incident'],
          decision: json(input.decision),
          action: null,
          humanApprovals: [],
          verification: null,
          times: input.times,
          transcript: input.transcript as BuildBundleInput['transcript'],
          ...(await material()),
        },
        input.transcript,
      );
    },
    async sign(incident, summary) {
      const base: Omit<BuildBundleInput, 'signers'> = {
        incident: json({
          ...summary.incident,
          id: incident.id,
          type: incident.type,
          state: incident.state,
          source: incident.source,
          trace_id: incident.trace_id,
          compliance: summary.compliance,
          root_cause: summary.root_cause ?? null,
          refusals: summary.refusals,
          ...humanRejection(incident),
          ...stopReason(incident),
          ...sourceResolution(incident),
          ...(incident.sealed === undefined ? {} : { sealed_fields: incident.sealed.fields }),
        }) as BuildBundleInput['incident'],
        decision: json(summary.decision ?? { outcome: 'none' }),
        action: summary.action === undefined ? null : json(summary.action),
        humanApprovals: incident.human_approvals.map((a) => json(a)),
        verification: summary.verification === undefined ? null : json(summary.verification),
        times: summary.times,
        transcript: incident.transcript as SignedEnvelope[] as BuildBundleInput['transcript'],
        ...pooledAggregation(incident),
        ...(await material()),
      };
      return signBundle(base, incident.transcript);
    },
    async publish(bundle, logIndex) {
      const l = await log();
      const index = logIndex ?? (await l.appendOnce(bundleLogLeaf(bundle)));
      await checkpointCovering(l, index);
      return attachLogEntry(bundle, await l.position(index));
    },
    async latestCheckpoint() {
      return (await log()).latestCheckpoint();
    },
    async inclusionProof(index, treeSize) {
      return (await log()).inclusionProof(index, treeSize);
    },
    async consistencyProof(first, second) {
      return (await log()).consistencyProof(first, second);
    },
    async logSize() {
      return (await log()).size;
    },
    async logLeaf(index) {
      return (await log()).getLeaf(index);
    },
    logKey: noteKey,
    witnessed: () => witness.idle(),
    async witnessLatest() {
      const latest = await (await log()).latestCheckpoint();
      if (latest === undefined) return;
      const parties = (await keys()).parties.map((p) => p.id);
      witness.signed(latest, parties, { signers: [], refusals: [] });
    },
    async trustedRoot() {
      const k = await keys();
      if (k.ciphersuite !== ED25519_SUITE) {
        throw new AapsError(
          'CONFLICT',
          `a trusted root holds an Ed25519 group key only (Sigstore has no BIP-340 key type); this group is ${k.ciphersuite}: verify with aaps-verify --key <group_public_key from GET /v1/keys> --roster <roster.json>`,
        );
      }
      const trust = await opts.trust();
      const partyRoles = knownPartyRoles(trust.parties);
      return buildTrustedRoot({
        groupPublicKey: hexToBytes(k.group_public_key),
        threshold: k.threshold,
        logKey: await noteKey(),
        origin: opts.origin,
        roster: verifierRoster(trust),
        ...(partyRoles === undefined ? {} : { partyRoles }),
        validFrom: opts.validFrom,
      });
    },
  };
}
