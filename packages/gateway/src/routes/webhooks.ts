/**
 * `POST /v1/webhooks/{alertmanager,argocd,github,kubernetes}`: native payloads. GitHub is
 * authenticated by `X-Hub-Signature-256` over the raw body (503 when no secret is configured);
 * the others by a bearer token with the `submit` scope.
 */
import { AapsError } from '@aaps/mpc-core';
import type { Context } from 'hono';
import type { GatewayEnv } from '../http-env.js';
import { AlertmanagerWebhookSchema, intakeAlertmanager } from '../intake/alertmanager.js';
import { ArgoCDWebhookSchema, intakeArgoCD } from '../intake/argocd.js';
import { GITHUB_EVENT_SCHEMAS, GITHUB_HEADERS, GithubWebhookSchema, intakeGithub } from '../intake/github.js';
import { verifyGithubSignature } from '../intake/github-signature.js';
import { intakeKubernetes, KubernetesWebhookSchema } from '../intake/kubernetes.js';
import type { IntakeContext, IntakeResult } from '../intake/types.js';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import type { RouteDoc } from '../openapi.js';
import type { Schema } from '../schema/define.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { WebhookAcceptedSchema } from './schemas.js';

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
    what: 'A Kubernetes Event or EventList.',
  },
];

const accepted = {
  '202': {
    description: 'incidents created or found (duplicates carry their existing ids)',
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
  const outcomes = await d.intake.ingest(result);
  for (const o of outcomes) {
    d.metrics.intake.inc({
      source: result.source,
      outcome: o.duplicate ? 'duplicate' : 'created',
    });
  }
  return c.json(
    {
      incidents: outcomes.map((o) => ({
        incident_id: o.incident_id,
        state: o.state,
        duplicate: o.duplicate,
        ref: o.ref,
      })),
      ignored: result.ignored,
    },
    202,
  );
}

export function registerWebhookRoutes(app: GatewayApp, d: RouteDeps): void {
  const ctx = (): IntakeContext => ({ now: d.now, newId: d.ids, cluster: d.cluster });
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
    d.readBody,
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
