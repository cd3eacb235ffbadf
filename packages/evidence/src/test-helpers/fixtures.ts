/**
 * Test fixtures: a group key (a node:crypto Ed25519 key pair stands in for the FROST group key, as
 * a FROST(Ed25519) signature is an RFC 8032 signature), a roster with real identity keys, a signed
 * transcript (mpc-core's envelope signing), an in-memory atomic store, and logged bundles.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import {
  aggregate,
  canonicalBytes,
  commit,
  type Envelope,
  generateIdentityKey,
  getCiphersuite,
  type IdentityKey,
  type MessageType,
  signEnvelope as signMessageEnvelope,
  signShare,
  trustedDealer,
} from '@aaps/mpc-core';
import type { AggregationRef } from '../aggregation-binding.js';
import { attachLogEntry, type BuildBundleInput, buildBundle, bundleLogLeaf } from '../bundle/build.js';
import type { EvidenceBundle } from '../bundle/types.js';
import { type BundleVerifier, createBundleVerifier } from '../bundle/verify.js';
import type { NoteKey } from '../checkpoint.js';
import { IN_TOTO_PAYLOAD_TYPE, type MessageSigner, signEnvelope } from '../dsse.js';
import { ED25519_SUITE, type EvidenceCiphersuite } from '../keys.js';
import { type LogStore, type LogStoreOp, TransparencyLog } from '../log.js';
import { buildTrustedRoot, type TrustedRoot, type TrustedRootInput } from '../sigstore-export.js';
import type { JsonObject, Threshold, TranscriptEnvelope, VerifierRoster } from '../statement.js';
// pooled.ts builds on makeApprovedInput: a cycle both sides use only inside functions.
import { makePooledInput } from './pooled.js';

export const ORIGIN = 'aaps.test/log';

export interface TestKey {
  publicKey: Uint8Array;
  privateKey: KeyObject;
  sign: MessageSigner;
}

export function makeEd25519Key(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    privateKey,
    sign: async (message) => new Uint8Array(nodeSign(null, message, privateKey)),
  };
}

export interface TestRoster {
  roster: VerifierRoster;
  parties: Array<{ id: string; key: IdentityKey }>;
  approvers: Array<{ id: string; key: IdentityKey }>;
  gateway: IdentityKey;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function makeRoster(n = 5): TestRoster {
  const roles = ['triage', 'rca', 'fix', 'risk', 'verify', 'sre', 'security'];
  return rosterOf(Array.from({ length: n }, (_, i) => `${roles[i % roles.length]}-${i + 1}`));
}

/** A roster of fresh identity keys: parties with these ids, one approver, and the gateway. */
export function rosterOf(ids: readonly string[], approver = 'human:alice'): TestRoster {
  const parties = ids.map((id) => ({ id, key: generateIdentityKey() }));
  const approvers = [{ id: approver, key: generateIdentityKey() }];
  const gateway = generateIdentityKey();
  return {
    parties,
    approvers,
    gateway,
    roster: {
      parties: parties.map((p) => ({ id: p.id, identity_key: hex(p.key.publicKey) })),
      approvers: approvers.map((a) => ({ id: a.id, identity_key: hex(a.key.publicKey) })),
      gateway_key: hex(gateway.publicKey),
    },
  };
}

let counter = 0;

function envelope(
  source: string,
  type: MessageType,
  payload: Record<string, unknown>,
  target = 'gateway',
): Envelope {
  counter++;
  return {
    meta: {
      trace_id: 'trace-0001',
      span_id: `span-${counter}`,
      timestamp: '2026-11-25T15:00:00Z',
      source_agent: source,
      target_agent: target,
      message_type: type,
      schema_version: 'v1.0.0',
      idempotency_key: `idem-${counter}`,
    },
    context: { namespace: 'payments', cluster: 'prod-eu', urgency: 'P2', constraints_ref: 'policy/v1' },
    payload,
  };
}

