/**
 * Whether a namespace a signal gives can be where a fix goes. A value that is no Kubernetes
 * namespace name (`Shop_Prod`, `shop prod`: a relabelling mistake, another system's label) names
 * no namespace a change could be made in; the intake then sets it aside
 * (`metadata.namespace_set_aside`) and the fix goes to a person, who is told why, rather than to the
 * parties, who would refuse its target and end the incident `rejected`.
 */

/** DNS-1123 label, as Kubernetes validates a namespace's name. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isNamespaceName(value: string): boolean {
  return NAMESPACE_NAME.test(value);
}

/**
 * Why a namespace the source gave is not used:
 * - `not_a_namespace`: it is no Kubernetes namespace name;
 * - `controller_namespace`: it is where the reporting controller runs (an alert on the logs of a
 *   pod in `kyverno`, `argocd`, `kube-system`...), not where the failure it reports is;
 * - `exporter_namespace`: the alert also carries `exported_namespace`, so `namespace` is the
 *   scraped exporter's (a scrape without `honor_labels`), not the object's.
 */
export type NamespaceSetAsideWhy = 'not_a_namespace' | 'controller_namespace' | 'exporter_namespace';

export interface NamespaceSetAside {
  namespace: string;
  why: NamespaceSetAsideWhy;
}

const WHYS: readonly string[] = ['not_a_namespace', 'controller_namespace', 'exporter_namespace'];

/** `metadata.namespace_set_aside`, when a signal carries a well-formed one. */
export function readNamespaceSetAside(value: unknown): NamespaceSetAside | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { namespace, why } = value as Record<string, unknown>;
  if (typeof namespace !== 'string' || typeof why !== 'string' || !WHYS.includes(why)) return undefined;
  return { namespace, why: why as NamespaceSetAsideWhy };
}

/** What a person is told about a namespace set aside, for an escalation's detail. */
export function describeSetAside(s: NamespaceSetAside): string {
  const ns = JSON.stringify(s.namespace.slice(0, 80));
  switch (s.why) {
    case 'not_a_namespace':
      return `the signal's namespace ${ns} is not a valid Kubernetes namespace name`;
    case 'controller_namespace':
      return `the alert comes from namespace ${ns}, where a controller runs that reports on workloads in other namespaces, and its text names no namespace of its own`;
    case 'exporter_namespace':
      return `the alert's namespace ${ns} is the scraped exporter's (it also carries exported_namespace)`;
  }
}
