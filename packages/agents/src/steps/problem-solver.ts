/**
 * Problem solver: a root-cause report that cites the evidence it used, and ranked fix proposals.
 *
 * - ConfigMap/Secret: re-render from its source of truth (GitOps path or last known-good version,
 *   supplied by the caller) and reload, restarting the workloads that read it. When the signal is
 *   an Argo CD sync that failed in that same Git repository, the repository's head is the source
 *   that failed: the re-render is pinned to the last revision Argo CD deployed successfully, or,
 *   with none, goes to a person (`source_failing`).
 * - Image: set the failing container (the one the signal names, or the one whose history runs the
 *   failing image's repository) back to the last digest of that repository known good in the
 *   deployment history (never one that may be the failing image, compared by digest:
 *   rollback-target.ts); when the container is not certain or has no such line, roll the workload
 *   back to its previous revision as `kubectl rollout undo` does, and say why. A workload the
 *   solver guessed from the pods a signal lists is never rolled back without a person unless a
 *   deployment-history line of that workload running the failing container's repository confirms
 *   it (then only that line is set): the pod may belong to a Job or another owner. A Deployment
 *   the intake read from a pod-template hash is taken as named (the RCA says so). A workload whose own update an Argo CD sync could not apply (admission refused
 *   it) is not rolled back at all: it still runs the revision from before the sync
 *   (`not_applied`, not-applied.ts).
 * - A pull failure the registry or the network caused (`pull_transient`: 429, a timeout) is not
 *   rolled back: kubelet retries it, and the image is not shown to be bad (`transient_pull`).
 *   Nor is one whose credentials the registry refused (`pull_credentials`: `no basic auth
 *   credentials`, `401 Unauthorized`): the previous image needs the same ones (`registry_credentials`).
 *   Nor one the node's full disk failed (`pull_node_disk`: `no space left on device`, `node_disk_full`).
 *   A denied pull (`pull_denied`) and one that failed on a TLS certificate (`pull_tls`: the
 *   registry's did not verify, `x509: ...`, or the registry refused the node's, `remote error: tls:
 *   bad certificate`) are decided on the deployment history, by repository and by registry host
 *   (with a registry mirror, the mirror's host the message names as well): rolled back (previous
 *   revision) only when the workload never pulled from it and its previous revision does not
 *   either, a person otherwise.
 *   Nor one whose signal does not say why the pull failed (`pull_unexplained`: an alert's reason
 *   label, kubelet's back-off): a person reads the pull's error first (`pull_cause_unknown`).
 * - A policy engine's report on an existing object (Kyverno's `PolicyViolation`) blocked nothing
 *   and reports no failure: a person reads it (`policy_report`), nothing is proposed.
 * - Quota: raise the hard limit to what the failed request needs (used + requested), if that stays
 *   within the policy's factor and its absolute cap (`max_hard`); otherwise ask a person for an
 *   expansion.
 * - RBAC is only ever proposed as a human-approval action: a RoleBinding in the denied namespace,
 *   or a ClusterRoleBinding for a denial `at the cluster scope`.
 *   A kubelet's denial (`system:node:<name>`) is the node authorizer's, which no binding changes:
 *   nothing is proposed (`node_authorizer`).
 * - Anything the solver cannot ground in evidence becomes an escalation to a person, not a guess:
 *   a namespaced fix for a signal whose source named no namespace (or one the intake set aside:
 *   no namespace name, a controller's own) included, and a target the parties would refuse as no
 *   resource URI.
 */
import { canonicalBytes, ValidationError } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { SourceOfTruth } from '../policy/parameters.js';
import { formatQuantity, isByteResource, parseQuantity, roundUpQuantity } from '../policy/quantity.js';
import { quotaAdjustable, quotaCap, withinQuotaFactor } from '../policy/quota-bounds.js';
import type { JsonValue } from '../policy/reader.js';
import { isPlainObject } from '../policy/reader.js';
import { formatResourceUri, parseResourceUri, tryParseResourceUri } from '../policy/resource-uri.js';
import { ACTION_SPECS, type ActionName } from '../policy/roles.js';
import type { Policy } from '../policy/schema.js';
import { sameGitRepository } from './git-repo.js';
import { maybeSameImage, registryHostOf, repositoryOf } from './image-ref.js';
import type { IncidentFacts, IncidentSubtype, IncidentType, TriagedSignal } from './monitoring.js';
import { describeSetAside, isNamespaceName } from './namespace.js';
import { policyReport, refusedSync } from './not-applied.js';
import { initContainerNamed, rollbackLines, rollbackTarget } from './rollback-target.js';
import type { PullTlsFacts } from './signal-text.js';
import { inferDeployment } from './workload-name.js';

/** One deployment of a workload, as the gateway records it. */
export interface DeploymentRecord {
  /** `deployment://ns/name` (or statefulset/daemonset). */
  workload: string;
  container: string;
  /** Image reference; a known-good candidate must be pinned by digest. */
  image: string;
  revision: number;
  deployed_at: string;
  outcome: 'healthy' | 'failed' | 'unknown';
  /** Result of the signature check at deploy time, when there was one. */
  signature_verified?: boolean;
  /** The incident whose executed fix made this deployment (the gateway's own records). */
  incident_id?: string;
}

export interface ProblemSolverInput {
  incident_id: string;
  signal: TriagedSignal;
  policy: Policy;
  /** Deployment history of the workloads involved. */
  deployment_history?: DeploymentRecord[];
  /** Source of truth per ConfigMap/Secret URI (`configmap://ns/name`). */
  sources?: Record<string, SourceOfTruth>;
}

export interface Finding {
  statement: string;
  evidence_refs: string[];
}

/** The `RCAReport` payload. */
export interface RCAReport {
  incident_id: string;
  incident_type: IncidentType;
  subtype: IncidentSubtype;
  root_cause: string;
  confidence: 'high' | 'medium' | 'low';
  findings: Finding[];
  /** Every evidence reference the report relies on. */
  evidence_refs: string[];
}

export interface FixProposal {
  /** 1 is the preferred fix. */
  rank: number;
  action: ActionName;
  target: string;
  parameters: { [key: string]: JsonValue };
  rationale: string;
  evidence_refs: string[];
  executor: 'maintenance' | 'human';
  requires_human_approval: boolean;
  /** Resources the change touches (for the risk score). */
  blast_radius: number;
}