/** An envelope from `source` (outside the roster: the gateway re-signs it) signed by the gateway. */
export function gatewaySigned(
  r: TestRoster,
  source: string,
  type: MessageType,
  payload: Record<string, unknown>,
): TranscriptEnvelope {
  return signMessageEnvelope(envelope(source, type, payload), r.gateway.secretKey);
}

/** An envelope from a roster member (a party or an approver), signed with its own key. */
export function memberSigned(
  member: { id: string; key: IdentityKey },
  type: MessageType,
  payload: Record<string, unknown>,
): TranscriptEnvelope {
  return signMessageEnvelope(envelope(member.id, type, payload), member.key.secretKey);
}

/**
 * A transcript of an incident decided but not (yet) executed: an external alert re-signed by the
 * gateway, party reports, a human approval. (A `VerificationReport` would show an execution.)
 */
export function makeTranscript(r: TestRoster, length = 6): TranscriptEnvelope[] {
  const out: TranscriptEnvelope[] = [
    signMessageEnvelope(
      envelope('alertmanager', 'IncidentSignal', {
        incident_type: 'config_validation_failed',
        severity: 'high',
      }),
      r.gateway.secretKey,
    ),
  ];
  const types: MessageType[] = ['RCAReport', 'FixProposal', 'ApprovalDecision'];
  for (let i = 1; i < length - 1; i++) {
    const p = r.parties[(i - 1) % r.parties.length]!;
    out.push(
      signMessageEnvelope(
        envelope(p.id, types[(i - 1) % types.length]!, { step: i, note: `step ${i}` }),
        p.key.secretKey,
      ),
    );
  }
  const a = r.approvers[0]!;
  out.push(signMessageEnvelope(envelope(a.id, 'ApprovalDecision', { approve: true }), a.key.secretKey));
  return out;
}

export function makeInput(
  group: { publicKey: Uint8Array },
  r: TestRoster,
  overrides: Partial<BuildBundleInput> = {},
): BuildBundleInput {
  const signers = r.roster.parties.slice(0, 3).map((p) => p.id);
  return {
    incident: { id: 'inc-42', type: 'config_validation_failed', namespace: 'payments' },
    decision: { outcome: 'approved', risk: 'low' },
    // Nothing executed (no ExecutionResult), and no approver signed an approval (the approver's
    // envelope approves nothing by name): what the transcript says (transcript-ending.ts).
    action: null,
    humanApprovals: [],
    verification: null,
    times: {
      received: '2026-11-25T15:00:00Z',
      decided: '2026-11-25T15:01:00Z',
      signed: '2026-11-25T15:02:00Z',
    },
    transcript: makeTranscript(r),
    ciphersuite: ED25519_SUITE,
    groupPublicKey: group.publicKey,
    threshold: { min: 3, max: r.roster.parties.length },
    signers,
    roster: r.roster,
    ...overrides,
  };
}

/**
 * An approval proposal as the strategy agent makes it and the parties sign it (the shape of
 * packages/agents `ApprovalProposal`), its `proposal_digest` computed as the agents do: hex SHA-256
 * of the canonical JSON of `{domain: "aaps.proposal-digest.v1", core}`.
 */
export function makeProposal(incidentId: string): JsonObject {
  const core: JsonObject = {
    incident_id: incidentId,
    action: 'configmap_reload',
    target: 'configmap://payments/api-config',
    parameters: {
      rollout_restart: ['deployment://payments/api'],
      source: {
        kind: 'gitops',
        path: 'payments/configmap/api-config.json',
        repo: 'https://git.example/deploy.git',
      },
    },
    evidence_refs: [`incident://${incidentId}/signal`, 'event://kubernetes/payments/api-7d9f.1a2b'],
    risk: {
      score: 50,
      method: 'aaps.risk.v1',
      factors: { blast_radius: 2, urgency: 'P2', environment: 'production' },
    },
  };
  const digest = createHash('sha256')
    .update(canonicalBytes({ domain: 'aaps.proposal-digest.v1', core }))
    .digest('hex');
  return { ...core, proposal_digest: digest };
}

