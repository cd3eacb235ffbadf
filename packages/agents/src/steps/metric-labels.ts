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

/** `labels` with each `exported_<name>` label's value read as `<name>`'s. */
export function objectLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(EXPORTED) && key.length > EXPORTED.length && value !== '')
      out[key.slice(EXPORTED.length)] = value;
  }
  return out;
}

/** One label of the object ({@link objectLabels}): `exported_<name>` when the alert has it. */
export function objectLabel(labels: Readonly<Record<string, unknown>>, name: string): unknown {
  const exported = labels[`${EXPORTED}${name}`];
  return exported !== undefined && exported !== '' ? exported : labels[name];
}