/** Work for a person: nothing here may be approved by the parties. */
export interface Escalation {
  kind:
    | 'unclassified'
    | 'no_source_of_truth'
    | 'no_target'
    | 'quota_expansion'
    | 'limit_violation'
    /** The workload was guessed from a pod's name; a person confirms it before anything changes. */
    | 'inferred_target'
    /** The fix is namespaced and the signal's source named no namespace. */
    | 'no_namespace'
    /**
     * The source of truth is the Git repository whose Argo CD sync failed, and no other revision of
     * it is known to have deployed: re-rendering from it would apply the failure again.
     */
    | 'source_failing'
    /**
     * The workload's own update never reached the cluster (an Argo CD sync failed to apply it):
     * it runs what it ran before, so there is nothing to roll back; the change is fixed at its source.
     */
    | 'not_applied'
    /** The signal is a policy engine's report on an existing object, not a failure. */
    | 'policy_report'
    /**
     * The image could not be pulled because the registry or the network failed (rate limiting, a
     * timeout): kubelet retries, and the image is not shown to be bad, so nothing is rolled back.
     */
    | 'transient_pull'
    /**
     * The registry refused the pull's credentials, or got none (an expired token): the previous
     * image is pulled with the same credentials, so nothing is rolled back.
     */
    | 'registry_credentials'
    /**
     * The image could not be pulled because the node's disk is full (`no space left on device`):
     * the node failed, not the image, so nothing is rolled back.
     */
    | 'node_disk_full'
    /**
     * The signal says an image could not be pulled but not why (an alert's reason label, kubelet's
     * `Error: ImagePullBackOff` or back-off): a rollback would be blind, so nothing is proposed.
     */
    | 'pull_cause_unknown'
    /**
     * `pull access denied`, and the deployment history does not show the new reference to be the
     * wrong one: the workload ran that repository before (its access changed), or nothing tells a
     * misspelt repository from a missing imagePullSecret. Nothing is rolled back.
     */
    | 'pull_denied'
    /**
     * The registry's TLS certificate did not verify (`x509: ...`), and the deployment history does
     * not show the new reference to be the fault: the workload pulled from that registry host
     * healthy before (its certificate or the nodes' trust store changed), or no line tells a wrong
     * host from a changed certificate. Nothing is rolled back.
     */
    | 'pull_tls'
    /**
     * A kubelet (`system:node:<name>`) was refused by the node authorizer, which RBAC does not
     * configure: no RoleBinding is proposed.
     */
    | 'node_authorizer';
  detail: string;
}

/** The `FixProposal` payload: the ranked proposals for one RCA. */
export interface FixProposalSet {
  incident_id: string;
  /** SHA-256 hex of the RCA report's canonical JSON. */
  rca_digest: string;
  proposals: FixProposal[];
  escalations: Escalation[];
}

export interface ProblemSolverOutput {
  rca: RCAReport;
  fix: FixProposalSet;
}

export function runProblemSolverStep(input: ProblemSolverInput): ProblemSolverOutput {
  const { signal } = input;
  if (!isPlainObject(signal) || !isPlainObject(signal.triage)) {
    throw new ValidationError('INVALID_ARGUMENT', 'signal: expected the monitoring agent output', ['signal']);
  }
  const t = signal.triage;
  const base = [`incident://${input.incident_id}/signal`, ...signal.evidence_refs];
  const ctx: Ctx = { input, facts: t.facts, evidence: base, findings: [], proposals: [], escalations: [] };

  let rootCause: string;
  let confidence: RCAReport['confidence'] = 'high';
  const report = policyReport(signal.metadata);
  if (report !== undefined) {
    rootCause = reportOnly(ctx, report);
  } else {
    switch (t.incident_type) {
      case 'config_validation_failed':
        rootCause = solveConfig(ctx, t.subtype);
        break;
      case 'image_signature_failed':
        rootCause = solveImage(ctx, t.subtype);
        break;
      case 'resource_quota_exceeded':
        rootCause = solveQuota(ctx, t.subtype);
        break;
      default:
        rootCause = 'the signal matches no known incident type';
        confidence = 'low';
        ctx.escalations.push({ kind: 'unclassified', detail: `triage: ${t.subtype}; a person must look` });
    }
  }
  // What failed is not known: the RCA says so rather than sound sure of a cause it names none of.
  if (t.subtype === 'pull_unexplained') confidence = 'low';
  if (ctx.proposals.length === 0 && confidence === 'high') confidence = 'medium';

  const rca: RCAReport = {
    incident_id: input.incident_id,
    incident_type: t.incident_type,
    subtype: t.subtype,
    root_cause: rootCause,
    confidence,
    findings: ctx.findings,
    evidence_refs: [...new Set(ctx.findings.flatMap((f) => f.evidence_refs))].sort(),
  };
  const proposals = ctx.proposals.map((p, i) => ({ ...p, rank: i + 1 }));
  return {
    rca,
    fix: {
      incident_id: input.incident_id,
      rca_digest: bytesToHex(sha256(canonicalBytes(rca))),
      proposals,
      escalations: ctx.escalations,
    },
  };
}

interface Ctx {
  input: ProblemSolverInput;
  facts: IncidentFacts;
  evidence: string[];
  findings: Finding[];
  proposals: Omit<FixProposal, 'rank'>[];
  escalations: Escalation[];
}

function find(ctx: Ctx, statement: string, extra: string[] = []): void {
  ctx.findings.push({ statement, evidence_refs: [...new Set([...ctx.evidence, ...extra])].sort() });
}

function propose(
  ctx: Ctx,
  action: ActionName,
  target: string,
  parameters: { [key: string]: JsonValue },
  rationale: string,
  blast: number,
  extraEvidence: string[] = [],
): void {
  // A target the parties cannot parse would only have the proposal refused and the incident end
  // `rejected`, with nobody asked: a person is asked instead, and told why.
  const bad = invalidTarget(target);
  if (bad !== undefined) {
    ctx.escalations.push({ kind: 'no_target', detail: `the fix would target ${bad}; a person decides` });
    return;
  }
  ctx.proposals.push({
    action,
    target,
    parameters,
    rationale,
    evidence_refs: [...new Set([...ctx.evidence, ...extraEvidence])].sort(),
    executor: ACTION_SPECS[action].executor,
    requires_human_approval: ctx.input.policy.require_human_approval.includes(action),
    blast_radius: Math.max(1, blast),
  });
}