export interface ApprovedIncidentOptions {
  incidentId?: string;
  /** The suite the approval names; Ed25519 by default. */
  ciphersuite?: EvidenceCiphersuite;
  /** Who makes the approval signature; the group by default. */
  approvalSigner?: TestKey;
  /** Changes the proposal before the approval signs it (the decision names its digest field). */
  editProposal?: (proposal: JsonObject) => void;
  /** Changes the order's payload after the approval is signed and before the gateway signs it. */
  editOrder?: (payload: { incident_id: string; proposal: JsonObject; approval: JsonObject }) => void;
  /**
   * Strategy's decision on the proposal; anything but `auto` (the default) stops the incident
   * there: no order, no execution (a refused proposal, or one a person then rejected).
   */
  strategyDecision?: 'auto' | 'needs_human' | 'refuse';
}

/**
 * The transcript of an incident the parties approved and the gateway executed, as the gateway
 * writes it: the signal re-signed by the gateway, the agents' reports, the strategy's decision,
 * the gateway's `ExecutionOrder` carrying the group's approval signature over
 * `JCS({domain: "aaps.approval.v1", proposal})`, and the execution and verification results.
 * Returns the transcript and the input for its bundle (decision as the audit step writes it).
 */
export async function makeApprovedInput(
  group: TestKey,
  r: TestRoster,
  options: ApprovedIncidentOptions = {},
): Promise<BuildBundleInput> {
  const id = options.incidentId ?? 'inc-approved';
  const suite = options.ciphersuite ?? ED25519_SUITE;
  const proposal = makeProposal(id);
  options.editProposal?.(proposal);
  const signer = options.approvalSigner ?? group;
  const signature = await signer.sign(canonicalBytes({ domain: 'aaps.approval.v1', proposal }));
  const signers = r.roster.parties.slice(0, 3).map((p) => p.id);
  const order = {
    incident_id: id,
    proposal: structuredClone(proposal),
    approval: {
      ciphersuite: suite,
      group_public_key: hex(group.publicKey),
      signature: hex(signature),
      signers,
    } as JsonObject,
    executor: 'dry-run',
  };
  options.editOrder?.(order);
  const party = (i: number) => r.parties[i % r.parties.length]!;
  const bySelf = (i: number, type: MessageType, payload: Record<string, unknown>) =>
    signMessageEnvelope(envelope(party(i).id, type, payload), party(i).key.secretKey);
  const byGateway = (source: string, type: MessageType, payload: Record<string, unknown>, target: string) =>
    signMessageEnvelope(envelope(source, type, payload, target), r.gateway.secretKey);
  const transcript: TranscriptEnvelope[] = [
    byGateway('alertmanager', 'IncidentSignal', { incident_type: 'config_validation_failed' }, 'monitoring'),
    bySelf(0, 'IncidentSignal', { incident_id: id, severity: 'high' }),
    bySelf(1, 'RCAReport', { incident_id: id, root_cause: 'missing key' }),
    bySelf(1, 'FixProposal', { incident_id: id, proposals: [{ action: 'configmap_reload' }] }),
    bySelf(2, 'ApprovalDecision', {
      incident_id: id,
      decision: options.strategyDecision ?? 'auto',
      proposal,
      risk: { score: 50 },
    }),
    byGateway('gateway', 'ExecutionOrder', order, 'maintenance-agent'),
    byGateway(
      'maintenance-agent',
      'ExecutionResult',
      { incident_id: id, proposal_digest: proposal.proposal_digest!, status: 'succeeded' },
      'quality-assurance',
    ),
    bySelf(3, 'VerificationReport', {
      incident_id: id,
      proposal_digest: proposal.proposal_digest!,
      stages: [{ name: 'schema_validation', status: 'pass', mandatory: true, detail: 'valid' }],
      verdict: 'pass',
      vetoed_by: [],
    }),
  ];
  const decided = options.strategyDecision ?? 'auto';
  if (decided !== 'auto') {
    return makeInput(group, r, {
      incident: { id, type: 'config_validation_failed' },
      decision: { outcome: decided, proposal_digest: proposal.proposal_digest!, risk_score: 50 },
      action: null,
      humanApprovals: [],
      times: { received: '2026-11-25T15:00:00Z', proposed: '2026-11-25T15:00:02Z' },
      transcript: transcript.slice(0, 5),
      ciphersuite: suite,
    });
  }
  return makeInput(group, r, {
    incident: { id, type: 'config_validation_failed' },
    decision: { outcome: 'auto', proposal_digest: proposal.proposal_digest!, risk_score: 50 },
    action: { name: 'configmap_reload', target: proposal.target!, executor: 'dry-run', result: 'succeeded' },
    // As the audit step states quality assurance's report (the transcript's last envelope).
    verification: { verdict: 'pass', vetoed_by: [], stages: [{ name: 'schema_validation', status: 'pass' }] },
    times: {
      received: '2026-11-25T15:00:00Z',
      triaged: '2026-11-25T15:00:01Z',
      proposed: '2026-11-25T15:00:02Z',
      approval_requested: '2026-11-25T15:00:03Z',
      approved: '2026-11-25T15:00:04Z',
      execution_started: '2026-11-25T15:00:05Z',
      executed: '2026-11-25T15:00:06Z',
      verification_passed: '2026-11-25T15:00:07Z',
    },
    transcript,
    ciphersuite: suite,
  });
}

