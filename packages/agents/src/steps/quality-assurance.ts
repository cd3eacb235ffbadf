/**
 * Quality assurance: the seed's seven verification stages, plus the post-change check, over a
 * proposal and (once executed) its result. Every stage reports what it saw: a stage with no data
 * is `skipped` with the reason, never a pass. A failed mandatory stage is a veto; a stage whose
 * data the policy requires fails when the data is missing.
 */
import { type ApprovalProposal, parseApprovalProposal } from '../policy/proposal.js';
import { Reader } from '../policy/reader.js';
import { checkProposal, type EvaluationContext } from '../policy/rules.js';
import {
  type Policy,
  SEVERITIES,
  type Severity,
  VERIFICATION_STAGES,
  type VerificationStageName,
} from '../policy/schema.js';

export interface Finding {
  id: string;
  severity: Severity;
}

/** What the caller knows about the change's supply chain and tests. Each field is optional. */
export interface VerificationArtifacts {
  /** A CycloneDX scan of the image (or manifest) the change deploys. */
  sbom?: { format: string; subject: string; vulnerabilities: Finding[] };
  /** Result of a signature check (e.g. cosign) on the image the change deploys. */
  signature?: { subject: string; verified: boolean; verifier: string };
  /** SLSA provenance for the image the change deploys. */
  attestation?: { predicate_type: string; subject_digest: string; verified: boolean };
  tests?: { passed: number; failed: number; coverage?: number };
  security_scan?: { tool: string; findings: Finding[] };
}

