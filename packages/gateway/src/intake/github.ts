/**
 * GitHub `workflow_run` and `check_run` webhook events. Only `action: "completed"` with
 * `conclusion: "failure"` opens an incident; every other event, action or conclusion is accepted
 * and reported as ignored. The dedup key is the `X-GitHub-Delivery` id, which GitHub keeps when it
 * redelivers. The HMAC covers the body but not that header, so a captured body re-sent under a
 * fresh delivery id would look new: a second dedup key names the run from the signed body itself
 * (repository, event, run id and attempt, or check run id). One failed Actions job is reported
 * twice, as its `check_run` and as its `workflow_run`, and both name the run's check suite: a
 * check run opens its own incident (correlated by its own id) and answers to its suite too
 * (`joinable_by`), so the workflow run, correlated by the suite, joins it; a second failing job's
 * check run of the same suite opens its own. Authenticate the raw body with
 * `verifyGithubSignature` before calling this.
 */
import { checkInto, type Issue, issuesToError } from '../schema/check.js';
import type { Schema } from '../schema/define.js';
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
      /** The run's check suite, which its jobs' check runs name too (the correlation key). */
      check_suite_id: s.nullish(Id),
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

/** The body schema of each handled event, picked by the `X-GitHub-Event` header (not by the body). */
export const GITHUB_EVENT_SCHEMAS: Readonly<Record<(typeof GITHUB_EVENTS)[number], Schema<unknown>>> =
  Object.freeze({ workflow_run: WorkflowRunEventSchema, check_run: CheckRunEventSchema });

/**
 * What every GitHub webhook body is: a JSON object. Which schema it must then meet is up to the
 * `X-GitHub-Event` header ({@link GITHUB_EVENT_SCHEMAS}); any other event is accepted and ignored.
 */
export const GithubWebhookSchema = s.named(
  'GithubWebhook',
  s.record(s.unknown()),
  'A JSON object, checked by the X-GitHub-Event header: workflow_run against GithubWorkflowRunEvent, check_run against GithubCheckRunEvent; any other event is accepted and ignored.',
);

const HeaderToken = s.string({ minLength: 1, maxLength: 128, pattern: /^[A-Za-z0-9_.-]+$/ });

/** The headers GitHub sends that this intake reads, for the OpenAPI document. */
export const GITHUB_HEADERS: readonly { name: string; description: string; schema: Schema<unknown> }[] = [
  {
    name: 'X-GitHub-Event',
    description: 'The event name; workflow_run and check_run are acted on, any other is ignored.',
    schema: HeaderToken,
  },
  {
    name: 'X-GitHub-Delivery',
    description: 'The delivery id; a redelivery keeps it, so it is a dedup key.',
    schema: HeaderToken,
  },
  {
    name: 'X-Hub-Signature-256',
    description: 'sha256=<hex HMAC-SHA256 of the raw body under the webhook secret>.',
    schema: s.string({ pattern: /^sha256=[0-9a-fA-F]{64}$/, maxLength: 71 }),
  },
];

interface RunFacts {
  kind: 'workflow_run' | 'check_run';
  action: string;
  conclusion: string | null | undefined;
  repo: string;
  sha: string;
  branch: string | undefined;
  name: string;
  id: number;
  /** The check suite the run belongs to, when the body names it. */
  suite: number | undefined;
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
      suite: run.check_suite_id ?? undefined,
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
    suite: run.check_suite?.id,
    occurrence: `${run.id}`,
    url: run.html_url ?? run.details_url ?? undefined,
    messages: present([run.output?.title, run.output?.summary, run.output?.text]),
    extra: run.app?.slug === undefined ? {} : { app: run.app.slug },
  };
}

/**
 * The run a body reports, from signed fields only: `github:<repo>:<event>:<occurrence>`. A delivery
 * id cannot hold `:` or `/` (`HeaderToken`), so this never equals a `github:<delivery id>` key.
 */
function githubRunKey(facts: RunFacts): string {
  return `github:${facts.repo}:${facts.kind}:${facts.occurrence}`;
}

/** A run's check suite, which a job's check run and its workflow run both name. */
function githubSuiteKey(facts: RunFacts): string | undefined {
  return facts.suite === undefined ? undefined : `github:${facts.repo}:check_suite:${facts.suite}`;
}

/**
 * How a report joins an open incident: a check run (one job) by itself, answering to its suite
 * too, so its workflow run, correlated by the suite, joins it; a workflow run by its suite (else by
 * itself). Two failing jobs are two incidents; the run's own report joins one of them.
 */
function githubCorrelation(facts: RunFacts): { correlation_key: string; joinable_by?: string[] } {
  const suite = githubSuiteKey(facts);
  if (suite === undefined) return { correlation_key: githubRunKey(facts) };
  return facts.kind === 'check_run'
    ? { correlation_key: githubRunKey(facts), joinable_by: [suite] }
    : { correlation_key: suite };
}

export function intakeGithub(body: unknown, ctx: GithubIntakeContext): IntakeResult {
  const issues: Issue[] = [];
  const deliveryId = checkInto(HeaderToken, ctx.deliveryId, 'headers.x-github-delivery', issues);
  const event = checkInto(HeaderToken, ctx.event, 'headers.x-github-event', issues);
  const handled = event === 'workflow_run' || event === 'check_run';
  const facts = handled ? readEvent(event, body, issues) : undefined;
  // An event this intake does not act on still has to be what the OpenAPI document says.
  if (!handled) checkInto(GithubWebhookSchema, body, '', issues);
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
        extra_dedup_keys: [githubRunKey(facts)],
        ...githubCorrelation(facts),
        // A run names no namespace (its manifests do, which this intake does not read): none is
        // guessed, so a fix that needs one goes to a person.
        namespace: undefined,
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
          ...(facts.suite === undefined ? {} : { check_suite_id: facts.suite }),
          conclusion: facts.conclusion,
          ...facts.extra,
        },
      },
      ctx,
    ),
  );
  return out.result();
}