/** Why `target` is no resource URI the parties accept, or `undefined` if it is one. */
function invalidTarget(target: string): string | undefined {
  try {
    parseResourceUri(target);
    return undefined;
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^target: /, '') : 'an invalid resource URI';
    return `${JSON.stringify(target.slice(0, 200))}, which is not a resource URI the parties accept (${why})`;
  }
}

/**
 * Workloads in `namespace` the incident names, or, if it names none, the Deployments its pods'
 * names show (the pod-template-hash rule the intake uses): `inferred` then says they are a guess.
 */
function workloadsOf(
  facts: IncidentFacts,
  namespace: string | undefined,
): { uris: string[]; inferred: boolean } {
  const inNs = (uri: string) => {
    const ns = tryParseResourceUri(uri)?.namespace;
    return ns !== undefined && (namespace === undefined || ns === namespace);
  };
  const named = facts.workloads.filter(inNs);
  if (named.length > 0) return { uris: named, inferred: false };
  const inferred = facts.pods.filter(inNs).flatMap((p) => {
    const ref = tryParseResourceUri(p)!;
    const deployment = inferDeployment('Pod', ref.name);
    return deployment === undefined ? [] : [`deployment://${ref.namespace}/${deployment}`];
  });
  return { uris: [...new Set(inferred)].sort(), inferred: inferred.length > 0 };
}

/** For a fix that needs a namespace the source never named: a person, not `default`. */
function noNamespace(ctx: Ctx, what: string): void {
  const aside = ctx.facts.namespace_set_aside;
  ctx.escalations.push({
    kind: 'no_namespace',
    detail:
      aside === undefined
        ? `the signal's source named no namespace; a person says where ${what} is`
        : `${describeSetAside(aside)}, so it is not taken as where the fix goes; a person says where ${what} is`,
  });
}

function solveConfig(ctx: Ctx, subtype: IncidentSubtype): string {
  const cfg = ctx.facts.config;
  if (!cfg) {
    find(ctx, `configuration error (${subtype}) without a named ConfigMap or Secret`);
    ctx.escalations.push({
      kind: 'no_target',
      detail: 'the signal names no ConfigMap or Secret to re-render',
    });
    return 'a ConfigMap or Secret is invalid, but the signal does not say which';
  }
  const label = cfg.kind === 'secret' ? 'Secret' : 'ConfigMap';
  if (cfg.namespace === undefined) {
    find(ctx, `${label} ${cfg.name} (${subtype}), in a namespace the signal does not name`);
    noNamespace(ctx, `${label} ${cfg.name}`);
    return `${label} ${cfg.name} is missing or invalid; the signal does not say in which namespace`;
  }
  const target = formatResourceUri({ kind: cfg.kind, namespace: cfg.namespace, name: cfg.name });
  const cause = cfg.key
    ? `key ${cfg.key} is missing from ${label} ${cfg.namespace}/${cfg.name}`
    : subtype === 'yaml_syntax'
      ? `${label} ${cfg.namespace}/${cfg.name} does not parse`
      : `${label} ${cfg.namespace}/${cfg.name} is missing or invalid`;
  find(ctx, cause, [target]);
  const given = ctx.input.sources?.[target];
  if (!given) {
    ctx.escalations.push({
      kind: 'no_source_of_truth',
      detail: `no GitOps path or known-good version for ${target}`,
    });
    return `${cause}; no source of truth is known to re-render it from`;
  }
  const source = awayFromFailedSync(ctx, given, target);
  if (source === undefined) {
    return `${cause}; its source of truth is the Git repository whose Argo CD sync failed`;
  }
  const sourceRef =
    source.kind === 'gitops'
      ? `git://${source.repo}/${source.path}${source.revision ? `@${source.revision}` : ''}`
      : `${cfg.kind}-version://${cfg.namespace}/${cfg.name}@${source.version}`;
  const pinned = source !== given && source.kind === 'gitops' ? source.revision : undefined;
  find(
    ctx,
    source.kind === 'gitops'
      ? `source of truth: ${source.repo} ${source.path}` +
          (pinned === undefined
            ? ''
            : ` at ${pinned}, the last revision Argo CD deployed successfully (its sync of ${ctx.facts.argocd_sync?.revision} failed)`)
      : `source of truth: version ${source.version}`,
    [sourceRef],
  );
  const { uris, inferred } = workloadsOf(ctx.facts, cfg.namespace);
  if (inferred) find(ctx, `workload(s) to restart inferred from pod names: ${uris.join(', ')}`);
  const action: ActionName = cfg.kind === 'secret' ? 'secret_template_render' : 'configmap_reload';
  propose(
    ctx,
    action,
    target,
    { source: { ...source }, rollout_restart: uris },
    `re-render ${label} from its ${
      source.kind !== 'gitops'
        ? 'last known-good version'
        : pinned === undefined
          ? 'GitOps source'
          : `GitOps source at ${pinned}, the last revision Argo CD deployed successfully,`
    } and reload` + (uris.length > 0 ? `, restarting ${uris.length} workload(s)` : ''),
    1 + uris.length,
    [sourceRef],
  );
  return cause;
}

/**
 * The source to re-render from, given the failed Argo CD sync the signal reports: `source` itself
 * unless it is that sync's Git repository read at its head (or at the revision that failed). Then
 * the same source pinned to the newest revision Argo CD deployed successfully, or, with none other
 * than the failing one, `undefined` after escalating `source_failing`: a person fixes the source.
 */
