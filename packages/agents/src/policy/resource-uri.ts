/**
 * Resource URIs name the Kubernetes object an action touches: `kind://namespace/name`, or
 * `kind://name` for cluster-scoped kinds. The namespace is part of the signed bytes, so a
 * namespaced kind without one is rejected rather than resolved from somewhere else.
 */
import { ValidationError } from '@aaps/mpc-core';
import { CLUSTER_SCOPED_KINDS, RESOURCE_KINDS, type ResourceKind } from './roles.js';

export interface ResourceRef {
  kind: ResourceKind;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
}

// DNS-1123 subdomain (names) and label (namespaces), as Kubernetes validates them.
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const URI = /^([a-z]+):\/\/(?:([^/]+)\/)?([^/]+)$/;

/** Parse `kind://namespace/name`; throws `ValidationError` naming `field`. */
export function parseResourceUri(uri: unknown, field = 'target'): ResourceRef {
  const bad = (why: string): ValidationError =>
    new ValidationError('INVALID_ARGUMENT', `${field}: ${why}`, [field]);
  if (typeof uri !== 'string') throw bad('expected a resource URI string');
  const m = URI.exec(uri);
  if (!m) throw bad('expected kind://namespace/name');
  const [, kind, namespace, name] = m;
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind!))
    throw bad(`unknown kind ${JSON.stringify(kind)}`);
  const k = kind as ResourceKind;
  if (!NAME.test(name!)) throw bad('name is not a valid Kubernetes name');
  const clusterScoped = CLUSTER_SCOPED_KINDS.includes(k);
  if (clusterScoped) {
    if (namespace !== undefined) throw bad(`${k} is cluster-scoped and takes no namespace`);
    return { kind: k, name: name! };
  }
  if (namespace === undefined) throw bad(`${k} is namespaced: expected ${k}://namespace/name`);
  if (!NAMESPACE.test(namespace)) throw bad('namespace is not a valid Kubernetes namespace');
  return { kind: k, namespace, name: name! };
}

export function formatResourceUri(ref: ResourceRef): string {
  return ref.namespace === undefined
    ? `${ref.kind}://${ref.name}`
    : `${ref.kind}://${ref.namespace}/${ref.name}`;
}

/** Like {@link parseResourceUri} but returns `undefined` instead of throwing. */
export function tryParseResourceUri(uri: unknown): ResourceRef | undefined {
  try {
    return parseResourceUri(uri);
  } catch {
    return undefined;
  }
}

const EVIDENCE_REF = /^[a-z][a-z0-9+.-]*:\/\/\S+$/;

/** An evidence reference is a URI with a scheme (`log://pod-xyz`, `sbom://app:sha256-…`). */
export function isEvidenceRef(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 4096 && EVIDENCE_REF.test(value);
}