export const EXECUTION_STATUSES = ['succeeded', 'failed', 'rolled_back'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** The `ExecutionResult` payload, as far as verification reads it. */
export interface ExecutionResultSummary {
  incident_id: string;
  proposal_digest: string;
  status: ExecutionStatus;
  executor: string;
  /** Checks run after the change (rollout complete, pod ready, …). */
  post_checks?: { name: string; passed: boolean; detail?: string }[];
  /** The undo of the change, when one was tried (the last execution result's). */
  rollback?: { done: boolean; detail: string };
}

export interface QualityAssuranceInput {
  proposal: unknown;
  artifacts?: VerificationArtifacts;
  execution?: ExecutionResultSummary;
  /**
   * When the threshold-signed order of an executed change was issued (RFC 3339: the
   * `ExecutionOrder` envelope's timestamp). With `execution`, the policy check judges a human
   * approval's validity window at that time, when the parties signed, not at verification.
   */
  ordered_at?: string;
}

export type StageStatus = 'pass' | 'fail' | 'skipped';

export interface VerificationStage {
  name: VerificationStageName;
  status: StageStatus;
  mandatory: boolean;
  detail: string;
}

/** The `VerificationReport` payload. */
export interface VerificationReport {
  incident_id: string | null;
  proposal_digest: string | null;
  stages: VerificationStage[];
  verdict: 'pass' | 'veto';
  /** The mandatory stages that failed. */
  vetoed_by: VerificationStageName[];
}

type StageResult = { status: StageStatus; detail: string };

const pass = (detail: string): StageResult => ({ status: 'pass', detail });
const fail = (detail: string): StageResult => ({ status: 'fail', detail });
const skipped = (detail: string): StageResult => ({ status: 'skipped', detail });

/** Run every stage in order; pure given `ctx`. */
export function runVerification(
  policy: Policy,
  input: QualityAssuranceInput,
  ctx: EvaluationContext,
): VerificationReport {
  let proposal: ApprovalProposal | undefined;
  let schemaError: string | undefined;
  try {
    proposal = parseApprovalProposal(input.proposal);
  } catch (e) {
    schemaError = e instanceof Error ? e.message : 'unparseable proposal';
  }
  const image = proposal ? deployedImage(proposal) : undefined;
  const artifacts = input.artifacts ?? {};

  const run: Record<VerificationStageName, () => StageResult> = {
    schema_validation: () => {
      if (!proposal) return fail(`proposal: ${schemaError}`);
      if (input.execution !== undefined) {
        const problem = executionProblem(input.execution, proposal);
        if (problem) return fail(`execution result: ${problem}`);
      }
      return pass(
        input.execution ? 'proposal and execution result match their schemas' : 'proposal matches its schema',
      );
    },
    policy_compliance: () => {
      const outcome = checkProposal(policy, policy.role, input.proposal, {
        ...ctx,
        now: judgedAt(input, ctx),
        ...approvedRound(input, ctx),
      });
      return outcome.decision === 'approve'
        ? pass('every policy rule holds')
        : fail(`refused by ${outcome.rule}`);
    },
    sbom_scan: () =>
      artifacts.sbom === undefined
        ? skipped('no SBOM supplied')
        : scan(artifacts.sbom.vulnerabilities, policy.verification.fail_severity, 'vulnerabilit(ies)', () =>
            subjectProblem(artifacts.sbom!.subject, image),
          ),
    signature_verify: () => {
      const sig = artifacts.signature;
      if (sig === undefined) return skipped('no signature check result supplied');
      if (typeof sig.verified !== 'boolean' || typeof sig.subject !== 'string')
        return fail('malformed signature result');
      const mismatch = subjectProblem(sig.subject, image);
      if (mismatch) return fail(mismatch);
      return sig.verified
        ? pass(`signature verified by ${sig.verifier}`)
        : fail(`signature not verified by ${sig.verifier}`);
    },
    attestation_check: () => {
      const att = artifacts.attestation;
      if (att === undefined) return skipped('no provenance attestation supplied');
      if (typeof att.verified !== 'boolean' || typeof att.subject_digest !== 'string')
        return fail('malformed attestation');
      if (!att.predicate_type.startsWith('https://slsa.dev/provenance/'))
        return fail('not a SLSA provenance predicate');
      const mismatch = subjectProblem(att.subject_digest, image);
      if (mismatch) return fail(mismatch);
      return att.verified ? pass('SLSA provenance verified') : fail('SLSA provenance not verified');
    },
    test_coverage: () => {
      const t = artifacts.tests;
      if (t === undefined) return skipped('no test results supplied');
      const r = new Reader();
      r.number(t.passed, 'passed', 0, Number.MAX_SAFE_INTEGER, true);
      r.number(t.failed, 'failed', 0, Number.MAX_SAFE_INTEGER, true);
      if (t.coverage !== undefined) r.number(t.coverage, 'coverage', 0, 1);
      if (r.issues.length > 0) return fail('malformed test results');
      if (t.failed > 0) return fail(`${t.failed} test(s) failed`);
      if (t.coverage === undefined) return fail('no coverage figure');
      if (t.coverage < policy.verification.min_test_coverage) {
        return fail(`coverage ${t.coverage} below ${policy.verification.min_test_coverage}`);
      }
      return pass(`${t.passed} passed, coverage ${t.coverage}`);
    },
    security_scan: () =>
      artifacts.security_scan === undefined
        ? skipped('no security scan supplied')
        : scan(
            artifacts.security_scan.findings,
            policy.verification.fail_severity,
            'finding(s)',
            () => undefined,
          ),
    post_change_check: () => {
      const ex = input.execution;
      if (ex === undefined) return skipped('not executed yet');
      if (ex.status !== 'succeeded') return fail(`execution ${ex.status}`);
      const failed = (ex.post_checks ?? []).filter((c) => c.passed !== true);
      if (failed.length > 0)
        return fail(`post-change check(s) failed: ${failed.map((c) => c.name).join(', ')}`);
      return ex.post_checks && ex.post_checks.length > 0
        ? pass(`${ex.post_checks.length} post-change check(s) passed`)
        : pass('execution succeeded; no post-change checks defined');
    },
  };

  const stages = VERIFICATION_STAGES.map((name): VerificationStage => {
    let result: StageResult;
    try {
      result = run[name]();
    } catch {
      result = fail('stage could not run on the data supplied');
    }
    if (result.status === 'skipped' && policy.verification.require_data.includes(name)) {
      result = fail(`no data, and the policy requires it (${result.detail})`);
    }
    return { name, ...result, mandatory: policy.verification.mandatory.includes(name) };
  });
  const vetoedBy = stages.filter((s) => s.mandatory && s.status === 'fail').map((s) => s.name);
  return {
    incident_id: proposal?.incident_id ?? null,
    proposal_digest: proposal?.proposal_digest ?? null,
    stages,
    verdict: vetoedBy.length > 0 ? 'veto' : 'pass',
    vetoed_by: vetoedBy,
  };
}

/**
 * The time the policy check runs at. Before execution: now. After it: when the order was issued
 * (never later than now), since the parties judged the human approval then and the change was
 * made on it; an approval that runs out while the change executes does not undo it. The rules
 * read the time for the approval's window alone, so every other rule is checked as before.
 */
function judgedAt(input: QualityAssuranceInput, ctx: EvaluationContext): number {
  if (input.execution === undefined || typeof input.ordered_at !== 'string') return ctx.now;
  const ordered = Date.parse(input.ordered_at);
  return Number.isFinite(ordered) ? Math.min(ordered, ctx.now) : ctx.now;
}

/**
 * The pooled-risk check after execution: a round this party confirmed for the proposal that went
 * stale since (its risk view changed, or the round aged past its window) is the round the approval
 * cited, and is accepted. Quality assurance is in every approval quorum, so it checked that round
 * under the view it held when it signed; a change made on it is judged on what was approved, not
 * undone because the department scores risk differently now. A reference that does not verify
 * (`risk.aggregation_unverified`) still fails, and before execution a stale one still does.
 */
function approvedRound(
  input: QualityAssuranceInput,
  ctx: EvaluationContext,
): Pick<EvaluationContext, 'verifyAggregationRef'> {
  const verify = ctx.verifyAggregationRef;
  if (input.execution === undefined || verify === undefined) return {};
  return {
    verifyAggregationRef: (ref, proposal) => {
      const held = verify(ref, proposal);
      return held === 'stale' ? true : held;
    },
  };
}

/** The image a change deploys, when it names one. */
function deployedImage(p: ApprovalProposal): string | undefined {
  if (p.action !== 'image_rollback') return undefined;
  const to = p.parameters['to_image'];
  return typeof to === 'string' ? to : undefined;
}

/** An artifact about another image than the one deployed is a failure, not a pass. */
function subjectProblem(subject: string, image: string | undefined): string | undefined {
  if (image === undefined) return undefined;
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
  if (subject === image || (digest !== undefined && subject.endsWith(digest))) return undefined;
  return 'artifact is about another image than the one deployed';
}

function scan(
  findings: readonly Finding[],
  threshold: Severity,
  noun: string,
  subject: () => string | undefined,
): StageResult {
  if (!Array.isArray(findings)) return fail('malformed scan result');
  const mismatch = subject();
  if (mismatch) return fail(mismatch);
  const limit = SEVERITIES.indexOf(threshold);
  const unknown = findings.filter((f) => !SEVERITIES.includes(f.severity));
  if (unknown.length > 0) return fail('finding(s) with an unknown severity');
  const blocking = findings.filter((f) => SEVERITIES.indexOf(f.severity) >= limit);
  if (blocking.length > 0) return fail(`${blocking.length} ${noun} at or above ${threshold}`);
  return pass(`${findings.length} ${noun}, none at or above ${threshold}`);
}

function executionProblem(ex: ExecutionResultSummary, p: ApprovalProposal): string | undefined {
  if (ex === null || typeof ex !== 'object') return 'not an object';
  if (ex.incident_id !== p.incident_id) return 'incident_id differs from the proposal';
  if (ex.proposal_digest !== p.proposal_digest) return 'proposal_digest differs from the proposal';
  if (!(EXECUTION_STATUSES as readonly string[]).includes(ex.status)) return 'unknown status';
  if (typeof ex.executor !== 'string' || ex.executor.length === 0) return 'no executor';
  if (ex.post_checks !== undefined && !Array.isArray(ex.post_checks)) return 'post_checks is not a list';
  return undefined;
}