function awayFromFailedSync(ctx: Ctx, source: SourceOfTruth, target: string): SourceOfTruth | undefined {
  const sync = ctx.facts.argocd_sync;
  if (sync === undefined || source.kind !== 'gitops' || !sameGitRepository(source.repo, sync.repo)) {
    return source;
  }
  const failed = sync.revision.toLowerCase();
  // A source already pinned elsewhere in that repository is the caller's known-good version.
  if (source.revision !== undefined && source.revision.toLowerCase() !== failed) return source;
  const good = sync.last_deployed;
  const failedRef = `git://${sync.repo}${sync.path === undefined ? '' : `/${sync.path}`}@${sync.revision}`;
  find(
    ctx,
    `Argo CD's sync of ${sync.repo} failed at ${sync.revision}: that repository is the source of truth for ${target}`,
    [failedRef],
  );
  if (good !== undefined && good.revision !== failed) return { ...source, revision: good.revision };
  ctx.escalations.push({
    kind: 'source_failing',
    detail:
      `${target} is rendered from ${source.repo}, whose Argo CD sync failed at ${sync.revision}: ` +
      're-rendering it from there would apply the failing manifest again, and ' +
      (good === undefined
        ? "the application's history names no other revision Argo CD deployed successfully"
        : `the newest revision Argo CD deployed successfully is ${sync.revision} itself`) +
      '; a person fixes the source (or names a known-good revision)',
  });
  return undefined;
}

/** A policy report ({@link policyReport}): a person reads it; nothing is changed for it. */
function reportOnly(ctx: Ctx, report: { reason: string; reporter?: string }): string {
  const by = report.reporter === undefined ? '' : ` by ${report.reporter}`;
  find(
    ctx,
    `the signal is a policy report (${report.reason}${by}): it blocked nothing and reports no failure`,
  );
  ctx.escalations.push({
    kind: 'policy_report',
    detail:
      `${report.reason}${by} reports that a running object violates a policy; nothing was blocked and ` +
      'nothing failed, so nothing is rolled back: a person decides whether it needs a change',
  });
  return `a policy report (${report.reason}), not a failure`;
}

/**
 * Pull failures whose message shows the image is not what failed: nothing is rolled back, and a
 * person is told why.
 * - `pull_transient`: the registry or the network failed. Rolling back would not make the registry
 *   answer (the previous image is pulled from it too) and would undo a revision nothing shows to
 *   be bad.
 * - `pull_node_disk`: the node's disk is full; other nodes pull the image, and a rollback would undo
 *   a revision nothing shows to be bad.
 * - `pull_credentials`: the previous image is pulled with the same credentials, so a rollback
 *   would fail the same way on every node without it cached and, where cached, undo a revision
 *   nothing shows to be bad while the expired credential waits for the next pull.
 */
const PULL_NOT_THE_IMAGE: Partial<Record<IncidentSubtype, { cause: string; escalation: Escalation }>> = {
  pull_transient: {
    cause: 'the registry or the network failed, not the image',
    escalation: {
      kind: 'transient_pull',
      detail:
        'the pull failed on the registry or the network (rate limiting, a timeout, a dropped connection), ' +
        'which kubelet retries on its own back-off; the image is not shown to be bad, so nothing is rolled back: ' +
        'a person looks if it persists (registry limits, a pull-through cache, the network path)',
    },
  },
  pull_node_disk: {
    cause: "the node's disk is full",
    escalation: {
      kind: 'node_disk_full',
      detail:
        "the pulled layers could not be written: the node's disk is full (no space left on device). The node failed, " +
        "not the image, which other nodes pull: nothing is rolled back; a person frees the node's disk (kubelet's image " +
        'garbage collection thresholds, the images and logs it holds) or drains it',
    },
  },
  pull_credentials: {
    cause: "the registry refused the pull's credentials, or got none",
    escalation: {
      kind: 'registry_credentials',
      detail:
        "the registry refused the pull's credentials or was sent none (an expired or rotated registry token, " +
        'an image pull Secret with the wrong credentials, a node without its credential provider); the previous ' +
        'image is pulled with the same credentials, so nothing is rolled back: a person renews the credential ' +
        "(the workload's imagePullSecrets, the node's credential provider)",
    },
  },
};

