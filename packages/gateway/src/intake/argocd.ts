/**
 * Argo CD notifications for sync failures. Argo CD has no fixed webhook body; two are accepted:
 * the documented template (`{"app", "trigger", "syncStatus", "operationState"}`) and a whole
 * Application (`{{toJson .app}}`). One incident per failed sync operation: the dedup key is the
 * Application and the operation's `startedAt` (plus its revision), which Argo CD keeps for the
 * life of one operation, so re-sent notifications for it are duplicates. The Application is the
 * correlation key (a new failed operation joins its open incident) and the recurrence key (one
 * soon after a fix goes to a person).
 *
 * The Application's `status.history` (in the template body as `history`) lists the revisions Argo
 * CD deployed successfully, newest last: Argo CD appends an entry only when a sync succeeds. The
 * signal keeps the newest {@link HISTORY_KEPT} as `sync_history`, so that a fix re-rendered from
 * the repository whose sync failed can be read at a revision known to have deployed.
 */
import { parse } from '../schema/check.js';
import * as s from '../schema/define.js';
import { openIncident } from './build-envelope.js';
import { classifySignal } from './classify.js';
import { createResultBuilder } from './result.js';
import type { IntakeContext, IntakeResult } from './types.js';

const Name = s.string({ maxLength: 253 });
const Text = s.string({ maxLength: 32 * 1024 });
const Time = s.string({ format: 'date-time', maxLength: 64 });

const ResourceResult = s.named(
  'ArgoCDResourceResult',
  s.object({
    group: s.optional(s.string({ maxLength: 253 })),
    version: s.optional(s.string({ maxLength: 64 })),
    kind: s.string({ minLength: 1, maxLength: 128 }),
    namespace: s.optional(s.string({ maxLength: 253 })),
    name: s.string({ minLength: 1, maxLength: 253 }),
    status: s.optional(s.string({ maxLength: 64 })),
    message: s.optional(Text),
    hookPhase: s.optional(s.string({ maxLength: 64 })),
    syncPhase: s.optional(s.string({ maxLength: 64 })),
  }),
);

const Source = s.object({
  repoURL: s.optional(s.string({ maxLength: 2048 })),
  path: s.optional(s.string({ maxLength: 1024 })),
  targetRevision: s.optional(s.string({ maxLength: 256 })),
  chart: s.optional(s.string({ maxLength: 256 })),
});

/**
 * One entry of `status.history`: a sync that succeeded. Only what the signal keeps is checked (a
 * malformed field would refuse the whole notification, and with it the failure it reports);
 * multi-source entries name no `revision`.
 */
const HistoryEntry = s.named(
  'ArgoCDRevisionHistory',
  s.object({
    revision: s.optional(s.string({ maxLength: 256 })),
    deployedAt: s.nullish(Time),
    source: s.optional(Source),
  }),
);

/** Argo CD keeps 10 by default (`revisionHistoryLimit`); a longer one is read, not refused. */
const History = s.nullish(s.array(HistoryEntry, { maxItems: 1000 }));

/** How many of the newest history entries the signal keeps. */
export const HISTORY_KEPT = 10;

export const OperationStateSchema = s.named(
  'ArgoCDOperationState',
  s.object({
    operation: s.optional(
      s.object({
        sync: s.optional(s.object({ revision: s.optional(s.string({ maxLength: 256 })) })),
        initiatedBy: s.optional(
          s.object({
            username: s.optional(s.string({ maxLength: 256 })),
            automated: s.optional(s.boolean()),
          }),
        ),
      }),
    ),
    phase: s.enumOf(['Running', 'Terminating', 'Failed', 'Error', 'Succeeded']),
    message: s.optional(Text),
    syncResult: s.optional(
      s.object({
        resources: s.optional(s.array(ResourceResult, { maxItems: 1000 })),
        revision: s.optional(s.string({ maxLength: 256 })),
        source: s.optional(Source),
      }),
    ),
    startedAt: Time,
    finishedAt: s.nullish(Time),
    retryCount: s.optional(s.integer({ minimum: 0 })),
  }),
);

