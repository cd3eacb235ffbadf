/**
 * Kubernetes `Event`s, as an event exporter, a watcher or kubectl gives them: core/v1
 * (`involvedObject`, `message`, `count`) or events.k8s.io/v1 (`regarding`, `note`, `series`), one
 * at a time, as an `EventList`, or as the `List` that `kubectl get events -o json` (or
 * `kubectl get events.v1.events.k8s.io -o json`) prints. A `List` of anything but Events is
 * refused, naming the kind it holds. Warnings the classifier recognises (pull failures, signature
 * admission denials, missing ConfigMap/Secret keys, image pull Secrets kubelet could not retrieve,
 * exceeded quota, LimitRange and RBAC denials)
 * open incidents; `Normal` events and other warnings are ignored. The dedup key is the event's uid
 * and its occurrence count, so a redelivered event is the same occurrence and a repeat is a new
 * one. The correlation key is the object, the reason and the incident type: kubelet gives a pull
 * failure and a missing Secret key the same reason (`Failed`), and two kinds of failure of one pod
 * are two incidents, while a repeat of one (the same Event, its count raised) joins its incident;
 * a pull's `BackOff` counts as `Failed`, the same failure's other reason.
 * The recurrence keys (the Event's uid, the object and reason, and from `openIncident` the
 * workload and incident type) let a failure that comes back after its fix go to a person.
 *
 * A policy engine's report on an existing object (Kyverno's `PolicyViolation`, Gatekeeper's
 * `AuditViolation` and `DryrunViolation`) opens an incident marked `policy_report`: it blocked
 * nothing (in audit mode) or its denial is reported by the refused controller's own Event, so the
 * problem solver gives it to a person and proposes no change.
 */
import { inferDeployment } from '@aaps/agents';
import { type Issue, issuesToError, parse } from '../schema/check.js';
import * as s from '../schema/define.js';
import { openIncident } from './build-envelope.js';
import { classifySignal } from './classify.js';
import { createResultBuilder } from './result.js';
import type { IntakeContext, IntakeResult } from './types.js';

const Name = s.string({ maxLength: 253 });
const Time = s.nullish(s.string({ format: 'date-time', maxLength: 64 }));
const Text = s.string({ maxLength: 32 * 1024 });

const ObjectReference = s.named(
  'KubernetesObjectReference',
  s.object({
    apiVersion: s.optional(s.string({ maxLength: 256 })),
    kind: s.optional(s.string({ maxLength: 128 })),
    namespace: s.optional(Name),
    name: s.optional(Name),
    uid: s.optional(s.string({ maxLength: 128 })),
    fieldPath: s.optional(s.string({ maxLength: 1024 })),
  }),
);
const ObjectMeta = s.object({
  name: s.optional(Name),
  namespace: s.optional(Name),
  uid: s.optional(s.string({ maxLength: 128 })),
  resourceVersion: s.optional(s.string({ maxLength: 128 })),
  creationTimestamp: Time,
});
const Series = s.nullish(
  s.object({
    count: s.integer({ minimum: 0 }),
    lastObservedTime: s.string({ format: 'date-time', maxLength: 64 }),
  }),
);

export const CoreEventSchema = s.named(
  'KubernetesCoreV1Event',
  s.object({
    apiVersion: s.optional(s.literal('v1')),
    kind: s.optional(s.literal('Event')),
    metadata: ObjectMeta,
    involvedObject: ObjectReference,
    reason: s.optional(s.string({ maxLength: 1024 })),
    message: s.optional(Text),
    type: s.optional(s.string({ maxLength: 64 })),
    count: s.nullish(s.integer({ minimum: 0 })),
    firstTimestamp: Time,
    lastTimestamp: Time,
    eventTime: Time,
    series: Series,
    source: s.nullish(s.object({ component: s.optional(Name), host: s.optional(Name) })),
    reportingComponent: s.optional(s.string({ maxLength: 256 })),
  }),
);

export const EventsV1EventSchema = s.named(
  'KubernetesEventsV1Event',
  s.object({
    apiVersion: s.optional(s.literal('events.k8s.io/v1')),
    kind: s.optional(s.literal('Event')),
    metadata: ObjectMeta,
    regarding: ObjectReference,
    reason: s.optional(s.string({ maxLength: 1024 })),
    note: s.optional(Text),
    type: s.optional(s.string({ maxLength: 64 })),
    action: s.optional(s.string({ maxLength: 128 })),
    eventTime: Time,
    series: Series,
    deprecatedCount: s.nullish(s.integer({ minimum: 0 })),
    deprecatedFirstTimestamp: Time,
    deprecatedLastTimestamp: Time,
    deprecatedSource: s.nullish(s.object({ component: s.optional(Name), host: s.optional(Name) })),
    reportingController: s.optional(s.string({ maxLength: 256 })),
  }),
);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const EventSchema = s.union(
  [CoreEventSchema, EventsV1EventSchema],
  (v) => {
    if (!isObject(v)) return -1;
    if (
      'regarding' in v ||
      (typeof v['apiVersion'] === 'string' && v['apiVersion'].startsWith('events.k8s.io/'))
    ) {
      return 1;
    }
    return 'involvedObject' in v ? 0 : -1;
  },
  { expected: 'a core/v1 Event (involvedObject) or an events.k8s.io/v1 Event (regarding)' },
);

