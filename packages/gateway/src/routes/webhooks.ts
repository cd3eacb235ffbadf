/**
 * `POST /v1/webhooks/{alertmanager,argocd,github,kubernetes}`: native payloads. GitHub is
 * authenticated by `X-Hub-Signature-256` over the raw body (503 when no secret is configured);
 * the others by a bearer token with the `submit` scope. The answer lists each incident the body
 * opened, named (a redelivery: `duplicate`) or joined (a new occurrence of an open incident:
 * `joined`), and what was ignored and why.
 */
import { AapsError } from '@aaps/mpc-core';
import type { Context } from 'hono';
import type { GatewayEnv } from '../http-env.js';
import { AlertmanagerWebhookSchema, intakeAlertmanager } from '../intake/alertmanager.js';
import { ArgoCDWebhookSchema, intakeArgoCD } from '../intake/argocd.js';
import { GITHUB_EVENT_SCHEMAS, GITHUB_HEADERS, GithubWebhookSchema, intakeGithub } from '../intake/github.js';
import { verifyGithubSignature } from '../intake/github-signature.js';
import { intakeKubernetes, KubernetesWebhookSchema } from '../intake/kubernetes.js';
import { IGNORE_REASONS, type IntakeContext, type IntakeResult } from '../intake/types.js';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import type { RouteDoc } from '../openapi.js';
import type { Schema } from '../schema/define.js';
import * as s from '../schema/define.js';
import { INCIDENT_STATES } from '../workflow/machine.js';
import type { GatewayApp, RouteDeps } from './deps.js';

export const WebhookAcceptedSchema = s.named(
  'WebhookAccepted',
  s.object({
    incidents: s.array(
      s.object({
        incident_id: s.string(),
        state: s.enumOf(INCIDENT_STATES),
        duplicate: s.boolean({
          description:
            'Nothing was created: a redelivery of a known occurrence, a new occurrence that joined the open incident (joined), or a resolve that named the incident.',
        }),
        joined: s.boolean({
          description:
            'A new occurrence (not a redelivery) that joined the open incident with the same correlation key; its timeline got an occurrence.joined note.',
        }),
        recurrence_of: s.optional(
          s.string({
            description:
              'On a new incident: the incident whose fix was executed shortly before and that this failure came back after. It waits for a person instead of being fixed again.',
          }),
        ),
        ref: s.string({ description: 'Where in the body: alerts[2], items[0], $.' }),
      }),
    ),
    ignored: s.array(s.object({ ref: s.string(), reason: s.enumOf(IGNORE_REASONS) })),
  }),
);

const TOKEN_SOURCES: {
  source: 'alertmanager' | 'argocd' | 'kubernetes';
  schema: Schema<unknown>;
  adapter: (b: unknown, ctx: IntakeContext) => IntakeResult;
  what: string;
}[] = [
  {
    source: 'alertmanager',
    schema: AlertmanagerWebhookSchema,
    adapter: intakeAlertmanager,
    what: 'Alertmanager webhook (version 4): one incident per firing alert; resolved alerts end theirs.',
  },
  {
    source: 'argocd',
    schema: ArgoCDWebhookSchema,
    adapter: intakeArgoCD,
    what: 'Argo CD notification for a failed sync (template body or the whole Application).',
  },
  {
    source: 'kubernetes',
    schema: KubernetesWebhookSchema,
    adapter: intakeKubernetes,
    what: 'A Kubernetes Event, an EventList, or the List kubectl get events -o json prints.',
  },
];

const accepted = {
  '202': {
    description:
      'incidents created, found (duplicates carry their existing ids) or joined, and what was ignored',
    schema: WebhookAcceptedSchema,
  },
};

export const webhookRouteDocs: RouteDoc[] = [
  ...TOKEN_SOURCES.map(
    (t): RouteDoc => ({
      method: 'post',
      path: `/v1/webhooks/${t.source}`,
      summary: t.what,
      auth: 'submit',
      body: t.schema,
      responses: accepted,
    }),
  ),
  {
    method: 'post',
    path: '/v1/webhooks/github',
    summary:
      'GitHub workflow_run / check_run completed with conclusion failure; authenticated by X-Hub-Signature-256.',
    auth: 'hmac',
    headers: GITHUB_HEADERS,
    body: GithubWebhookSchema,
    bodyByHeader: { header: 'X-GitHub-Event', schemas: GITHUB_EVENT_SCHEMAS },
    responses: accepted,
  },
];

async function respond(c: Context<GatewayEnv>, d: RouteDeps, result: IntakeResult) {
  const caller = c.get('caller') as { name: string } | undefined;
  const answer = await d.intake.ingest(result, caller === undefined ? {} : { caller: caller.name });
  for (const o of answer.incidents) {
    d.metrics.intake.inc({
      source: result.source,
      outcome: o.joined ? 'joined' : o.duplicate ? 'duplicate' : 'created',
    });
  }
  return c.json(
    {
      incidents: answer.incidents.map((o) => ({
        incident_id: o.incident_id,
        state: o.state,
        duplicate: o.duplicate,
        joined: o.joined,
        ...(o.recurrence_of === undefined ? {} : { recurrence_of: o.recurrence_of }),
        ref: o.ref,
      })),
      ignored: answer.ignored,
    },
    202,
  );
}

export function registerWebhookRoutes(app: GatewayApp, d: RouteDeps): void {
  const ctx = (): IntakeContext => ({
    now: d.now,
    newId: d.ids,
    cluster: d.cluster,
    controllerNamespaces: d.controllerNamespaces,
  });
  for (const t of TOKEN_SOURCES) {
    app.post(`/v1/webhooks/${t.source}`, requireScope(d.authenticate, 'submit'), d.readBody, (c) =>
      respond(c, d, t.adapter(jsonBody(c), ctx())),
    );
  }
  app.post(
    '/v1/webhooks/github',
    async (_c, next) => {
      if (d.githubSecret === undefined || d.githubSecret === '') {
        throw new AapsError(
          'UNAVAILABLE',
          'GitHub webhooks are off: no webhook secret is configured (AAPS_GITHUB_WEBHOOK_SECRET)',
        );
      }
      await next();
    },
    d.readUnauthenticatedBody,
    (c) => {
      verifyGithubSignature(c.get('rawBody'), c.req.header('x-hub-signature-256'), d.githubSecret ?? '');
      const result = intakeGithub(jsonBody(c), {
        ...ctx(),
        event: c.req.header('x-github-event'),
        deliveryId: c.req.header('x-github-delivery'),
      });
      return respond(c, d, result);
    },
  );
}
