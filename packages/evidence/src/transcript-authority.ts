/**
 * What an incident transcript may say, and what its Statement may claim of it: the one rule both
 * `aaps-verify` (checks `transcript.authority`, `transcript.outcome`) and a party about to co-sign
 * evidence (`evidence.transcript`, `evidence.outcome`) apply, so the two cannot disagree.
 *
 * A transcript's signatures (transcript.ts) say who sent each envelope; they do not say the
 * envelope belongs in this incident's evidence. A gateway that chooses which signed envelopes to
 * show could otherwise pass off a protocol reply, another incident's verification report, or a
 * report signed by a party that holds no veto, and sign a predicate that contradicts quality
 * assurance's signed verdict. The threat model says parties derive what they sign; these rules
 * are what they derive from the transcript.
 */
import { canonicalize } from '@aaps/mpc-core/verifier';
import { fail } from './errors.js';
import { type IncidentPredicate, isObject, type VerifierRoster } from './statement.js';
import { signerKeyFor } from './transcript.js';

/**
 * The workflow messages an incident transcript holds: the gateway's intake signal, the role
 * parties' outputs, people's decisions, the gateway's execution order and results, and evidence
 * references (the audit summary, and the gateway's unseal records). Protocol messages between the
 * gateway and the parties (`ProtocolRequest`, `ProtocolResponse`) never appear in one
 * (docs/architecture.md), and nothing writes `KnowledgeArtifactPublished` into one.
 */
export const TRANSCRIPT_MESSAGE_TYPES: readonly string[] = Object.freeze([
  'IncidentSignal',
  'RCAReport',
  'FixProposal',
  'ApprovalDecision',
  'ExecutionOrder',
  'ExecutionResult',
  'VerificationReport',
  'EvidenceBundleRef',
]);

/**
 * The message types a party of each role signs into a transcript (its role step's outputs; the
 * agents' `ROLE_OUTPUT_TYPES` is held equal to this by a test). The seed's `agent_permissions`
 * give verification reports to quality assurance alone. The sets are disjoint, so a message type
 * names the role that signs it.
 */
export const PARTY_ROLE_MESSAGE_TYPES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  monitoring: ['IncidentSignal'],
  'problem-solver': ['RCAReport', 'FixProposal'],
  strategy: ['ApprovalDecision'],
  'quality-assurance': ['VerificationReport'],
  audit: ['EvidenceBundleRef'],
});

/** The role whose output `messageType` is, if a party role signs it. */
function roleSigning(messageType: string): string | undefined {
  for (const [role, types] of Object.entries(PARTY_ROLE_MESSAGE_TYPES))
    if (types.includes(messageType)) return role;
  return undefined;
}

/**
 * Each party's role by party id, where the caller knows it (a party's roster.json names roles, and
 * so does a trusted root the gateway served, `aaps.partyRoles`; a Statement's roster does not). A
 * party absent from it is held to the rule for unknown roles: it signs one role's outputs only.
 */
export type PartyRoles = Readonly<Record<string, string>>;

/**
 * The roles the evidence rules know (those of {@link PARTY_ROLE_MESSAGE_TYPES}) of `parties` (any
 * list shaped like a roster's, `{id, role}`), by id; `undefined` when none is known. Any other role
 * (or none) leaves its party's role unknown, so a roster with a role these rules do not hold
 * checks as before.
 */
export function knownPartyRoles(parties: readonly unknown[]): PartyRoles | undefined {
  const roles: Record<string, string> = {};
  for (const p of parties) {
    if (typeof p !== 'object' || p === null) continue;
    const { id, role } = p as { id?: unknown; role?: unknown };
    if (typeof id === 'string' && typeof role === 'string' && Object.hasOwn(PARTY_ROLE_MESSAGE_TYPES, role))
      roles[id] = role;
  }
  return Object.keys(roles).length === 0 ? undefined : roles;
}

interface Seen {
  index: number;
  source: string;
  type: string;
  payload: unknown;
}

