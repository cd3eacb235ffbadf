/**
 * `@aaps/agents`: the agent roles, their policies as data, the pure policy evaluation a party runs
 * before it signs, and each role's workflow step. The party node (HTTP app, store, config) builds
 * on these.
 */

export {
  type AggregationOutcome,
  type AggregationRunOptions,
  aggregationTimeoutMs,
  runAggregationOverHttp,
} from './aggregate.js';
export {
  type AggregationInputs,
  type AggregationInputValue,
  type AggregationValue,
  type SignedInputOptions,
  sealSignedInput,
} from './aggregate-input.js';
export {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupFile,
  type BackupHeader,
  backupFileToJson,
  ciphertextCommitment,
  headerBytes,
  MAX_BACKUP_SHARES,
  parseBackupFile,
  shareDigest,
} from './backup/backup-file.js';
export {
  type BackupInput,
  type RestoredBackup,
  type RestoreOptions,
  restoreBackup,
} from './backup/restore.js';
export { backupFileName, checkSigningShare, type SplitBackupOptions, splitBackup } from './backup/split.js';
export {
  CALL_HEADER,
  type CallSigner,
  callHeaders,
  callKey,
  callSigner,
  checkCall,
  signCall,
} from './call-auth.js';
export { type AuditIo, runPartyAudit } from './cli/party-audit.js';
export { type CliIo, runPartyBackup, runPartyRestore } from './cli/party-backup.js';
export { type CallOptions, PartyClient, type PartyClientOptions, RPC_PATHS } from './client.js';
export {
  type ClusterLayout,
  DEFAULT_PARTIES,
  freePort,
  freePorts,
  type LayoutOptions,
  layoutCluster,
  PARTY_MAIN,
  PARTY_MALLOC_ARENA_MAX,
  PARTY_NODE_ARGS,
  type PartyProcess,
  type PartySpec,
  portTaken,
  ROLE_NAMED_PARTIES,
  retryTakenPort,
  START_ATTEMPTS,
  spawnParty,
  startCluster,
  startParties,
} from './cluster.js';
export { type CoalescedLog, coalescedLog } from './coalesced-log.js';
// ---- the party node (process, store, protocol client) ----
export { PARTY_DEFAULTS, type PartyConfig, parsePartyArgs, resolvePartyConfig } from './config.js';
export {
  type DkgResult,
  finishKeyCommits,
  httpSigningTransport,
  partyIdsOf,
  runDkgOverHttp,
  runRefreshOverHttp,
  runRepairOverHttp,
  type SealedItem,
  type SignSubject,
} from './coordinate.js';
export { type FlagArg, missingValue, splitFlag } from './flag-arg.js';
export {
  BodyBudget,
  type BodyPace,
  type BodyRead,
  type BodyReadFailure,
  bodiesBusyError,
  bodyReadError,
  DEFAULT_BODY_PACE,
  readBodyCapped,
} from './http-body.js';
export {
  type ConnectionLimits,
  connectionLimitsFor,
  defaultConnectionLimits,
  HEADERS_TIMEOUT_MS,
  limitConnections,
  openFileLimit,
  serverTimeoutOptions,
} from './http-connections.js';
export { type ErrorBody, errorBody, errorStatus } from './http-errors.js';
export {
  createHttpServer,
  type FetchHandler,
  type HttpServerOptions,
  type PreRouteRefusal,
} from './http-server.js';
export { publicPackageDigest, publicPackageDigestOfJson } from './key-digest.js';
export { createLogger, type LogFields, type Logger, type LogLevel, memoryLogger } from './logger.js';
export {
  type MediaType,
  type MediaTypeProblem,
  parseMediaType,
  splitOutsideQuotes,
  unsupportedMediaType,
} from './media-type.js';
export { Counter, Gauge, Histogram, PROMETHEUS_TEXT_MEDIA_TYPE, Registry } from './metrics.js';
export { createPartyApp, type PartyApp } from './party/app.js';
export type { PartyDeps } from './party/context.js';
export {
  type ConfirmedAggregation,
  POOLED_RISK_CIRCUIT,
  PooledRiskLedger,
  parseRiskSubject,
  type RiskSubject,
  riskViewDigest,
} from './party/pooled-risk.js';
export {
  aggregationBodyAllowance,
  type CircuitCatalog,
  type CircuitDir,
  circuitBodyBytes,
  readCircuitCatalog,
  readPartyCircuits,
  SHIPPED_CIRCUITS_DIR,
} from './party/routes/aggregation.js';
export {
  humanApprovalVerifier,
  type RefusalFacts,
  refusalFactsOf,
  verifierRoster,
} from './party/routes/sign.js';
export { createUnsealHandler, type UnsealAnswer, type UnsealDeps } from './party/routes/unseal.js';
export {
  type InputStatement,
  inputStatementBytes,
  SIGNED_INPUT_TYPE,
  type SignedInput,
  signInputStatement,
} from './party/signed-input.js';
export {
  createRequestRecordChecker,
  type GroupTrust,
  type RequestRecordCheck,
  type RequestRecordChecker,
  type RequestRecordOptions,
} from './party/unseal-record.js';
export { type ApprovalWindowRules, approvalWindowIssues } from './policy/approval-window.js';
export {
  type ApprovalBacking,
  BACKING_RULE,
  type BackingCheck,
  type BackingSigner,
  backingFromTranscript,
  checkApprovalBacking,
  signBacking,
} from './policy/backing.js';
export {
  type CheckpointDecision,
  type CheckpointProof,
  type CheckpointRefusal,
  type CheckpointRefusalRule,
  decideCheckpoint,
  type ProposedCheckpoint,
  type WitnessedCheckpoint,
} from './policy/checkpoint-rule.js';
export { DEFAULT_POLICIES, defaultPolicy } from './policy/defaults.js';
export { type EvaluateContext, evaluateProposal, toPolicyRefusal } from './policy/evaluate.js';
export { createHumanApprovalVerifier, verifyApproverSignature } from './policy/human-approval.js';
export {
  type ActionParameters,
  type ConfigReloadParameters,
  type HumanActionParameters,
  type ImageRollbackParameters,
  type PodRestartParameters,
  parseActionParameters,
  type QuotaAdjustParameters,
  type QuotaChange,
  type SourceOfTruth,
} from './policy/parameters.js';
export {
  type AggregationRef,
  APPROVAL_DOMAIN,
  type ApprovalProposal,
  buildApprovalProposal,
  computeProposalDigest,
  HUMAN_APPROVAL_DOMAIN,
  HUMAN_REJECTION_DOMAIN,
  type HumanApproval,
  type HumanRejection,
  humanApprovalSigningBytes,
  humanRejectionSigningBytes,
  PROPOSAL_DIGEST_DOMAIN,
  type ProposalCore,
  type ProposalRisk,
  parseApprovalProposal,
  parseHumanApproval,
  parseHumanRejection,
  proposalSigningBytes,
} from './policy/proposal.js';
export { formatQuantity, parseQuantity } from './policy/quantity.js';
export type { JsonValue } from './policy/reader.js';
export {
  formatResourceUri,
  isEvidenceRef,
  parseResourceUri,
  type ResourceRef,
} from './policy/resource-uri.js';
export {
  combineRiskScores,
  computeRiskScore,
  departmentRiskScore,
  ENVIRONMENTS,
  type Environment,
  pooledRiskValue,
  RISK_METHOD,
  type RiskFactors,
  type RiskTerms,
  type RiskView,
  riskTerms,
} from './policy/risk.js';
export {
  ACTION_SPECS,
  ACTIONS,
  type ActionName,
  type ActionSpec,
  AGENT_ROLES,
  type AgentRole,
  AUTO_ACTIONS,
  CONSTRAINT_KINDS,
  HUMAN_ACTIONS,
  isActionName,
  isAgentRole,
  isPartyRole,
  PARTY_ROLES,
  type PartyRole,
  RESOURCE_KINDS,
  type ResourceKind,
  ROLE_CONSTRAINTS,
  ROLE_PERMISSIONS,
  type RoleConstraint,
  type RolePermissions,
} from './policy/roles.js';
export {
  type Approve,
  type CheckedProposal,
  type CheckOutcome,
  checkProposal,
  type EvaluationContext,
  type EvaluationResult,
  type RefusalRule,
  type Refuse,
} from './policy/rules.js';
export {
  type AggregationRules,
  type InputSigner,
  isInputSignerId,
  isNamespaceAllowed,
  MIN_UNSEAL_REASON,
  POLICY_SCHEMA_VERSION,
  type Policy,
  type PolicyBounds,
  parsePolicy,
  SEVERITIES,
  type Severity,
  type UnsealRules,
  VERIFICATION_STAGES,
  type VerificationStageName,
} from './policy/schema.js';
export {
  ROLE_AGENT_NAMES,
  ROLE_OUTPUT_TYPES,
  type RoleStepRequest,
  type RoleStepResult,
  runRoleStep,
} from './roles/registry.js';
export {
  approverKey,
  frostIdentifier,
  isRosterId,
  parseRoster,
  partyById,
  partyByIdentifier,
  principalKey,
  ROSTER_ID,
  type Roster,
  type RosterParty,
  type RosterPrincipal,
  rosterDigest,
  smallestMajority,
  vetoHolders,
} from './roster.js';
export {
  BATCHABLE_KINDS,
  type BatchableKind,
  type BatchCall,
  type BatchResult,
  isBatchable,
  MAX_BATCH_CALLS,
  makeErrorAnswer,
  makeRequest,
  makeResponse,
  RPC_KINDS,
  type RpcContext,
  type RpcKind,
  type RpcRequestPayload,
  type RpcResponsePayload,
} from './rpc.js';
export { type AuditInput, type AuditViolation, type EvidenceSummary, runAuditStep } from './steps/audit.js';
export { maybeSameImage, normaliseRepository, splitImageRef } from './steps/image-ref.js';
export {
  checkExecutionOrder,
  type ExecutionCheck,
  type ExecutionContext,
  type ExecutionOrder,
  type ExecutionPlan,
  type ExecutionRefusalRule,
  type ExecutionStep,
  planExecution,
} from './steps/maintenance.js';
export { objectLabels } from './steps/metric-labels.js';
export {
  INCIDENT_TYPES,
  type IncidentFacts,
  type IncidentSubtype,
  type IncidentType,
  type MonitoringInput,
  runMonitoringStep,
  type Triage,
  type TriagedSignal,
} from './steps/monitoring.js';
export {
  describeSetAside,
  isNamespaceName,
  type NamespaceSetAside,
  type NamespaceSetAsideWhy,
  readNamespaceSetAside,
} from './steps/namespace.js';
export {
  type DeploymentRecord,
  type Escalation,
  type FixProposal,
  type FixProposalSet,
  type ProblemSolverInput,
  type ProblemSolverOutput,
  type RCAReport,
  runProblemSolverStep,
} from './steps/problem-solver.js';
export {
  EXECUTION_STATUSES,
  type ExecutionResultSummary,
  type ExecutionStatus,
  type QualityAssuranceInput,
  runVerification,
  type StageStatus,
  type VerificationArtifacts,
  type VerificationReport,
  type VerificationStage,
} from './steps/quality-assurance.js';
export {
  INTAKE_CLASSIFIER,
  matchSignalRules,
  type RuleMatch,
  SIGNAL_RULES,
  type SignalRule,
  type SignalText,
} from './steps/signal-rules.js';
export {
  isConfigSyntaxError,
  isImagePullFailure,
  isLimitViolation,
  isQuotaExceeded,
  isRbacForbidden,
  isTransientPullFailure,
  type LimitRangeFacts,
  type MissingConfigFacts,
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseMissingEnvVar,
  parseQuotaExceeded,
  parseRbacForbidden,
  parseSignatureDenial,
  type QuotaFacts,
  type RbacFacts,
  type SignatureDenialFacts,
} from './steps/signal-text.js';
export {
  type ApprovalDecisionPayload,
  runStrategyStep,
  type StrategyDecision,
  type StrategyInput,
  strategyRiskFactors,
  strategyRiskSubject,
} from './steps/strategy.js';
export { inferDeployment } from './steps/workload-name.js';
export {
  createFileDurably,
  loadOrCreateDataKey,
  loadOrCreateIdentityKey,
  readJsonFile,
  syncDirectory,
  writeFileDurably,
  writeJsonFile,
} from './store/files.js';
export { claimStoreFormat, type FormatDatabase, type StoreFormat } from './store/format-version.js';
export { type AuditEntry, PARTY_STORE_FORMAT, PartyStore, type StoredKey } from './store/level.js';
export {
  AAPS_UP_PID_FILE,
  PARTY_PID_FILE,
  pidFileHolder,
  releasePidFile,
  writePidFile,
} from './store/pid-file.js';
export { partyVersion, readPackageVersion } from './version.js';