export const ArgoCDTemplateBodySchema = s.named(
  'ArgoCDNotification',
  s.object({
    app: s.string({ minLength: 1, maxLength: 253 }),
    trigger: s.optional(s.string({ maxLength: 128 })),
    syncStatus: s.nullish(s.string({ maxLength: 64 })),
    operationState: s.nullable(OperationStateSchema),
    namespace: s.optional(Name),
    /** `{{toJson .app.status.history}}`: the revisions deployed successfully, newest last. */
    history: History,
    /** `{{toJson .app.status.health}}`: the health of what runs (`Healthy`, `Degraded`...). */
    health: s.nullish(s.object({ status: s.optional(s.string({ maxLength: 64 })) })),
  }),
  'The notifications template body the docs install.',
);

export const ArgoCDApplicationSchema = s.named(
  'ArgoCDApplication',
  s.object({
    apiVersion: s.optional(s.string({ maxLength: 64 })),
    kind: s.optional(s.literal('Application')),
    metadata: s.object({ name: s.string({ minLength: 1, maxLength: 253 }), namespace: s.optional(Name) }),
    spec: s.optional(
      s.object({
        project: s.optional(s.string({ maxLength: 253 })),
        source: s.optional(Source),
        destination: s.optional(
          s.object({
            server: s.optional(s.string({ maxLength: 2048 })),
            name: s.optional(s.string({ maxLength: 253 })),
            namespace: s.optional(Name),
          }),
        ),
      }),
    ),
    status: s.object({
      sync: s.optional(
        s.object({ status: s.optional(s.string({ maxLength: 64 })), revision: s.optional(s.string()) }),
      ),
      health: s.optional(s.object({ status: s.optional(s.string({ maxLength: 64 })) })),
      operationState: s.nullish(OperationStateSchema),
      history: History,
    }),
  }),
  'A whole Application, as `{{toJson .app}}` renders it.',
);

export const ArgoCDWebhookSchema = s.named(
  'ArgoCDWebhook',
  s.union(
    [ArgoCDTemplateBodySchema, ArgoCDApplicationSchema],
    (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return -1;
      if ('app' in v) return 0;
      return 'metadata' in v || 'status' in v ? 1 : -1;
    },
    { expected: 'an Argo CD notification ({app, trigger, syncStatus, operationState}) or an Application' },
  ),
);

type OperationState = s.Infer<typeof OperationStateSchema>;
type HistoryEntry = s.Infer<typeof HistoryEntry>;

interface AppSync {
  app: string;
  appNamespace: string | undefined;
  destination: string | undefined;
  trigger: string | undefined;
  syncStatus: string | undefined;
  health: string | undefined;
  op: OperationState | null | undefined;
  history: readonly HistoryEntry[];
}

function readBody(body: s.Infer<typeof ArgoCDWebhookSchema>): AppSync {
  if ('app' in body) {
    return {
      app: body.app,
      appNamespace: body.namespace,
      destination: undefined,
      trigger: body.trigger,
      syncStatus: body.syncStatus ?? undefined,
      health: body.health?.status,
      op: body.operationState,
      history: body.history ?? [],
    };
  }
  return {
    app: body.metadata.name,
    appNamespace: body.metadata.namespace,
    destination: body.spec?.destination?.namespace,
    trigger: undefined,
    syncStatus: body.status.sync?.status,
    health: body.status.health?.status,
    op: body.status.operationState,
    history: body.status.history ?? [],
  };
}

/** The newest entries that name a revision, newest last, as the signal's metadata keeps them. */
function syncHistory(history: readonly HistoryEntry[]): Record<string, unknown>[] {
  return history
    .filter((h) => h.revision !== undefined && h.revision !== '')
    .slice(-HISTORY_KEPT)
    .map((h) => ({
      revision: h.revision,
      ...(h.deployedAt == null ? {} : { deployed_at: h.deployedAt }),
      ...(h.source === undefined ? {} : { source: h.source }),
    }));
}

/** `undefined` for `''`, which Argo CD writes for "none". */
function nonEmpty(v: string | undefined): string | undefined {
  return v === '' ? undefined : v;
}

type ResourceResult = s.Infer<typeof ResourceResult>;

