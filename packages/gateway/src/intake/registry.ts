/**
 * The intake adapters and their body schemas by source, for the routes and the OpenAPI document.
 */
import type { Schema } from '../schema/define.js';
import { AlertmanagerWebhookSchema, intakeAlertmanager } from './alertmanager.js';
import { ArgoCDWebhookSchema, intakeArgoCD } from './argocd.js';
import { IncidentSignalEnvelopeSchema, intakeEnvelope } from './envelope.js';
import { GithubWebhookSchema } from './github.js';
import { intakeKubernetes, KubernetesWebhookSchema } from './kubernetes.js';
import type { IntakeAdapter, IntakeSource } from './types.js';

/** The request body schema of each intake (`envelope` is `POST /v1/incidents`). */
export const INTAKE_BODY_SCHEMAS: Readonly<Record<IntakeSource, Schema<unknown>>> = Object.freeze({
  alertmanager: AlertmanagerWebhookSchema,
  argocd: ArgoCDWebhookSchema,
  github: GithubWebhookSchema,
  kubernetes: KubernetesWebhookSchema,
  envelope: IncidentSignalEnvelopeSchema,
});

/** The adapters that need only the common context (GitHub also needs its headers: `intakeGithub`). */
export const INTAKE_ADAPTERS: Readonly<Record<Exclude<IntakeSource, 'github'>, IntakeAdapter>> =
  Object.freeze({
    alertmanager: intakeAlertmanager,
    argocd: intakeArgoCD,
    kubernetes: intakeKubernetes,
    envelope: intakeEnvelope,
  });
