/**
 * The concrete change an approved proposal makes, as field operations on Kubernetes manifests.
 * Pure. The dry-run executor records it; the GitOps executor applies it to manifests in git.
 */
import { type ApprovalProposal, maybeSameImage, parseQuantity, parseResourceUri } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';

/** A path segment: an object key, or the element of a list whose `name` is given. */
export type PathSegment = string | { name: string };

export interface FieldOp {
  path: PathSegment[];
  value: string;
  /**
   * What the parties signed as the field's value before the change (a quota's `current_hard`, an
   * image rollback's `from_image`): `value` is written only over that. Compared as Kubernetes
   * quantities (`4` is `4000m`) or as image references (a tag and a digest may be one image).
   */
  was?: { value: string; as: 'quantity' | 'image' };
}

export interface ResourceChange {
  /** `kind://namespace/name`. */
  resource: string;
  kind: string;
  namespace: string;
  name: string;
  set: FieldOp[];
  /**
   * Replace the whole manifest with the file `path` as it was at Git `revision` before `set`
   * applies: a re-render pinned to a revision known to have deployed (the head being the source
   * that failed). Only an executor that reads Git can carry it out.
   */
  restore?: { revision: string; path: string };
}

export interface ChangePlan {
  action: string;
  target: string;
  summary: string;
  resources: ResourceChange[];
  /** Steps that are not field edits (e.g. `kubectl rollout undo`). */
  notes: string[];
}

const RESTARTED_AT = 'aaps.dev/restarted-at';
const RESTORE_VERSION = 'aaps.dev/restore-version';

function resourceOf(uri: string, set: FieldOp[]): ResourceChange {
  const ref = parseResourceUri(uri);
  return { resource: uri, kind: ref.kind, namespace: ref.namespace ?? '', name: ref.name, set };
}

/**
 * A resource URI as kubectl takes it: `deployment://payments/ledger` is `deployment/ledger -n
 * payments`, a cluster-scoped `clusterrole://view` is `clusterrole/view`.
 */
export function kubectlResource(uri: string): string {
  const ref = parseResourceUri(uri);
  return ref.namespace === undefined
    ? `${ref.kind}/${ref.name}`
    : `${ref.kind}/${ref.name} -n ${ref.namespace}`;
}

