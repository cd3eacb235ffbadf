/**
 * GitHub `workflow_run` and `check_run` webhook events. Only `action: "completed"` with
 * `conclusion: "failure"` opens an incident; every other event, action or conclusion is accepted
 * and reported as ignored. The dedup key is the `X-GitHub-Delivery` id, which GitHub keeps when it
 * redelivers. Authenticate the raw body with `verifyGithubSignature` before calling this.
 */
import { checkInto, type Issue, issuesToError } from '../schema/check.js';
import * as s from '../schema/define.js';
import { openIncident } from './build-envelope.js';
import { createResultBuilder } from './result.js';
import type { IntakeContext, IntakeResult } from './types.js';

export interface GithubIntakeContext extends IntakeContext {
  /** The `X-GitHub-Event` header. */
  event: string | undefined;
  /** The `X-GitHub-Delivery` header. */
  deliveryId: string | undefined;
}

export const GITHUB_EVENTS = ['workflow_run', 'check_run'] as const;

const Sha = s.string({ pattern: /^[0-9a-f]{40,64}$/, maxLength: 64 });
const Url = s.string({ maxLength: 2048 });
const Time = s.nullish(s.string({ format: 'date-time', maxLength: 64 }));
const Id = s.integer({ minimum: 0 });

const Repository = s.named(
  'GithubRepository',
  s.object({
    id: Id,
    name: s.string({ maxLength: 256 }),
    full_name: s.string({ minLength: 3, maxLength: 512 }),
    html_url: s.optional(Url),
  }),
);
const Sender = s.nullish(s.object({ login: s.string({ maxLength: 256 }) }));

export const WorkflowRunEventSchema = s.named(
  'GithubWorkflowRunEvent',
  s.object({
    action: s.string({ maxLength: 64 }),
    workflow_run: s.object({
      id: Id,
      name: s.nullish(s.string({ maxLength: 1024 })),
      display_title: s.optional(s.string({ maxLength: 4096 })),
      head_branch: s.nullish(s.string({ maxLength: 1024 })),
      head_sha: Sha,
      path: s.optional(s.string({ maxLength: 1024 })),
      run_number: Id,
      run_attempt: s.optional(s.integer({ minimum: 1 })),
      event: s.string({ maxLength: 128 }),
      status: s.nullish(s.string({ maxLength: 64 })),
      conclusion: s.nullish(s.string({ maxLength: 64 })),
      workflow_id: Id,
      html_url: Url,
      created_at: Time,
      updated_at: Time,
    }),
    repository: Repository,
    sender: Sender,
  }),
);

export const CheckRunEventSchema = s.named(
  'GithubCheckRunEvent',
  s.object({
    action: s.string({ maxLength: 64 }),
    check_run: s.object({
      id: Id,
      name: s.string({ maxLength: 1024 }),
      head_sha: Sha,
      status: s.string({ maxLength: 64 }),
      conclusion: s.nullish(s.string({ maxLength: 64 })),
      html_url: s.nullish(Url),
      details_url: s.nullish(Url),
      started_at: Time,
      completed_at: Time,
      output: s.optional(
        s.object({
          title: s.nullish(s.string({ maxLength: 1024 })),
          summary: s.nullish(s.string({ maxLength: 65535 })),
          text: s.nullish(s.string({ maxLength: 65535 })),
        }),
      ),
      check_suite: s.nullish(s.object({ id: Id, head_branch: s.nullish(s.string({ maxLength: 1024 })) })),
      app: s.nullish(s.object({ slug: s.optional(s.string({ maxLength: 256 })) })),
    }),
    repository: Repository,
    sender: Sender,
  }),
);

/** Both handled event bodies, for the OpenAPI document (the `X-GitHub-Event` header picks one). */
export const GithubWebhookSchema = s.named(
  'GithubWebhook',
  s.union(
    [WorkflowRunEventSchema, CheckRunEventSchema],
    (v) => (typeof v === 'object' && v !== null && 'check_run' in v ? 1 : 0),
    { expected: 'a workflow_run or check_run event' },
  ),
  'GitHub workflow_run or check_run event; other events are accepted and ignored.',
);