const ListMeta = s.optional(
  s.object({
    resourceVersion: s.optional(s.string({ maxLength: 128 })),
    continue: s.optional(s.string({ maxLength: 4096 })),
  }),
);

export const EventListSchema = s.named(
  'KubernetesEventList',
  s.object({
    apiVersion: s.optional(s.enumOf(['v1', 'events.k8s.io/v1'])),
    kind: s.literal('EventList'),
    metadata: ListMeta,
    items: s.array(EventSchema, { maxItems: 1000 }),
  }),
);

export const KubectlListSchema = s.named(
  'KubernetesList',
  s.object({
    apiVersion: s.optional(s.literal('v1')),
    kind: s.literal('List'),
    metadata: ListMeta,
    items: s.array(EventSchema, { maxItems: 1000 }),
  }),
  'What `kubectl get events -o json` (core/v1 items) or `kubectl get events.v1.events.k8s.io -o json` (events.k8s.io/v1 items) prints: a List whose items are Events.',
);

const WRAPPERS: Readonly<Record<string, number>> = { EventList: 1, List: 2 };

export const KubernetesWebhookSchema = s.named(
  'KubernetesWebhook',
  s.union(
    [EventSchema, EventListSchema, KubectlListSchema],
    (v) => (isObject(v) && typeof v['kind'] === 'string' ? (WRAPPERS[v['kind']] ?? 0) : 0),
    { expected: 'an Event, an EventList or a List of Events' },
  ),
  'A Kubernetes Event (core/v1 or events.k8s.io/v1), an EventList, or the List `kubectl get events -o json` prints.',
);

/**
 * Objects of another kind where Events belong: a List from `kubectl get pods -o json`, or a single
 * object that is no Event. Reported by kind, before the schema would report them as shapeless.
 */
function foreignKinds(body: unknown): Issue[] {
  if (!isObject(body)) return [];
  const kind = body['kind'];
  if (typeof kind === 'string' && kind !== 'Event' && WRAPPERS[kind] === undefined) {
    return [{ path: 'kind', message: `is ${kind}: expected an Event, an EventList or a List of Events` }];
  }
  const items = body['items'];
  if (WRAPPERS[String(kind)] === undefined || !Array.isArray(items)) return [];
  return items.flatMap((item: unknown, i): Issue[] => {
    const k = isObject(item) ? item['kind'] : undefined;
    return typeof k === 'string' && k !== 'Event'
      ? [{ path: `items[${i}].kind`, message: `is ${k}: a ${kind} sent here must hold Events only` }]
      : [];
  });
}

type CoreEvent = s.Infer<typeof CoreEventSchema>;
type V1Event = s.Infer<typeof EventsV1EventSchema>;

/** Both event shapes read the same way. */
interface NormalizedEvent {
  name: string;
  uid: string | undefined;
  namespace: string;
  object: { kind: string; namespace: string; name: string; fieldPath: string | undefined };
  reason: string;
  message: string;
  type: string;
  count: number;
  firstSeen: string | undefined;
  lastSeen: string | undefined;
  reporter: string | undefined;
}

function firstNonEmpty(list: readonly (string | null | undefined)[]): string | undefined {
  return list.find((x): x is string => typeof x === 'string' && x !== '');
}

function normalize(e: CoreEvent | V1Event): NormalizedEvent {
  const ns = e.metadata.namespace ?? 'default';
  const core = 'involvedObject' in e;
  const obj = core ? e.involvedObject : e.regarding;
  const count = core ? (e.series?.count ?? e.count ?? 1) : (e.series?.count ?? e.deprecatedCount ?? 1);
  return {
    name: e.metadata.name ?? '',
    uid: e.metadata.uid,
    namespace: ns,
    object: {
      kind: obj.kind ?? '',
      namespace: obj.namespace ?? ns,
      name: obj.name ?? '',
      fieldPath: obj.fieldPath,
    },
    reason: e.reason ?? '',
    message: (core ? e.message : e.note) ?? '',
    type: e.type ?? '',
    count,
    firstSeen:
      (core ? (e.firstTimestamp ?? e.eventTime) : (e.eventTime ?? e.deprecatedFirstTimestamp)) ?? undefined,
    lastSeen:
      (core
        ? (e.lastTimestamp ?? e.series?.lastObservedTime)
        : (e.series?.lastObservedTime ?? e.deprecatedLastTimestamp)) ?? undefined,
    reporter: firstNonEmpty(
      core
        ? [e.source?.component, e.reportingComponent]
        : [e.reportingController, e.deprecatedSource?.component],
    ),
  };
}

