/**
 * The labels an alert's metric gave the object it is about. Prometheus scraping an exporter
 * (kube-state-metrics) without `honor_labels` keeps the scrape target's own `namespace`, `pod`
 * and `container` labels and renames the metric's clashing ones `exported_namespace`,
 * `exported_pod`, `exported_container`: then the un-prefixed labels name the exporter's pod, and
 * the `exported_` ones the failing object. Where the two namespaces differ the alert's namespace is
 * set aside (`exporter_namespace`, namespace.ts); where they are the same (the exporter runs in
 * the failing workload's namespace) only the `exported_` labels tell the pods apart.
 */

const EXPORTED = 'exported_';

/**
 * `labels` with each `exported_<name>` label's value read as `<name>`'s (an empty one is none: it
 * leaves `<name>` as it is). One label of the object is `objectLabels(labels)[name]`.
 */
export function objectLabels<T>(labels: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = { ...labels };
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(EXPORTED) && key.length > EXPORTED.length && value !== '')
      out[key.slice(EXPORTED.length)] = value;
  }
  return out;
}