function restart(uri: string, at: string): ResourceChange {
  return resourceOf(uri, [
    { path: ['spec', 'template', 'metadata', 'annotations', RESTARTED_AT], value: at },
  ]);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The field edits `proposal` makes; `at` stamps rollout restarts (the approval time). */
export function planChange(proposal: ApprovalProposal, at: string): ChangePlan {
  const p = proposal.parameters;
  const base = { action: proposal.action, target: proposal.target };
  switch (proposal.action) {
    case 'image_rollback': {
      if (p['basis'] === 'previous_revision') {
        return {
          ...base,
          summary: `roll ${proposal.target} back to its previous revision`,
          resources: [],
          notes: [`kubectl rollout undo ${kubectlResource(proposal.target)}`],
        };
      }
      const container = String(p['container'] ?? '');
      const image = String(p['to_image'] ?? '');
      // An init container is in its own list (names are unique across both lists).
      const list = p['init_container'] === true ? 'initContainers' : 'containers';
      const op: FieldOp = {
        path: ['spec', 'template', 'spec', list, { name: container }, 'image'],
        value: image,
      };
      if (typeof p['from_image'] === 'string') op.was = { value: p['from_image'], as: 'image' };
      return {
        ...base,
        summary: `set ${list === 'initContainers' ? 'init container ' : ''}${container} of ${proposal.target} to ${image}`,
        resources: [resourceOf(proposal.target, [op])],
        notes: [],
      };
    }
    case 'resource_quota_adjust': {
      const changes = Array.isArray(p['changes']) ? p['changes'] : [];
      const set: FieldOp[] = changes.map((c) => {
        const change = c as { resource?: unknown; current_hard?: unknown; new_hard?: unknown };
        return {
          path: ['spec', 'hard', String(change.resource)],
          value: String(change.new_hard),
          was: { value: String(change.current_hard), as: 'quantity' },
        };
      });
      return {
        ...base,
        summary: `raise ${set.map((s) => `${String(s.path[2])} to ${s.value}`).join(', ')} in ${proposal.target}`,
        resources: [resourceOf(proposal.target, set)],
        notes: [],
      };
    }
    case 'configmap_reload':
    case 'secret_template_render': {
      const source = (p['source'] ?? {}) as {
        kind?: string;
        version?: string;
        repo?: string;
        path?: string;
        revision?: string;
      };
      const restarts = strings(p['rollout_restart']).map((w) => restart(w, at));
      const pinned =
        source.kind === 'gitops' && typeof source.revision === 'string' ? source.revision : undefined;
      const own =
        source.kind === 'last_known_good'
          ? [
              resourceOf(proposal.target, [
                { path: ['metadata', 'annotations', RESTORE_VERSION], value: String(source.version) },
              ]),
            ]
          : pinned !== undefined
            ? [
                {
                  ...resourceOf(proposal.target, []),
                  restore: { revision: pinned, path: String(source.path) },
                },
              ]
            : [];
      const from =
        source.kind === 'gitops'
          ? `${source.repo}:${source.path}${pinned === undefined ? '' : ` at ${pinned}`}`
          : `version ${source.version}`;
      return {
        ...base,
        summary: `re-render ${proposal.target} from ${from} and restart ${restarts.length} workload(s)`,
        resources: [...own, ...restarts],
        notes:
          source.kind === 'gitops' && pinned === undefined
            ? [`re-apply ${source.path} from ${source.repo}`]
            : [],
      };
    }
    case 'pod_restart':
      return {
        ...base,
        summary: `rollout restart ${proposal.target}`,
        resources: [restart(proposal.target, at)],
        notes: [],
      };
    default:
      return {
        ...base,
        summary: String(p['summary'] ?? proposal.action),
        resources: [],
        notes: [`${proposal.action} on ${proposal.target} is carried out by a person`],
      };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Applies `ops` to a copy of `manifest`. A list element named in a path must exist; missing object
 * keys are created. Throws `ValidationError` (`NOT_FOUND`) naming the path that does not resolve.
 */
export function applyFieldOps(manifest: unknown, ops: readonly FieldOp[]): Record<string, unknown> {
  const root = structuredClone(manifest);
  if (!isObject(root)) throw new ValidationError('INVALID_ARGUMENT', 'manifest: expected an object', ['$']);
  for (const op of ops) {
    let node: unknown = root;
    const where = fieldName(op.path);
    op.path.forEach((seg, i) => {
      const last = i === op.path.length - 1;
      if (typeof seg === 'string') {
        if (!isObject(node))
          throw new ValidationError('NOT_FOUND', `manifest: ${where} does not resolve`, [where]);
        if (last) node[seg] = op.value;
        else {
          if (node[seg] === undefined) node[seg] = {};
          node = node[seg];
        }
      } else {
        const list: unknown = node;
        const item = Array.isArray(list)
          ? list.find((x) => isObject(x) && x['name'] === seg.name)
          : undefined;
        if (item === undefined || last) {
          throw new ValidationError('NOT_FOUND', `manifest: ${where} does not resolve`, [where]);
        }
        node = item;
      }
    });
  }
  return root;
}

/**
 * Whether `manifest` holds what `op` was signed against (`op.was`; always true without it). A value
 * that is no quantity, or no string, holds only what is spelled the same.
 */
export function holdsSignedValue(manifest: unknown, op: FieldOp): boolean {
  if (op.was === undefined) return true;
  const now = readField(manifest, op.path);
  if (typeof now !== 'string') return false;
  if (op.was.as === 'image') return maybeSameImage(now, op.was.value);
  try {
    return parseQuantity(now) === parseQuantity(op.was.value);
  } catch {
    return now === op.was.value;
  }
}

/** A path as errors name it: `spec.hard.limits.cpu`, `spec.template.spec.containers.[name=web].image`. */
export function fieldName(path: readonly PathSegment[]): string {
  return path.map((s) => (typeof s === 'string' ? s : `[name=${s.name}]`)).join('.');
}

/** The value at `path` in `manifest`, or `undefined`. */
export function readField(manifest: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = manifest;
  for (const seg of path) {
    if (typeof seg === 'string') node = isObject(node) ? node[seg] : undefined;
    else node = Array.isArray(node) ? node.find((x) => isObject(x) && x['name'] === seg.name) : undefined;
  }
  return node;
}