function solveImage(ctx: Ctx, subtype: IncidentSubtype): string {
  const { facts } = ctx;
  const failing = facts.image?.ref;
  const history = (ctx.input.deployment_history ?? []).filter(isRecord);
  let { uris, inferred } = workloadsOf(facts, facts.namespace);
  if (uris.length === 0 && failing) {
    uris = [...new Set(history.filter((h) => h.image === failing).map((h) => h.workload))];
    inferred = false;
  }
  // A signal that names no image (an alert's reason label) may still name its workload: say whose.
  const image =
    failing !== undefined
      ? `image ${failing}`
      : uris.length === 1
        ? `the image of ${uris[0]}${inferred ? " (guessed from a pod's name)" : ''}`
        : 'an image the signal does not name';
  const notTheImage = PULL_NOT_THE_IMAGE[subtype];
  const cause =
    subtype === 'signature_mismatch'
      ? `${image} failed signature verification`
      : `${image} could not be pulled${notTheImage === undefined ? '' : `: ${notTheImage.cause}`}` +
        (subtype === 'pull_unexplained' ? '; the signal does not say why' : '');
  find(ctx, cause, failing ? [`image://${failing}`] : []);
  if (notTheImage !== undefined) {
    ctx.escalations.push({ ...notTheImage.escalation });
    return cause;
  }
  if (uris.length === 0 && facts.namespace === undefined && facts.namespace_set_aside !== undefined) {
    noNamespace(ctx, 'the workload running the image');
    return cause;
  }
  if (uris.length !== 1) {
    ctx.escalations.push({
      kind: 'no_target',
      detail:
        uris.length === 0 ? 'no workload identified for the image' : 'more than one workload; a person picks',
    });
    return cause;
  }
  const workload = uris[0]!;
  const refused = refusedSync(ctx.input.signal.metadata);
  if (refused?.workloads.includes(workload)) {
    // The sync failed to apply the workload's own manifest: the live object is the one from before
    // it, and `rollout undo` would replace that running revision with the one before it.
    const health = refused.health === undefined ? '' : ` (Argo CD health: ${refused.health})`;
    find(
      ctx,
      `the Argo CD sync${refused.revision === undefined ? '' : ` of ${refused.revision}`} failed to apply ${workload} itself: the cluster still runs its previous revision${health}`,
    );
    ctx.escalations.push({
      kind: 'not_applied',
      detail:
        `${workload}'s update was refused when Argo CD applied it, so nothing runs ${failing ?? 'the refused image'}${health}; ` +
        'rolling it back would replace the revision that runs: a person reverts (or re-signs) the change in Git',
    });
    return cause;
  }
  // A Job's pod (a CronJob's `report-28912345-q7k2p`) can look like a Deployment's: rolling back
  // the same-named Deployment would change a workload that has nothing to do with the failure. So
  // a workload the solver itself guessed from a pod's name is rolled back only to a history line
  // that confirms it. One the intake read from the pod-template hash in a pod's name (a
  // ReplicaSet's pods, `ledger-5d8c7b9f6-qwk4r`: how kubelet's Events name every pull failure)
  // is taken as named, and the RCA says how it was read; a wrong guess of that kind names a
  // Deployment that does not exist, and the change fails (rolled back, recorded).
  if (subtype === 'pull_unexplained') {
    unexplainedPull(ctx, inferred ? `${workload} (guessed from a pod's name)` : workload);
    return cause;
  }
  const guessed = inferred;
  if (guessed) find(ctx, `workload guessed from a pod's name, not named by the signal: ${workload}`);
  else if (facts.inferred_workloads?.includes(workload) === true)
    find(ctx, `the intake read ${workload} from the pod-template hash in the object's name`);
  const { lines, skipped } = rollbackLines(history, workload);
  if (skipped > 0) {
    find(
      ctx,
      `${skipped} deployment-history line(s) of ${workload} skipped: a container name or image reference no rollback may name`,
    );
  }
  const containers = Array.isArray(facts.containers)
    ? facts.containers.filter((c): c is string => typeof c === 'string')
    : [];
  const target = rollbackTarget({ workload, failing, containers, history: lines });
  if (guessed && !target.found) {
    ctx.escalations.push({
      kind: 'inferred_target',
      detail: `${workload} is only guessed from a pod's name (its owner may be a Job, an Argo Rollout or another controller) and no deployment-history line confirms it (${target.why}); a person confirms it before a rollback`,
    });
    return cause;
  }
  const decided =
    subtype === 'pull_denied'
      ? DENIED_BY_REPOSITORY
      : subtype === 'pull_tls'
        ? tlsByHost(facts.pull_tls)
        : undefined;
  if (decided !== undefined) {
    decideOnHistory(ctx, decided, workload, failing, containers, lines);
    return cause;
  }
  if (target.found) {
    const good = target.record;
    const ref = historyRef(workload, good);
    find(ctx, `the failing container is ${target.container}: ${target.how}`);
    find(ctx, `revision ${good.revision} ran ${good.image} healthy in container ${target.container}`, [ref]);
    if (guessed) {
      find(
        ctx,
        `the deployment history confirms ${workload}: it runs container ${target.container} from that repository`,
        [ref],
      );
    }
    const params: { [key: string]: JsonValue } = {
      basis: 'deployment_history',
      container: target.container,
      to_image: good.image,
    };
    if (initContainerNamed(ctx.input.signal.metadata, target.container)) params['init_container'] = true;
    if (failing) params['from_image'] = failing;
    propose(
      ctx,
      'image_rollback',
      workload,
      params,
      `roll container ${target.container} back to ${good.image}, the last digest known good`,
      1,
      [ref],
    );
  } else {
    find(ctx, `${target.why}: rolling back to the previous revision instead`);
    const params: { [key: string]: JsonValue } = { basis: 'previous_revision', to_revision: 'previous' };
    if (failing) params['from_image'] = failing;
    propose(
      ctx,
      'image_rollback',
      workload,
      params,
      `${target.why}: roll back to the previous revision, as \`kubectl rollout undo\` does`,
      1,
    );
  }
  return cause;
}

/**
 * `pull_unexplained`: the signal says only that the pull failed (an alert's reason label,
 * kubelet's `Error: ImagePullBackOff` or back-off). A missing tag (a rollback mends it), a
 * registry outage (kubelet's own retry does), refused credentials and a misspelt repository (a
 * person's fix) look alike without the registry's answer, so a rollback would be a guess. kubelet's
 * `Failed to pull image` Event, which carries the answer, correlates with this incident (one
 * object, reason `Failed`, one type): when it comes it joins this incident, for the person.
 */
function unexplainedPull(ctx: Ctx, workload: string): void {
  find(
    ctx,
    `the signal says the pull failed but carries no registry or runtime error: what failed (the reference, the registry, the credentials) is not known`,
  );
  ctx.escalations.push({
    kind: 'pull_cause_unknown',
    detail:
      `${workload}'s image could not be pulled, and the signal carries no registry or runtime error (an alert's ` +
      "reason label, kubelet's back-off or `Error: ImagePullBackOff`); a missing tag, a registry outage, refused " +
      'credentials and a misspelt repository each need a different fix, so nothing is rolled back blind: a person ' +
      "reads the pull's error (`kubectl describe pod`; kubelet's `Failed to pull image` Event joins this incident " +
      'when it arrives) and fixes or rolls back accordingly',
  });
}

/**
 * A pull failure that a rollback mends only when the failing reference names something the
 * workload never pulled: `pull_denied` compares repositories, `pull_tls` registry hosts. The
 * deployment history decides, or nothing does:
 * - a healthy line of the workload pulling the failing repository (host): it exists and was
 *   pulled, so what changed is not the reference, and an older image from it fails the same way.
 *   A person.
 * - no line of it, and the failing container ran a healthy digest-pinned image of another one: the
 *   new reference names a repository (host) the workload never ran, so it is the likely fault, and
 *   the previous revision is proposed (`kubectl rollout undo`). Not the known-good digest itself:
 *   the parties refuse a `deployment_history` rollback across repositories (`bounds.image_repository`).
 *   Unless the previous revision (the container's newest line below the failing image's, or its
 *   newest line when the failing one is not recorded) itself runs the failing repository (host),
 *   never healthy: `rollout undo` would pull it the same way. A person.
 * - neither: a person.
 */