/** An in-memory store whose `batch` is atomic, counting batches. */
export class MemoryStore implements LogStore {
  readonly data = new Map<string, Uint8Array>();
  batches = 0;
  reads = 0;
  failNext = false;

  async get(key: string): Promise<Uint8Array | undefined> {
    this.reads++;
    return this.data.get(key);
  }

  async batch(ops: LogStoreOp[]): Promise<void> {
    this.batches++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value);
      else this.data.delete(op.key);
    }
  }
}

export function noteKeyFor(key: { publicKey: Uint8Array }, name = ORIGIN): NoteKey {
  return { name, type: 'ed25519', publicKey: key.publicKey };
}

/**
 * A verifier that trusts `group` as the group key and as the log's key under {@link ORIGIN},
 * `threshold` (3-of-5 by default), and `roster` when given (else each bundle's own).
 */
export function trustingVerifier(
  group: { publicKey: Uint8Array },
  roster?: VerifierRoster,
  threshold: Threshold = { min: 3, max: 5 },
): BundleVerifier {
  return createBundleVerifier({
    groupPublicKey: group.publicKey,
    ...(roster === undefined ? {} : { roster }),
    threshold,
    logKeys: [noteKeyFor(group)],
    logOrigin: ORIGIN,
  });
}

/**
 * `bundle` taken out of its log and logged alone in a fresh one whose checkpoint is signed by a
 * separate log key (not the group key), named `name`.
 */
export async function reloggedUnderLogKey(
  bundle: EvidenceBundle,
  name = 'log.aaps.test/tree',
): Promise<{ bundle: EvidenceBundle; logSigner: TestKey; logKey: NoteKey }> {
  const logSigner = makeEd25519Key();
  const logKey = { ...noteKeyFor(logSigner), name };
  const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
  const { transparencyLog: _old, ...unlogged } = bundle;
  const index = await log.append(bundleLogLeaf(unlogged as EvidenceBundle));
  await log.signCheckpoint(logKey, logSigner.sign);
  return { bundle: attachLogEntry(unlogged as EvidenceBundle, await log.position(index)), logSigner, logKey };
}

export interface LoggedFixture {
  group: TestKey;
  r: TestRoster;
  log: TransparencyLog;
  bundle: EvidenceBundle;
  bundles: EvidenceBundle[];
}