/** Reasons of policy engines' reports on existing objects (see the module comment). */
export const POLICY_REPORT_REASONS: ReadonlySet<string> = new Set([
  'PolicyViolation',
  'AuditViolation',
  'DryrunViolation',
]);

/** The one reading of a Pod's or ReplicaSet's name, shared with the problem solver. */
export { inferDeployment };

export function kubernetesDedupKey(e: NormalizedEvent): string {
  if (e.uid !== undefined && e.uid !== '') return `kubernetes:${e.uid}:${e.count}`;
  const o = e.object;
  return `kubernetes:${o.kind}/${o.namespace}/${o.name}:${e.reason}:${e.firstSeen ?? ''}:${e.count}`;
}

export function intakeKubernetes(body: unknown, ctx: IntakeContext): IntakeResult {
  const foreign = foreignKinds(body);
  if (foreign.length > 0) throw issuesToError('invalid Kubernetes event', foreign);
  const parsed = parse(KubernetesWebhookSchema, body, 'invalid Kubernetes event');
  const list =
    'items' in parsed ? parsed.items.map((e, i) => ({ e, ref: `items[${i}]` })) : [{ e: parsed, ref: '$' }];
  const out = createResultBuilder('kubernetes');
  for (const { e, ref } of list) {
    const ev = normalize(e);
    if (ev.type === 'Normal') {
      out.ignore(ref, 'event_type_normal');
      continue;
    }
    const o = ev.object;
    const field = /^spec\.(initContainers|containers)\{(.+)\}$/.exec(o.fieldPath ?? '');
    const container = field?.[2];
    const deployment = inferDeployment(o.kind, o.name);
    const metadata: Record<string, unknown> = {
      reason: ev.reason,
      messages: ev.message === '' ? [] : [ev.message],
      event: {
        name: ev.name,
        ...(ev.uid === undefined ? {} : { uid: ev.uid }),
        type: ev.type,
        count: ev.count,
        ...(ev.firstSeen === undefined ? {} : { first_seen: ev.firstSeen }),
        ...(ev.lastSeen === undefined ? {} : { last_seen: ev.lastSeen }),
        ...(ev.reporter === undefined ? {} : { reporter: ev.reporter }),
      },
      object: {
        kind: o.kind,
        namespace: o.namespace,
        name: o.name,
        ...(container === undefined ? {} : { container }),
        ...(field?.[1] === 'initContainers' ? { init_container: true } : {}),
      },
      ...(POLICY_REPORT_REASONS.has(ev.reason)
        ? {
            policy_report: {
              reason: ev.reason,
              ...(ev.reporter === undefined ? {} : { reporter: ev.reporter }),
            },
          }
        : {}),
      ...(deployment === undefined
        ? {}
        : { workload: { kind: 'Deployment', name: deployment, inferred: true } }),
    };
    const type = classifySignal({ metadata: { ...metadata, namespace: o.namespace } }).incident_type;
    if (type === 'unknown') {
      out.ignore(ref, 'reason_not_handled');
      continue;
    }
    const objectKey = `kubernetes:${o.kind}/${o.namespace}/${o.name}:${ev.reason}`;
    // kubelet reports one pull failure as `Failed` (the registry's error, then `Error:
    // ErrImagePull`) and as `BackOff` (`Back-off pulling image`): the back-off, which does not say
    // why, joins the incident the error opened (a transient error's, which waits for a person).
    const correlationReason =
      ev.reason === 'BackOff' && type === 'image_signature_failed' ? 'Failed' : ev.reason;
    const correlation_key = `kubernetes:${o.kind}/${o.namespace}/${o.name}:${correlationReason}:${type}`;
    const resources = [
      o.kind === '' || o.name === '' ? '' : `${o.kind.toLowerCase()}://${o.namespace}/${o.name}`,
      deployment === undefined ? '' : `deployment://${o.namespace}/${deployment}`,
    ];
    out.add(
      openIncident(
        {
          source: 'kubernetes',
          ref,
          dedup_key: kubernetesDedupKey(ev),
          correlation_key,
          // The inferred Deployment's key comes from its `deployment://` resource (build-envelope).
          recurrence_keys: [
            ev.uid === undefined || ev.uid === '' ? '' : `kubernetes-event:${ev.uid}`,
            objectKey,
          ],
          namespace: o.namespace,
          affected_resources: resources,
          evidence_refs: [ev.name === '' ? '' : `event://kubernetes/${ev.namespace}/${ev.name}`],
          metadata,
        },
        ctx,
      ),
    );
  }
  return out.result();
}
