/**
 * Alertmanager webhook (payload `version: "4"`), as its `webhook_config` receiver sends it.
 * One incident per firing alert. Alertmanager delivers at least once (and re-sends a group on
 * every `repeat_interval`), so the dedup key is the alert's `fingerprint` plus its `startsAt`,
 * which stay the same for one firing episode. A resolved alert resolves the incident opened for
 * that episode instead of opening one. The fingerprint is the correlation key (a new episode joins
 * the open incident) and a recurrence key (one that fires again soon after its fix goes to a
 * person). An alert about a pod names no Deployment (kube-state-metrics' pod alerts carry `pod`
 * only): the Deployment is read from the pod's name as the Kubernetes intake reads it
 * (`inferDeployment`) and marked `inferred`. The workload, named or inferred, gives the other
 * recurrence key (`openIncident`): the one a Kubernetes Event of the same failure gets, so two
 * pods' alerts, or an alert and an Event, get one automatic fix of their Deployment.
 *
 * An alert's `namespace` label is where the fix goes only when it is the failing object's: one
 * that is no namespace name, a controller's own (`kube-system`, `argocd`, `kyverno`...: an alert
 * on that controller's logs, about a workload elsewhere) or a scraped exporter's (the alert also
 * has `exported_namespace`) is set aside (`namespace.ts`), and so are the `pod` and workload
 * labels read in it: the text's own namespace (`ConfigMap shop/app`, `in the namespace "shop"`)
 * still counts, and without one a person says where the fix goes. An exporter scraped in the
 * failing object's own namespace names its own pod in `pod`: the object's labels are the
 * `exported_` ones where the alert has them (`objectLabels`).
 */
import { inferDeployment, objectLabels } from '@aaps/agents';
import { parse } from '../schema/check.js';
import * as s from '../schema/define.js';
import { openIncident } from './build-envelope.js';
import { alertNamespace } from './namespace.js';
import { createResultBuilder } from './result.js';
import type { IntakeContext, IntakeResult } from './types.js';

const LabelSet = s.named(
  'AlertmanagerLabelSet',
  s.record(s.string({ maxLength: 8192 }), { maxProperties: 256, maxKeyLength: 256 }),
);
const Timestamp = s.string({ format: 'date-time', maxLength: 64 });

export const AlertmanagerAlertSchema = s.named(
  'AlertmanagerAlert',
  s.object({
    status: s.enumOf(['firing', 'resolved']),
    labels: s.record(s.string({ maxLength: 8192 }), {
      minProperties: 1,
      maxProperties: 256,
      maxKeyLength: 256,
    }),
    annotations: s.optional(LabelSet),
    startsAt: Timestamp,
    endsAt: s.optional(Timestamp),
    generatorURL: s.optional(s.string({ maxLength: 4096 })),
    fingerprint: s.string({ minLength: 1, maxLength: 64, pattern: /^[0-9a-f]+$/ }),
  }),
  'One alert of the group. `fingerprint` identifies the label set; `endsAt` is 0001-01-01T00:00:00Z while firing.',
);

export const AlertmanagerWebhookSchema = s.named(
  'AlertmanagerWebhook',
  s.object({
    version: s.literal('4'),
    groupKey: s.string({ maxLength: 8192 }),
    truncatedAlerts: s.optional(s.integer({ minimum: 0 })),
    status: s.enumOf(['firing', 'resolved']),
    receiver: s.string({ maxLength: 256 }),
    groupLabels: LabelSet,
    commonLabels: LabelSet,
    commonAnnotations: LabelSet,
    externalURL: s.string({ maxLength: 4096 }),
    alerts: s.array(AlertmanagerAlertSchema, { minItems: 1, maxItems: 1000 }),
  }),
  'Alertmanager webhook_config payload, version 4.',
);
export type AlertmanagerWebhook = s.Infer<typeof AlertmanagerWebhookSchema>;

/** kube-state-metrics style labels that name a Kubernetes object, and the URI scheme for each. */
const RESOURCE_LABELS = [
  'deployment',
  'statefulset',
  'daemonset',
  'replicaset',
  'pod',
  'configmap',
  'secret',
  'resourcequota',
] as const;