/**
 * `count` bundles appended to one log, one checkpoint signed by the group key over all of them.
 * With `pooled`, each is an approved incident whose proposal cites `pooled.ref` and whose bundle
 * carries `pooled.record` (test-helpers/pooled.ts `makePooledInput`).
 */
export async function makeLoggedBundles(
  count = 3,
  options: {
    pooled?: { record: JsonObject; ref: AggregationRef };
    group?: TestKey;
    roster?: TestRoster;
  } = {},
): Promise<LoggedFixture> {
  const group = options.group ?? makeEd25519Key();
  const r = options.roster ?? makeRoster();
  const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
  const unlogged: EvidenceBundle[] = [];
  for (let i = 0; i < count; i++) {
    const incident = { id: `inc-${i}`, type: 'config_validation_failed' };
    const input =
      options.pooled === undefined
        ? makeInput(group, r, { incident })
        : await makePooledInput(group, r, { ...options.pooled, incidentId: incident.id });
    unlogged.push(await buildBundle(input, group.sign));
  }
  const indexes = await Promise.all(unlogged.map((b) => log.append(bundleLogLeaf(b))));
  await log.signCheckpoint(noteKeyFor(group), group.sign);
  const bundles = await Promise.all(
    unlogged.map(async (b, i) => attachLogEntry(b, await log.position(indexes[i]!))),
  );
  return { group, r, log, bundle: bundles[0]!, bundles };
}

/**
 * The `trusted_root.json` for a fixture: its group key (also the log key), 3-of-5, its roster,
 * `ORIGIN`; `over` changes any of these.
 */
export function trustedRootFor(
  fx: { group: TestKey; r: TestRoster },
  over: Partial<TrustedRootInput> = {},
): TrustedRoot {
  return buildTrustedRoot({
    groupPublicKey: fx.group.publicKey,
    threshold: { min: 3, max: 5 },
    logKey: noteKeyFor(fx.group),
    origin: ORIGIN,
    roster: fx.r.roster,
    validFrom: '2026-01-01T00:00:00Z',
    ...over,
  });
}

/** Re-sign a bundle after `edit` changes its statement (to build bundles the builder refuses). */
export async function resignStatement(
  bundle: EvidenceBundle,
  signer: TestKey,
  // biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary statement fields
  edit: (statement: any) => void,
): Promise<EvidenceBundle> {
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
  edit(statement);
  const payload = canonicalBytes(statement);
  const dsseEnvelope = await signEnvelope(
    IN_TOTO_PAYLOAD_TYPE,
    payload,
    bundle.dsseEnvelope.signatures[0]!.keyid,
    signer.sign,
  );
  const { transparencyLog: _drop, ...rest } = bundle;
  return { ...rest, dsseEnvelope };
}

/** Put bundles into a fresh log signed by `group` and attach their entries. */
export async function logBundles(bundles: EvidenceBundle[], group: TestKey): Promise<EvidenceBundle[]> {
  const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
  const indexes = await Promise.all(bundles.map((b) => log.append(bundleLogLeaf(b))));
  await log.signCheckpoint(noteKeyFor(group), group.sign);
  return Promise.all(bundles.map(async (b, i) => attachLogEntry(b, await log.position(indexes[i]!))));
}

/** A real k-of-n FROST signer from mpc-core: dealer keys, round 1, round 2, aggregation. */
export function frostSigner(suiteId: EvidenceCiphersuite, k: number, n: number): TestKey {
  const suite = getCiphersuite(suiteId);
  const { publicPackage, keyPackages } = trustedDealer(suite, { min: k, max: n });
  return {
    publicKey: publicPackage.groupPublicKey,
    privateKey: undefined as never,
    sign: async (message) => {
      const quorum = keyPackages.slice(n - k);
      const nonces = quorum.map((kp) => commit(suite, kp));
      const pkg = { commitments: nonces.map((x) => x.commitment), message };
      const shares = quorum.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, publicPackage));
      return aggregate(suite, pkg, shares, publicPackage);
    },
  };
}