function envelopesOf(transcript: readonly unknown[]): Seen[] {
  return transcript.map((envelope, index) => {
    const { meta, payload } = envelope as {
      meta: { source_agent: string; message_type?: unknown };
      payload?: unknown;
    };
    return { index, source: meta.source_agent, type: String(meta.message_type), payload };
  });
}

/**
 * The `transcript.authority` check, on a transcript whose signatures already hold under `roster`:
 * every envelope is a workflow message ({@link TRANSCRIPT_MESSAGE_TYPES}); a party signs only its
 * role's outputs (by `roles` where known, else one role's outputs per party in the transcript);
 * and every payload naming an `incident_id` names this incident. Exempt from the last is the
 * intake `IncidentSignal` (the first envelope, or one under the gateway's key): what a source
 * reported, before the incident had its id. Throws naming the first envelope that breaks a rule.
 */
export function checkTranscriptAuthority(
  transcript: readonly unknown[],
  predicate: IncidentPredicate,
  roster: VerifierRoster,
  roles?: PartyRoles,
): void {
  const incidentId = predicate.incident.id;
  const playing = new Map<string, { role: string; index: number; type: string }>();
  for (const { index, source, type, payload } of envelopesOf(transcript)) {
    if (!TRANSCRIPT_MESSAGE_TYPES.includes(type)) {
      fail(
        'transcript.authority',
        `envelope ${index} from ${source} is a ${type}: a transcript holds the incident's workflow messages only (${TRANSCRIPT_MESSAGE_TYPES.join(', ')}), never a protocol message`,
        { index, source_agent: source, message_type: type },
      );
    }
    const signer = signerKeyFor(roster, source);
    if (signer.kind === 'party') {
      const known = roles !== undefined && Object.hasOwn(roles, source) ? roles[source] : undefined;
      const role = roleSigning(type);
      if (known !== undefined) {
        const allowed = Object.hasOwn(PARTY_ROLE_MESSAGE_TYPES, known)
          ? PARTY_ROLE_MESSAGE_TYPES[known]!
          : [];
        if (!allowed.includes(type)) {
          fail(
            'transcript.authority',
            `envelope ${index} is a ${type} signed by party ${source}, whose role ${known} signs ${allowed.length === 0 ? 'nothing into a transcript' : `${allowed.join(', ')} only`}`,
            { index, source_agent: source, message_type: type, role: known },
          );
        }
      } else if (role === undefined) {
        fail(
          'transcript.authority',
          `envelope ${index} is a ${type} signed by party ${source}: no party role signs one (the gateway writes execution orders and results)`,
          { index, source_agent: source, message_type: type },
        );
      } else {
        // Roles unknown: a party plays one role, so all it signs is one role's output.
        const first = playing.get(source);
        if (first === undefined) playing.set(source, { role, index, type });
        else if (first.role !== role) {
          fail(
            'transcript.authority',
            `envelope ${index} is a ${type} (${role}'s output) signed by party ${source}, which signed a ${first.type} (${first.role}'s output) at envelope ${first.index}: a party plays one role`,
            { index, source_agent: source, message_type: type, roles: [first.role, role] },
          );
        }
      }
    }
    // The intake signal (the first envelope, whoever signed it) is what a source reported, before
    // the incident had its id: an `incident_id` in it is the source's own.
    const intake =
      type === 'IncidentSignal' && (index === 0 || signer.kind === 'gateway' || signer.kind === 'outside');
    if (!intake && isObject(payload) && Object.hasOwn(payload, 'incident_id')) {
      if (payload.incident_id !== incidentId) {
        fail(
          'transcript.authority',
          `envelope ${index} (a ${type} from ${source}) is about incident ${String(payload.incident_id)}, not ${incidentId}`,
          { index, source_agent: source, message_type: type, incident_id: payload.incident_id ?? null },
        );
      }
    }
  }
}

const payloadField = (e: Seen, key: string): unknown => (isObject(e.payload) ? e.payload[key] : undefined);

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
}