/** `ns` undefined: the alert named no namespace, so it names no namespaced resource either. */
function resourcesFromLabels(labels: Record<string, string>, ns: string | undefined): string[] {
  const out: string[] = [];
  for (const key of ns === undefined ? [] : RESOURCE_LABELS) {
    const v = labels[key];
    if (v !== undefined && v !== '') out.push(`${key}://${ns}/${v}`);
  }
  const image = labels['image'];
  if (image !== undefined && image !== '') out.push(`image://${image}`);
  const inferred = inferredDeployment(labels, ns);
  if (inferred !== undefined) out.push(`deployment://${ns}/${inferred}`);
  return out;
}

/** The Deployment a `pod` label's name shows, when the alert names no workload itself. */
function inferredDeployment(labels: Record<string, string>, ns: string | undefined): string | undefined {
  const pod = labels['pod'];
  if (
    ns === undefined ||
    pod === undefined ||
    ['deployment', 'statefulset', 'daemonset'].some((k) => labels[k])
  )
    return undefined;
  return inferDeployment('Pod', pod);
}

export function alertmanagerDedupKey(fingerprint: string, startsAt: string): string {
  return `alertmanager:${fingerprint}:${startsAt}`;
}

export function intakeAlertmanager(body: unknown, ctx: IntakeContext): IntakeResult {
  const hook = parse(AlertmanagerWebhookSchema, body, 'invalid Alertmanager webhook');
  const out = createResultBuilder('alertmanager');
  hook.alerts.forEach((alert, i) => {
    const ref = `alerts[${i}]`;
    const dedup_key = alertmanagerDedupKey(alert.fingerprint, alert.startsAt);
    const correlation_key = `alertmanager:${alert.fingerprint}`;
    if (alert.status === 'resolved') {
      out.add({
        action: 'resolve',
        dedup_key,
        correlation_key,
        ref,
        at: alert.endsAt ?? alert.startsAt,
        actor: 'source:alertmanager',
      });
      return;
    }
    const labels = alert.labels;
    const annotations = alert.annotations ?? {};
    // No `namespace` label: none is guessed (see `SignalDraft.namespace`). One that is no
    // namespace name, a controller's own or a scraped exporter's is set aside (namespace.ts): no
    // resource is placed in it, and the fix goes to a person.
    const { namespace: ns, set_aside } = alertNamespace(labels, hook.commonLabels, ctx.controllerNamespaces);
    const messages = ['summary', 'description', 'message']
      .map((k) => annotations[k])
      .filter((m): m is string => m !== undefined && m !== '');
    const generator = alert.generatorURL ?? '';
    // The object's labels: a scrape without honor_labels names the exporter's pod in `pod` and the
    // failing one in `exported_pod` (metric-labels.ts).
    const object = objectLabels(labels);
    const inferred = inferredDeployment(object, ns);
    const cluster = labels['cluster'];
    out.add(
      openIncident(
        {
          source: 'alertmanager',
          ref,
          dedup_key,
          correlation_key,
          recurrence_keys: [correlation_key],
          namespace: ns,
          ...(set_aside === undefined ? {} : { namespace_set_aside: set_aside }),
          ...(cluster === undefined ? {} : { cluster }),
          affected_resources: resourcesFromLabels(object, ns),
          evidence_refs: [`alert://alertmanager/${alert.fingerprint}`, generator],
          metadata: {
            alertname: labels['alertname'] ?? '',
            labels,
            annotations,
            messages,
            ...(labels['reason'] === undefined ? {} : { reason: labels['reason'] }),
            ...(inferred === undefined
              ? {}
              : { workload: { kind: 'Deployment', name: inferred, inferred: true } }),
            fingerprint: alert.fingerprint,
            starts_at: alert.startsAt,
            group_key: hook.groupKey,
            receiver: hook.receiver,
            external_url: hook.externalURL,
            ...(generator === '' ? {} : { generator_url: generator }),
          },
        },
        ctx,
      ),
    );
  });
  return out.result();
}
