/**
 * `@aaps/gateway`: incident intake, the incident workflow, the signing coordinator, evidence
 * writing and the `aaps` CLI. This file is the package's public face.
 */

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