/**
 * The failed resources' namespace, else the application's destination; never a guess. Argo CD
 * writes `"namespace": ""` for a cluster-scoped resource (a Namespace, a ClusterRole), which names
 * none. Failed resources in more than one namespace: the namespace of those whose own message the
 * classifier reads as the sync's failure (the same rule), when they are in one; else none (a
 * quota raised, or a ConfigMap re-rendered, in another failure's namespace would fix nothing).
 */
export function incidentNamespace(
  message: string | undefined,
  failed: readonly ResourceResult[],
  destination: string | undefined,
): string | undefined {
  const namespaced = failed.filter((r) => nonEmpty(r.namespace) !== undefined);
  const all = new Set(namespaced.map((r) => r.namespace));
  if (all.size <= 1) return nonEmpty(namespaced[0]?.namespace) ?? nonEmpty(destination);
  const rule = (messages: string[]) => classifySignal({ metadata: { reason: 'SyncFailed', messages } }).rule;
  const deciding = rule([message ?? '', ...failed.map((r) => r.message ?? '')].filter((m) => m !== ''));
  if (deciding === 'none') return undefined;
  const where = new Set(
    namespaced
      .filter((r) => r.message !== undefined && rule([r.message]) === deciding)
      .map((r) => r.namespace),
  );
  return where.size === 1 ? nonEmpty([...where][0]) : undefined;
}

export function intakeArgoCD(body: unknown, ctx: IntakeContext): IntakeResult {
  const sync = readBody(parse(ArgoCDWebhookSchema, body, 'invalid Argo CD notification'));
  const out = createResultBuilder('argocd');
  const op = sync.op;
  if (sync.trigger !== undefined && sync.trigger !== 'on-sync-failed') {
    out.ignore('$', 'event_not_handled');
    return out.result();
  }
  const failedResources = (op?.syncResult?.resources ?? []).filter((r) => r.status === 'SyncFailed');
  const failed = op != null && (op.phase === 'Failed' || op.phase === 'Error' || failedResources.length > 0);
  if (op == null || !failed) {
    out.ignore('$', 'not_a_failure');
    return out.result();
  }
  const ns = incidentNamespace(op.message, failedResources, sync.destination);
  const revision = op.syncResult?.revision ?? op.operation?.sync?.revision ?? '';
  const appRef = `${nonEmpty(sync.appNamespace) ?? 'argocd'}/${sync.app}`;
  const resources = failedResources.map((r) => {
    // `''`: cluster-scoped, so in no namespace; absent (a body that left it out): the incident's.
    const namespace = r.namespace === undefined ? ns : nonEmpty(r.namespace);
    return {
      kind: r.kind,
      ...(namespace === undefined ? {} : { namespace }),
      name: r.name,
      ...(r.group === undefined || r.group === '' ? {} : { group: r.group }),
      ...(r.message === undefined ? {} : { message: r.message }),
    };
  });
  const messages = [op.message ?? '', ...resources.map((r) => r.message ?? '')].filter((m) => m !== '');
  const source = op.syncResult?.source;
  const history = syncHistory(sync.history);
  out.add(
    openIncident(
      {
        source: 'argocd',
        ref: '$',
        dedup_key: `argocd:${appRef}:${op.startedAt}:${revision}`,
        correlation_key: `argocd:${appRef}`,
        recurrence_keys: [`argocd:${appRef}`],
        namespace: ns,
        affected_resources: [
          `application://${appRef}`,
          ...resources.map((r) =>
            r.namespace === undefined
              ? `${r.kind.toLowerCase()}://${r.name}`
              : `${r.kind.toLowerCase()}://${r.namespace}/${r.name}`,
          ),
        ],
        evidence_refs: [`argocd://${appRef}/operation/${op.startedAt}`],
        metadata: {
          reason: 'SyncFailed',
          messages,
          application: sync.app,
          ...(sync.trigger === undefined ? {} : { trigger: sync.trigger }),
          ...(sync.syncStatus === undefined ? {} : { sync_status: sync.syncStatus }),
          ...(sync.health === undefined ? {} : { health_status: sync.health }),
          phase: op.phase,
          started_at: op.startedAt,
          ...(revision === '' ? {} : { revision }),
          ...(source === undefined ? {} : { git_source: source }),
          ...(history.length === 0 ? {} : { sync_history: history }),
          argo_resources: resources,
        },
      },
      ctx,
    ),
  );
  return out.result();
}