interface HistoryBasis {
  /** The escalation for a person. */
  kind: Escalation['kind'];
  /** What of a reference is compared: its repository, or its registry host. */
  keyOf: (ref: string) => string;
  /**
   * What the failing reference is compared by, given its own key: its key, or with a registry
   * mirror the words for the mirror's host, the key the reference reached it through. Absent: the key.
   */
  describe?: (key: string) => string;
  /**
   * Keys besides the failing reference's own whose images fail alike: the registry mirror's own
   * host, given the reference's key (an image named by the mirror's host goes to it directly).
   */
  alsoFailing?: (key: string) => readonly string[];
  /** The words, given the failing reference and what it is compared by (`key`, as `describe` says it). */
  say: {
    /** The finding when revision `ran` pulled `key` healthy. */
    ranFinding: (key: string, workload: string, ran: DeploymentRecord) => string;
    /** The person's detail when revision `ran` pulled `key` healthy. */
    ran: (failing: string, key: string, workload: string, ran: DeploymentRecord) => string;
    /** The finding when the workload never pulled `key` and container `container` ran `good`. */
    neverFinding: (key: string, workload: string, container: string, good: DeploymentRecord) => string;
    /** The rollback's rationale when the workload never pulled `key`. */
    never: (key: string, workload: string, container: string, good: DeploymentRecord) => string;
    /**
     * The person's detail when the previous revision `previous` runs `key` too (never healthy), so
     * that `rollout undo` would fail alike.
     */
    previous: (failing: string, key: string, workload: string, previous: DeploymentRecord) => string;
    /** The finding when no history line decides, and the person's detail then. */
    undecided: (workload: string) => string;
    unknown: (failing: string | undefined, workload: string) => string;
  };
}

/**
 * `pull_denied`: the registry answers `pull access denied, repository does not exist or may require
 * authorization` both to a wrong reference (a misspelt or unpublished repository), which a rollback
 * mends, and to a pull without the credentials it needs (a missing or wrong imagePullSecret, a
 * grant withdrawn), which it does not. Decided by repository.
 */
const DENIED_BY_REPOSITORY: HistoryBasis = {
  kind: 'pull_denied',
  keyOf: repositoryOf,
  say: {
    ranFinding: (repository, workload, ran) =>
      `revision ${ran.revision} of ${workload} ran ${ran.image} healthy: ${repository} exists and was pulled before`,
    neverFinding: (repository, workload, container, good) =>
      `container ${container} ran ${good.image} healthy at revision ${good.revision}, and no line of ${workload} ran ${repository}: ` +
      'the new reference names a repository the workload never ran (misspelt or unpublished)',
    ran: (failing, repository, workload, ran) =>
      `the registry denied pulling ${failing} from ${repository}, which ${workload} ran healthy at revision ${ran.revision}: ` +
      'the repository exists and was pulled before, so its access changed (an imagePullSecret removed or its ' +
      'credential rotated, the repository made private or its grant withdrawn); an image of the same repository is ' +
      "denied the same way wherever it is not cached, so nothing is rolled back: a person checks the workload's " +
      "imagePullSecrets and the repository's access",
    never: (repository, workload, container, good) =>
      `the registry denies ${repository}, which ${workload} never ran, while container ${container} last ran ` +
      `${good.image} healthy: roll back to the previous revision, as \`kubectl rollout undo\` does`,
    previous: (failing, repository, workload, previous) =>
      `the registry denied pulling ${failing} from ${repository}, and revision ${previous.revision} of ${workload}, the one ` +
      `\`kubectl rollout undo\` returns to, runs ${previous.image} from that repository too (never healthy): it is ` +
      "denied the same way, so nothing is rolled back: a person checks the image reference and the workload's imagePullSecrets",
    undecided: (workload) =>
      `no deployment-history line of ${workload} tells a wrong reference from missing credentials`,
    unknown: (failing, workload) =>
      `the registry answered "pull access denied, repository does not exist or may require authorization" for ${failing ?? 'the image'}: ` +
      'a misspelt or unpublished repository and a missing or wrong imagePullSecret both get that answer, and no ' +
      `deployment-history line of ${workload} says which; a rollback mends only a wrong reference, so nothing is rolled ` +
      "back blind: a person checks the image reference and the workload's imagePullSecrets",
  },
};

/** What a person checks when a registry host's certificate does not verify. */
const TLS_CHECKS =
  "a person checks the registry's certificate (its chain up to a CA the nodes trust, its expiry, the names " +
  "it is issued for) and the nodes' trust: the CA bundle, containerd's registry hosts config " +
  "(`/etc/containerd/certs.d/<host>/hosts.toml`, its `ca`) or CRI-O's and Docker's `certs.d`, a TLS-intercepting proxy";

/** What a person checks when a registry host refused the nodes' client certificate. */
const CLIENT_CERTIFICATE_CHECKS =
  "a person checks the nodes' client certificate for the registry (present, unexpired, issued by a CA the " +
  "registry trusts): containerd's registry hosts config (`/etc/containerd/certs.d/<host>/hosts.toml`, its " +
  "`client`) or CRI-O's and Docker's `certs.d` (`.cert` and `.key`), and the CAs the registry accepts client certificates from";

/**
 * `pull_tls`: the registry's certificate did not verify, or the registry refused the nodes' client
 * certificate. A reference to a registry host the workload never pulled from (a typo, a host the
 * nodes were never set up to trust or hold no client certificate for) is mended by a rollback; a
 * host it pulled from healthy before changed its certificate (expired, re-issued by another CA),
 * or the nodes' trust store or client certificate changed, and an older image from that host
 * fails the same way. Decided by registry host.
 *
 * With a registry mirror (containerd's `hosts.toml`, CRI-O's `registries.conf`) the TLS session
 * that failed was with the mirror's host, which the message names (`pull.host`), not with the
 * reference's registry: the failure is the mirror's. An image of the same registry goes through
 * the same mirror, and one named by the mirror's host goes to it directly: both fail alike, so a
 * healthy line of either shows the path worked before (a person), and neither is a rollback's target.
 */