const HeaderToken = s.string({ minLength: 1, maxLength: 128, pattern: /^[A-Za-z0-9_.-]+$/ });

interface RunFacts {
  kind: 'workflow_run' | 'check_run';
  action: string;
  conclusion: string | null | undefined;
  repo: string;
  sha: string;
  branch: string | undefined;
  name: string;
  id: number;
  occurrence: string;
  url: string | undefined;
  messages: string[];
  extra: Record<string, unknown>;
}

function present(list: readonly (string | null | undefined)[]): string[] {
  return list.filter((m): m is string => typeof m === 'string' && m !== '');
}

function readEvent(event: string, body: unknown, issues: Issue[]): RunFacts | undefined {
  if (event === 'workflow_run') {
    const e = checkInto(WorkflowRunEventSchema, body, '', issues);
    if (e === undefined) return undefined;
    const run = e.workflow_run;
    return {
      kind: 'workflow_run',
      action: e.action,
      conclusion: run.conclusion,
      repo: e.repository.full_name,
      sha: run.head_sha,
      branch: run.head_branch ?? undefined,
      name: run.name ?? run.path ?? `workflow ${run.workflow_id}`,
      id: run.id,
      occurrence: `${run.id}:${run.run_attempt ?? 1}`,
      url: run.html_url,
      messages: present([run.display_title]),
      extra: { run_number: run.run_number, run_attempt: run.run_attempt ?? 1, trigger_event: run.event },
    };
  }
  const e = checkInto(CheckRunEventSchema, body, '', issues);
  if (e === undefined) return undefined;
  const run = e.check_run;
  return {
    kind: 'check_run',
    action: e.action,
    conclusion: run.conclusion,
    repo: e.repository.full_name,
    sha: run.head_sha,
    branch: run.check_suite?.head_branch ?? undefined,
    name: run.name,
    id: run.id,
    occurrence: `${run.id}`,
    url: run.html_url ?? run.details_url ?? undefined,
    messages: present([run.output?.title, run.output?.summary, run.output?.text]),
    extra: run.app?.slug === undefined ? {} : { app: run.app.slug },
  };
}

export function intakeGithub(body: unknown, ctx: GithubIntakeContext): IntakeResult {
  const issues: Issue[] = [];
  const deliveryId = checkInto(HeaderToken, ctx.deliveryId, 'headers.x-github-delivery', issues);
  const event = checkInto(HeaderToken, ctx.event, 'headers.x-github-event', issues);
  const handled = event === 'workflow_run' || event === 'check_run';
  const facts = handled ? readEvent(event, body, issues) : undefined;
  if (!handled && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    issues.push({ path: '$', message: 'expected a JSON object' });
  }
  if (issues.length > 0) throw issuesToError('invalid GitHub webhook', issues);

  const out = createResultBuilder('github');
  if (facts === undefined || deliveryId === undefined) {
    out.ignore('$', 'event_not_handled');
    return out.result();
  }
  if (facts.action !== 'completed') {
    out.ignore('$', 'action_not_handled');
    return out.result();
  }
  if (facts.conclusion !== 'failure') {
    out.ignore('$', 'not_a_failure');
    return out.result();
  }
  out.add(
    openIncident(
      {
        source: 'github',
        ref: '$',
        dedup_key: `github:${deliveryId}`,
        correlation_key: `github:${facts.repo}:${facts.kind}:${facts.occurrence}`,
        namespace: 'default',
        affected_resources: [
          `repository://github.com/${facts.repo}`,
          `commit://github.com/${facts.repo}@${facts.sha}`,
        ],
        evidence_refs: [`github://${facts.repo}/${facts.kind}/${facts.id}`, facts.url ?? ''],
        metadata: {
          reason: `${facts.kind}.${facts.conclusion}`,
          messages: facts.messages,
          github_event: facts.kind,
          delivery_id: deliveryId,
          repository: facts.repo,
          head_sha: facts.sha,
          ...(facts.branch === undefined ? {} : { head_branch: facts.branch }),
          name: facts.name,
          id: facts.id,
          conclusion: facts.conclusion,
          ...facts.extra,
        },
      },
      ctx,
    ),
  );
  return out.result();
}