/**
 * The `transcript.outcome` check: what the predicate says of the execution and its verification
 * is what the transcript's signed envelopes say. A `VerificationReport` follows an execution
 * (`ExecutionResult`) and verifies it (same `proposal_digest`). A change that executed
 * (`succeeded`) is followed by quality assurance's report, or, where verification could not be
 * completed, by the gateway's record of undoing it. The predicate's `verification` states the
 * verdict and `vetoed_by` of every report (and is null without one); `action.result` is the
 * last execution result's status: the execution's, or a later result's recording the rollback
 * (`rolled_back`) or its failure (`failed`); it is absent without an execution. Who may sign a report is {@link checkTranscriptAuthority}'s.
 */
export function checkTranscriptOutcome(transcript: readonly unknown[], predicate: IncidentPredicate): void {
  const envelopes = envelopesOf(transcript);
  const results = envelopes.filter((e) => e.type === 'ExecutionResult');
  const reports = envelopes.filter((e) => e.type === 'VerificationReport');
  const execution = results[0];
  const early = reports.find((r) => execution === undefined || r.index < execution.index);
  if (early !== undefined) {
    fail(
      'transcript.outcome',
      `envelope ${early.index} is a VerificationReport with no executed change before it to verify`,
      { index: early.index },
    );
  }
  const action = predicate.action;
  const claimedResult = isObject(action) ? action.result : undefined;
  if (execution === undefined) {
    if (predicate.verification !== null)
      fail('transcript.outcome', 'the predicate states a verification, but the transcript holds no report');
    if (claimedResult !== undefined)
      fail(
        'transcript.outcome',
        `the predicate states action result ${String(claimedResult)}, but nothing executed`,
      );
    return;
  }
  const status = payloadField(execution, 'status');
  if (typeof status !== 'string')
    fail('transcript.outcome', `envelope ${execution.index} is an ExecutionResult with no status`, {
      index: execution.index,
    });
  const later = results.slice(1);
  if (
    status === 'succeeded' &&
    reports.length === 0 &&
    !later.some((r) => payloadField(r, 'status') !== 'succeeded')
  ) {
    fail(
      'transcript.outcome',
      `the change executed (envelope ${execution.index}) and no VerificationReport from quality assurance follows it, nor a record of undoing it`,
      { index: execution.index },
    );
  }
  const verified = payloadField(execution, 'proposal_digest');
  const claimed = predicate.verification;
  for (const report of reports) {
    if (payloadField(report, 'proposal_digest') !== verified) {
      fail(
        'transcript.outcome',
        `envelope ${report.index} is a VerificationReport of another change than the one executed (proposal_digest)`,
        { index: report.index },
      );
    }
    const verdict = payloadField(report, 'verdict');
    const vetoedBy = payloadField(report, 'vetoed_by');
    if (!isObject(claimed) || claimed.verdict !== verdict || !sameJson(claimed.vetoed_by, vetoedBy)) {
      fail(
        'transcript.outcome',
        `the predicate's verification (${isObject(claimed) ? `verdict ${String(claimed.verdict)}` : 'none'}) is not quality assurance's signed report at envelope ${report.index} (verdict ${String(verdict)}, vetoed_by ${JSON.stringify(vetoedBy ?? null)})`,
        { index: report.index },
      );
    }
  }
  if (reports.length === 0 && claimed !== null)
    fail('transcript.outcome', 'the predicate states a verification, but the transcript holds no report');
  // The last result is where the change ended: undone (`rolled_back`), or not (`failed`, also
  // after a veto whose undo failed), or in place (`succeeded`).
  const expected = later.length === 0 ? status : payloadField(later.at(-1)!, 'status');
  if (claimedResult !== expected) {
    fail(
      'transcript.outcome',
      `the predicate's action result is ${claimedResult === undefined ? 'missing' : String(claimedResult)}, but the transcript's execution results say ${expected}`,
      { index: execution.index, expected, actual: claimedResult ?? null },
    );
  }
}
