/**
 * `@aaps/gateway`: incident intake, the incident workflow, the signing coordinator, evidence
 * writing and the `aaps` CLI. This file is the package's public face.
 */

// The service: app, coordinator, store, workflow, executors, evidence writer, config.
export {
  API_VERSION,
  createGateway,
  createGatewayApp,
  type Gateway,
  type GatewayAppConfig,
  type GatewayDeps,
  openApiDocument,
  ROUTE_DOCS,
} from './app.js';
export {
  EXECUTORS,
  type ExecutorName,
  GATEWAY_DEFAULTS,
  type GatewayConfig,
  parseGatewayConfig,
  SETTINGS,
} from './config.js';
export type {
  AgentStepInput,
  Coordinator,
  KeyRefreshResult,
  KeyRepairResult,
  KeysInfo,
  Misbehaviour,
  PartyKeyInfo,
  PartyRefusal,
  ThresholdResult,
} from './coordinator.js';
export { createHttpCoordinator, runDkg } from './coordinator-http.js';
export {
  DEFAULT_CIPHERSUITE,
  LocalCoordinator,
  type LocalCoordinatorOptions,
  type LocalKeyMaterial,
} from './coordinator-local.js';
export {
  createEvidenceWriter,
  type EvidenceWriter,
  type EvidenceWriterOptions,
  type SealedEvidence,
} from './evidence-writer.js';
export { createDryRunExecutor } from './executor/dry-run.js';
export { commitMessage, createGitopsExecutor, type GitopsOptions, manifestPath } from './executor/gitops.js';
export { checkExecutionOrder, executeOrder, type TrustedGroupKey } from './executor/maintenance.js';
export { applyFieldOps, type ChangePlan, planChange } from './executor/plan.js';
export type {
  AppliedChange,
  ExecutionOrderPayload,
  Executor,
  PostCheck,
  RollbackOutcome,
} from './executor/types.js';
export { type Caller, SCOPES, type Scope } from './http-env.js';
// Intake: native payloads to unsigned IncidentSignal envelopes (pure).
export {
  AlertmanagerWebhookSchema,
  alertmanagerDedupKey,
  intakeAlertmanager,
} from './intake/alertmanager.js';
export { ArgoCDWebhookSchema, intakeArgoCD } from './intake/argocd.js';
export {
  DEFAULT_CLUSTER,
  DEFAULT_CONSTRAINTS_REF,
  GATEWAY_AGENT,
  MONITORING_AGENT,
} from './intake/build-envelope.js';
export {
  type Classification,
  type ClassifyInput,
  classifySignal,
  severityFromLabel,
} from './intake/classify.js';
export { IncidentSignalEnvelopeSchema, intakeEnvelope } from './intake/envelope.js';
export {
  CheckRunEventSchema,
  GITHUB_EVENTS,
  type GithubIntakeContext,
  GithubWebhookSchema,
  intakeGithub,
  WorkflowRunEventSchema,
} from './intake/github.js';
export {
  GITHUB_SIGNATURE_CHECK,
  signGithubPayload,
  verifyGithubSignature,
} from './intake/github-signature.js';
export { intakeKubernetes, KubernetesWebhookSchema } from './intake/kubernetes.js';
export { INTAKE_ADAPTERS, INTAKE_BODY_SCHEMAS } from './intake/registry.js';
export {
  IGNORE_REASONS,
  type IgnoredSignal,
  type IgnoreReason,
  INTAKE_SOURCES,
  type IncidentType,
  type IntakeAdapter,
  type IntakeContext,
  type IntakeItem,
  type IntakeResult,
  type IntakeSource,
  type OpenIncident,
  type ResolveIncident,
  type Severity,
} from './intake/types.js';
export {
  createIntakeService,
  DEFAULT_RECURRENCE_WINDOW_MS,
  type IntakeAnswer,
  type IntakeOutcome,
  type IntakeService,
} from './intake-service.js';
export { type RefreshOutcome, refreshAcrossParties } from './key-refresh.js';
export { GatewayMetrics } from './metrics.js';
export { createTokenAuth, requireScope, type TokenGrant } from './middleware/auth.js';
export { bodyLimit, DEFAULT_BODY_LIMIT, jsonBody } from './middleware/body-limit.js';
export { createErrorHandler, statusOf } from './middleware/errors.js';
export { requestId } from './middleware/request-id.js';
export { buildOpenApi, type RouteDoc } from './openapi.js';
// Schemas: one definition validates bodies and emits OpenAPI 3.1 components.
export {
  type CheckResult,
  check as checkBody,
  type Issue,
  issuesToError,
  parse as parseBody,
} from './schema/check.js';
export type { Infer, Schema } from './schema/define.js';
export * as s from './schema/define.js';
export { type JsonSchema, schemaRef, toJsonSchema, toOpenApiComponents } from './schema/emit.js';
export { type GatewayStore, type ListOptions, openGatewayStore } from './store.js';
export {
  type Principal,
  type TrustedKeys,
  verifierRoster,
  verifyHumanApproval,
  verifyRosterEnvelope,
} from './trust.js';
export { createIncidentEvents, type IncidentEvents } from './workflow/events.js';
// Workflow: the incident state machine (pure).
export {
  allowedEvents,
  canTransition,
  INCIDENT_EVENTS,
  INCIDENT_STATES,
  INITIAL_STATE,
  type IncidentEvent,
  type IncidentState,
  isTerminal,
  nextState,
  replayTimeline,
  type StepInput,
  startTimeline,
  step,
  TERMINAL_STATES,
  type TimelineEntry,
  TRANSITIONS,
  transition,
} from './workflow/machine.js';
export { type IncidentRecord, incidentView } from './workflow/record.js';
export { type RunnerDeps, WorkflowRunner } from './workflow/runner.js';
export { lastPayload, roleStepRequest, stepEnvelope, triaged } from './workflow/step-request.js';