function tlsByHost(pull: PullTlsFacts | undefined): HistoryBasis {
  const client = pull?.certificate === 'client';
  const checks = client ? CLIENT_CERTIFICATE_CHECKS : TLS_CHECKS;
  const mirror = (host: string): string | undefined =>
    pull?.host === undefined || pull.host === host ? undefined : pull.host;
  const failed = (host: string) =>
    client
      ? `${host} refused the nodes' client certificate`
      : `the TLS certificate of ${host} did not verify`;
  const worked = client
    ? "the nodes' client certificate was accepted then"
    : "the host's certificate verified then";
  return {
    kind: 'pull_tls',
    keyOf: registryHostOf,
    describe: (host) => {
      const via = mirror(host);
      return via === undefined
        ? host
        : `${via} (the host the nodes reached for ${host}: a mirror of it, or a host it sent them to)`;
    },
    alsoFailing: (host) => {
      const via = mirror(host);
      return via === undefined ? [] : [via];
    },
    say: {
      ranFinding: (host, workload, ran) =>
        `revision ${ran.revision} of ${workload} pulled ${ran.image} through ${host} healthy: ${worked}`,
      neverFinding: (host, workload, container, good) =>
        `container ${container} ran ${good.image} healthy at revision ${good.revision}, and no line of ${workload} pulled through ${host}: ` +
        `the new reference names a registry host the workload never pulled from (misspelt, or one the nodes were never set up for)`,
      ran: (failing, host, workload, ran) =>
        `${failed(host)} when pulling ${failing}, and ${workload} pulled ${ran.image} through that host healthy at revision ${ran.revision}: ` +
        (client
          ? "the nodes' client certificate (expired, replaced, removed) or the CAs the registry accepts changed"
          : "the host's certificate (expired, re-issued, its chain) or the nodes' trust store changed") +
        ', and an older image through the same host fails the same way wherever it is not cached, ' +
        `so nothing is rolled back: ${checks}`,
      never: (host, workload, container, good) =>
        `${failed(host)}, and ${workload} never pulled through it, while container ${container} ` +
        `last ran ${good.image} healthy: roll back to the previous revision, as \`kubectl rollout undo\` does`,
      previous: (failing, host, workload, previous) =>
        `${failed(host)} when pulling ${failing}, and revision ${previous.revision} of ${workload}, the one ` +
        `\`kubectl rollout undo\` returns to, pulls ${previous.image} through that host too (never healthy): it fails ` +
        `the same way, so nothing is rolled back: ${checks}`,
      undecided: (workload) =>
        `no deployment-history line of ${workload} tells a wrong registry host from a certificate that changed`,
      unknown: (failing, workload) =>
        `${failed(pull?.host ?? 'the registry')} when pulling ${failing ?? 'the image'}: a wrong or new ` +
        'registry host the nodes are not set up for and a certificate, trust store or client certificate that changed ' +
        `(expired, re-issued, a CA removed) fail alike, and no deployment-history line of ${workload} says which; a rollback ` +
        `mends only a wrong reference, so nothing is rolled back blind: ${checks}`,
    },
  };
}

/** The evidence reference of `workload`'s deployment-history line `h`. */
function historyRef(workload: string, h: DeploymentRecord): string {
  return `deployment-history://${workload.replace('://', '/')}@${h.revision}`;
}

function decideOnHistory(
  ctx: Ctx,
  basis: HistoryBasis,
  workload: string,
  failing: string | undefined,
  containers: readonly string[],
  lines: readonly DeploymentRecord[],
): void {
  const own = failing === undefined ? undefined : basis.keyOf(failing);
  // Every key whose images fail as the failing reference does: its own, and with a registry
  // mirror the mirror's host.
  const keys = own === undefined ? [] : [own, ...(basis.alsoFailing?.(own) ?? [])];
  const key = own === undefined ? undefined : (basis.describe?.(own) ?? own);
  const newest = (list: DeploymentRecord[]) => list.sort((a, b) => b.revision - a.revision)[0];
  const healthy = lines.filter((h) => h.outcome === 'healthy');
  const ran = newest(healthy.filter((h) => keys.includes(basis.keyOf(h.image))));
  if (failing !== undefined && key !== undefined && ran !== undefined) {
    find(ctx, basis.say.ranFinding(key, workload, ran), [historyRef(workload, ran)]);
    ctx.escalations.push({ kind: basis.kind, detail: basis.say.ran(failing, key, workload, ran) });
    return;
  }
  const named = containers.length === 1 ? containers[0] : undefined;
  const inHistory = [...new Set(lines.map((h) => h.container))];
  const container = named ?? (containers.length === 0 && inHistory.length === 1 ? inHistory[0] : undefined);
  const good = newest(
    healthy.filter(
      (h) =>
        h.container === container && h.signature_verified !== false && /@sha256:[0-9a-f]{64}$/.test(h.image),
    ),
  );
  // The revision `rollout undo` returns to: the container's newest line below the newest that may
  // be the failing image (the failing revision, when recorded), else its newest line.
  const ofContainer = lines.filter((h) => h.container === container);
  const failingAt =
    failing === undefined ? undefined : newest(ofContainer.filter((h) => maybeSameImage(h.image, failing)));
  const previous = newest(
    ofContainer.filter((h) => failingAt === undefined || h.revision < failingAt.revision),
  );
  if (
    failing !== undefined &&
    key !== undefined &&
    previous !== undefined &&
    keys.includes(basis.keyOf(previous.image))
  ) {
    find(
      ctx,
      `revision ${previous.revision} of ${workload}, the one \`kubectl rollout undo\` returns to, runs ${previous.image} (outcome ${previous.outcome}), of ${key} too`,
      [historyRef(workload, previous)],
    );
    ctx.escalations.push({ kind: basis.kind, detail: basis.say.previous(failing, key, workload, previous) });
    return;
  }
  if (failing !== undefined && key !== undefined && container !== undefined && good !== undefined) {
    const cited = [historyRef(workload, good)];
    find(ctx, basis.say.neverFinding(key, workload, container, good), cited);
    propose(
      ctx,
      'image_rollback',
      workload,
      { basis: 'previous_revision', to_revision: 'previous', from_image: failing },
      basis.say.never(key, workload, container, good),
      1,
      cited,
    );
    return;
  }
  find(ctx, basis.say.undecided(workload));
  ctx.escalations.push({ kind: basis.kind, detail: basis.say.unknown(failing, workload) });
}

