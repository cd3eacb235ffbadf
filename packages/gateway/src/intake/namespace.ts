/**
 * The namespace a source gives, read as where a fix may go, or set aside with the reason
 * (`@aaps/agents`, `steps/namespace.ts`): a value that is no Kubernetes namespace name, or, for an
 * alert, the namespace of the controller that reported a failure elsewhere. A namespace set aside
 * is kept in `metadata.namespace_set_aside` and is not used for any resource URI, so the fix goes
 * to a person who is told why (`no_namespace`), never to a namespace nobody meant.
 */
import { isNamespaceName, type NamespaceSetAside } from '@aaps/agents';

/**
 * Namespaces where controllers run that report failures of workloads in other namespaces in their
 * own logs (the Kubernetes control plane, Argo CD, Flux, admission and signature policy engines,
 * certificate, secret and ingress controllers). An alert on such a pod's logs carries that pod's
 * namespace, not the failing workload's.
 */
export const CONTROLLER_NAMESPACES: ReadonlySet<string> = new Set([
  'kube-system',
  'argocd',
  'openshift-gitops',
  'flux-system',
  'kyverno',
  'gatekeeper-system',
  'cosign-system',
  'connaisseur',
  'cert-manager',
  'external-secrets',
  'ingress-nginx',
  'istio-system',
]);

export interface SourceNamespace {
  /** Where a fix may go; `undefined` when the source named none, or its namespace was set aside. */
  namespace: string | undefined;
  set_aside?: NamespaceSetAside;
}

/** A namespace the source named (`''` is none): kept if it is a Kubernetes namespace name. */
export function sourceNamespace(named: string | undefined): SourceNamespace {
  if (named === undefined || named === '') return { namespace: undefined };
  return isNamespaceName(named)
    ? { namespace: named }
    : { namespace: undefined, set_aside: { namespace: named, why: 'not_a_namespace' } };
}

/**
 * An alert's namespace: `exported_namespace` present (and another) says `namespace` is the scraped
 * exporter's; a controller's namespace (built in, or one of `moreControllers`, the gateway's
 * `--controller-namespaces`) is the reporter's. Either is set aside: the object's namespace is
 * then not known from the labels.
 */
export function alertNamespace(
  labels: Record<string, string>,
  common: Record<string, string>,
  moreControllers: ReadonlySet<string> = new Set(),
): SourceNamespace {
  const named = labels['namespace'] ?? common['namespace'];
  const read = sourceNamespace(named);
  if (read.namespace === undefined) return read;
  const exported = labels['exported_namespace'];
  if (exported !== undefined && exported !== '' && exported !== read.namespace) {
    return { namespace: undefined, set_aside: { namespace: read.namespace, why: 'exporter_namespace' } };
  }
  if (CONTROLLER_NAMESPACES.has(read.namespace) || moreControllers.has(read.namespace)) {
    return { namespace: undefined, set_aside: { namespace: read.namespace, why: 'controller_namespace' } };
  }
  return read;
}