function solveQuota(ctx: Ctx, subtype: IncidentSubtype): string {
  const { facts } = ctx;
  if (subtype === 'rbac_denied' && facts.rbac) {
    const r = facts.rbac;
    if (r.node === true) return nodeDenial(ctx, r);
    // A cluster-scoped denial (`at the cluster scope`: nodes, namespaces, a list across all
    // namespaces) is granted only by a ClusterRoleBinding; a RoleBinding would change nothing.
    const ns = r.cluster_scoped ? undefined : (r.namespace ?? facts.namespace);
    const where = r.cluster_scoped
      ? 'at the cluster scope'
      : `in ${ns ?? 'a namespace the signal does not name'}`;
    const cause = `${r.user} may not ${r.verb} ${r.resource}${r.api_group ? `.${r.api_group}` : ''} ${where}`;
    find(ctx, cause);
    if (!r.cluster_scoped && (ns === undefined || !isNamespaceName(ns))) {
      noNamespace(ctx, 'the RoleBinding belongs');
      return cause;
    }
    const subject = /^system:serviceaccount:[^:]+:([^:]+)$/.exec(r.user)?.[1] ?? 'subject';
    const name = `aaps-${subject}-${r.verb}-${r.resource}`
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .slice(0, 63)
      .replace(/-+$/, '');
    const details: { [key: string]: JsonValue } = {
      user: r.user,
      verb: r.verb,
      resource: r.resource,
      api_group: r.api_group,
    };
    if (ns === undefined) details['scope'] = 'cluster';
    else details['namespace'] = ns;
    propose(
      ctx,
      'rbac_changes',
      ns === undefined ? `clusterrolebinding://${name}` : `rolebinding://${ns}/${name}`,
      {
        summary: `grant ${r.user} ${r.verb} on ${r.resource} ${ns === undefined ? 'cluster-wide' : `in ${ns}`}`,
        details,
      },
      'RBAC changes are only ever made with a signed human approval',
      1,
    );
    return cause;
  }
  if (subtype === 'limit_violation' && facts.limit) {
    const l = facts.limit;
    const cause = `${l.scope} ${l.resource} ${l.requested} exceeds the LimitRange maximum ${l.maximum}`;
    find(ctx, cause);
    ctx.escalations.push({
      kind: 'limit_violation',
      detail: `lower the ${l.resource} limit or raise the LimitRange`,
    });
    return cause;
  }
  const quota = facts.quota;
  if (!quota || quota.figures.length === 0) {
    find(ctx, `resource problem (${subtype}) without quota figures`);
    ctx.escalations.push({ kind: 'no_target', detail: 'no quota figures to compute an adjustment from' });
    return 'a resource limit was hit, but the signal gives no figures';
  }
  if (quota.namespace === undefined) {
    find(ctx, `quota ${quota.name} was exceeded, in a namespace the signal does not name`);
    noNamespace(ctx, `quota ${quota.name} is`);
    return `quota ${quota.name} is too small for the request`;
  }
  const target = `resourcequota://${quota.namespace}/${quota.name}`;
  const bounds = ctx.input.policy.bounds.resource_quota;
  const changes: { [key: string]: JsonValue }[] = [];
  const over: string[] = [];
  for (const f of quota.figures) {
    let used: bigint;
    let requested: bigint;
    let limited: bigint;
    try {
      used = parseQuantity(f.used, 'used');
      requested = parseQuantity(f.requested, 'requested');
      limited = parseQuantity(f.limited, 'limited');
    } catch {
      over.push(`${f.resource}: figures are not Kubernetes quantities`);
      continue;
    }
    const needed = used + requested;
    if (needed <= limited) continue;
    find(
      ctx,
      `${f.resource}: used ${f.used} + requested ${f.requested} exceeds the hard limit ${f.limited}`,
      [target],
    );
    const bytes = isByteResource(f.resource);
    const proposed = roundUpQuantity(needed, bytes);
    // The current limit is a figure the gateway reports; the cap is the policy's own.
    // The same bounds every signer checks (quota-bounds.ts).
    const cap = quotaCap(bounds, f.resource);
    if (
      !quotaAdjustable(bounds, f.resource) ||
      !withinQuotaFactor(bounds, limited, proposed) ||
      cap === undefined ||
      proposed > cap.value
    ) {
      over.push(
        `${f.resource} needs ${formatQuantity(proposed, bytes)} (hard ${f.limited}${cap === undefined ? '' : `, cap ${cap.text}`})`,
      );
      continue;
    }
    changes.push({
      resource: f.resource,
      current_hard: f.limited,
      new_hard: formatQuantity(proposed, bytes),
      used: f.used,
      requested: f.requested,
    });
  }
  const cause = `quota ${quota.namespace}/${quota.name} is too small for the request`;
  if (over.length > 0) {
    ctx.escalations.push({
      kind: 'quota_expansion',
      detail: `beyond ${bounds.max_increase_factor}x, over the policy's cap or not adjustable by policy: ${over.join('; ')}`,
    });
    return cause;
  }
  if (changes.length > 0) {
    propose(
      ctx,
      'resource_quota_adjust',
      target,
      { changes },
      `raise the hard limit(s) to used + requested, within ${bounds.max_increase_factor}x and the policy's caps`,
      1,
      [target],
    );
  }
  return cause;
}

/**
 * A kubelet's request refused by the node authorizer: it lets a node read the Secrets, ConfigMaps
 * and volumes that pods bound to it reference, and nothing else, whatever RBAC says. A RoleBinding
 * for `system:node:<name>` would change nothing the node authorizer decides and would grant one
 * node access the cluster's design withholds: nothing is proposed, a person looks.
 */
function nodeDenial(ctx: Ctx, r: NonNullable<IncidentFacts['rbac']>): string {
  const where = r.namespace === undefined ? '' : ` in ${r.namespace}`;
  const cause = `the node authorizer refused ${r.user} to ${r.verb} ${r.resource}${where}`;
  find(ctx, cause);
  ctx.escalations.push({
    kind: 'node_authorizer',
    detail:
      `${r.user} is a kubelet: the node authorizer, not RBAC, lets a node ${r.verb} ${r.resource} only when a pod bound to ` +
      'that node references it ("no relationship found between node ... and this object": the pod is not, or not yet, ' +
      "bound there, or does not reference the object). A RoleBinding would not be the fix; a person checks the pod's " +
      'spec and node binding (and NodeRestriction / the API server if it persists)',
  });
  return cause;
}

function isRecord(h: unknown): h is DeploymentRecord {
  return (
    isPlainObject(h) &&
    typeof h['workload'] === 'string' &&
    typeof h['container'] === 'string' &&
    typeof h['image'] === 'string' &&
    typeof h['revision'] === 'number' &&
    typeof h['outcome'] === 'string'
  );
}
