/**
 * Each action's parameters, strictly: a party approves only parameters it understands, so an
 * unknown field or a missing one is a refusal, not something to ignore.
 */

import { parseQuantity } from './quantity.js';
import { type JsonValue, Reader } from './reader.js';
import { type ResourceRef, tryParseResourceUri } from './resource-uri.js';
import type { ActionName, HUMAN_ACTIONS } from './roles.js';

/** Where a ConfigMap or Secret is re-rendered from. */
export type SourceOfTruth =
  | { kind: 'gitops'; repo: string; path: string; revision?: string }
  | { kind: 'last_known_good'; version: string };

export interface ConfigReloadParameters {
  source: SourceOfTruth;
  /** Workloads (`deployment://ns/name`, same namespace as the target) restarted after the reload. */
  rollout_restart: string[];
}

export type ImageRollbackParameters =
  | {
      basis: 'deployment_history';
      container: string;
      to_image: string;
      from_image?: string;
      /** The container is in `spec.initContainers` (the plan edits that list). */
      init_container?: true;
    }
  /** No known-good digest: back to the previous revision, as `kubectl rollout undo` does. */
  | { basis: 'previous_revision'; to_revision: 'previous'; container?: string; from_image?: string };

export interface QuotaChange {
  /** Quota resource name, e.g. `limits.cpu`. */
  resource: string;
  current_hard: string;
  new_hard: string;
  used: string;
  requested: string;
}

export interface QuotaAdjustParameters {
  changes: QuotaChange[];
}

export interface PodRestartParameters {
  strategy: 'rollout_restart';
}

export interface HumanActionParameters {
  summary: string;
  details?: JsonValue;
}

export type ActionParameters =
  | {
      action: 'configmap_reload' | 'secret_template_render';
      params: ConfigReloadParameters;
      workloads: ResourceRef[];
    }
  | { action: 'image_rollback'; params: ImageRollbackParameters }
  | { action: 'resource_quota_adjust'; params: QuotaAdjustParameters; figures: QuotaFigures[] }
  | { action: 'pod_restart'; params: PodRestartParameters }
  | { action: (typeof HUMAN_ACTIONS)[number]; params: HumanActionParameters };

/** Quota figures in nano-units. */
export interface QuotaFigures {
  current_hard: bigint;
  new_hard: bigint;
  used: bigint;
  requested: bigint;
}

const TEXT = { max: 512 };
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]{0,510}$/;
const CONTAINER = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const WORKLOAD_KINDS = ['deployment', 'statefulset', 'daemonset'];

/** Whether `name` is a container name (a DNS-1123 label) a rollback's `container` may be. */
export function isContainerName(name: string): boolean {
  return CONTAINER.test(name);
}

/** Whether `ref` is spelled as a rollback's `to_image` or `from_image` may be. */
export function isImageReference(ref: string): boolean {
  return IMAGE.test(ref);
}

/**
 * The repository an image reference names: the reference without its `@digest` and its `:tag` (a
 * colon after the last `/`; one before it is a registry port). Undefined when a path component is
 * empty, `.` or `..`, which no registry name has and a URL path would resolve elsewhere.
 */
export function imageRepository(image: string): string | undefined {
  const at = image.indexOf('@');
  const named = at === -1 ? image : image.slice(0, at);
  const colon = named.lastIndexOf(':');
  const repository = colon > named.lastIndexOf('/') ? named.slice(0, colon) : named;
  const parts = repository.split('/');
  return parts.some((p) => p === '' || p === '.' || p === '..') ? undefined : repository;
}

/**
 * Parse the parameters of `action` targeting `target`; throws `ValidationError` whose fields are
 * dot paths under `parameters.`.
 */
export function parseActionParameters(
  action: ActionName,
  target: ResourceRef,
  value: unknown,
): ActionParameters {
  const r = new Reader();
  const out = read(r, action, target, value);
  r.throwIfAny('parameters');
  return out!;
}

function read(
  r: Reader,
  action: ActionName,
  target: ResourceRef,
  value: unknown,
): ActionParameters | undefined {
  const P = 'parameters';
  switch (action) {
    case 'configmap_reload':
    case 'secret_template_render': {
      const o = r.object(value, P, ['source', 'rollout_restart']);
      if (!o) return undefined;
      const source = readSource(r, o['source']);
      const workloads: ResourceRef[] = [];
      const uris = r.array(
        o['rollout_restart'],
        `${P}.rollout_restart`,
        (v, p) => {
          const ref = tryParseResourceUri(v);
          if (!ref || !WORKLOAD_KINDS.includes(ref.kind)) return r.report(p, 'expected a workload URI');
          if (ref.namespace !== target.namespace) return r.report(p, 'not in the target namespace');
          workloads.push(ref);
          return v as string;
        },
        { max: 64, unique: true },
      );
      if (!source || !uris) return undefined;
      return { action, params: { source, rollout_restart: uris }, workloads };
    }
    case 'image_rollback': {
      const o = r.object(
        value,
        P,
        ['basis'],
        ['container', 'to_image', 'to_revision', 'from_image', 'init_container'],
      );
      if (!o) return undefined;
      const basis = r.oneOf(o['basis'], `${P}.basis`, ['deployment_history', 'previous_revision'] as const);
      const container =
        o['container'] === undefined && basis === 'previous_revision'
          ? undefined
          : r.string(o['container'], `${P}.container`, { pattern: CONTAINER });
      const from =
        o['from_image'] === undefined
          ? undefined
          : r.string(o['from_image'], `${P}.from_image`, { pattern: IMAGE });
      if (basis === 'deployment_history') {
        if (o['to_revision'] !== undefined) r.report(`${P}.to_revision`, 'not with basis deployment_history');
        const to = r.string(o['to_image'], `${P}.to_image`, { pattern: IMAGE });
        const init =
          o['init_container'] === undefined ? false : r.boolean(o['init_container'], `${P}.init_container`);
        if (!to || !container || init === undefined) return undefined;
        const params: ImageRollbackParameters = { basis, container, to_image: to };
        if (from) params.from_image = from;
        if (init) params.init_container = true;
        return { action, params };
      }
      if (basis === 'previous_revision') {
        if (o['to_image'] !== undefined) r.report(`${P}.to_image`, 'not with basis previous_revision');
        if (o['init_container'] !== undefined) {
          r.report(`${P}.init_container`, 'not with basis previous_revision');
        }
        const rev = r.oneOf(o['to_revision'], `${P}.to_revision`, ['previous'] as const);
        if (!rev) return undefined;
        const params: ImageRollbackParameters = { basis, to_revision: rev };
        if (container) params.container = container;
        if (from) params.from_image = from;
        return { action, params };
      }
      return undefined;
    }
    case 'resource_quota_adjust': {
      const o = r.object(value, P, ['changes']);
      if (!o) return undefined;
      const figures: QuotaFigures[] = [];
      const changes = r.array(
        o['changes'],
        `${P}.changes`,
        (v, p): QuotaChange | undefined => {
          const c = r.object(v, p, ['resource', 'current_hard', 'new_hard', 'used', 'requested']);
          if (!c) return undefined;
          const resource = r.string(c['resource'], `${p}.resource`, { max: 128 });
          const q = (k: keyof QuotaFigures): bigint | undefined => {
            try {
              return parseQuantity(c[k], `${p}.${k}`);
            } catch {
              return r.report(`${p}.${k}`, 'not a Kubernetes quantity');
            }
          };
          const f = {
            current_hard: q('current_hard'),
            new_hard: q('new_hard'),
            used: q('used'),
            requested: q('requested'),
          };
          if (!resource || Object.values(f).some((x) => x === undefined)) return undefined;
          figures.push(f as QuotaFigures);
          return {
            resource,
            current_hard: c['current_hard'] as string,
            new_hard: c['new_hard'] as string,
            used: c['used'] as string,
            requested: c['requested'] as string,
          };
        },
        { min: 1, max: 16 },
      );
      if (changes) {
        const names = changes.map((c) => c.resource);
        names.forEach((n, i) => {
          if (names.indexOf(n) !== i) r.report(`${P}.changes.${i}.resource`, 'duplicate');
        });
      }
      if (!changes || changes.length !== figures.length) return undefined;
      return { action, params: { changes }, figures };
    }
    case 'pod_restart': {
      const o = r.object(value, P, ['strategy']);
      const strategy = o && r.oneOf(o['strategy'], `${P}.strategy`, ['rollout_restart'] as const);
      return strategy ? { action, params: { strategy } } : undefined;
    }
    default: {
      const o = r.object(value, P, ['summary'], ['details']);
      if (!o) return undefined;
      const summary = r.string(o['summary'], `${P}.summary`, TEXT);
      const details = o['details'] === undefined ? undefined : r.json(o['details'], `${P}.details`);
      if (!summary) return undefined;
      const params: HumanActionParameters = { summary };
      if (details !== undefined) params.details = details;
      return { action, params };
    }
  }
}

function readSource(r: Reader, value: unknown): SourceOfTruth | undefined {
  const P = 'parameters.source';
  const kind = r.object(value, P, ['kind'], ['repo', 'path', 'revision', 'version'])?.['kind'];
  if (kind === 'gitops') {
    const o = r.object(value, P, ['kind', 'repo', 'path'], ['revision']);
    const repo = o && r.string(o['repo'], `${P}.repo`, TEXT);
    const path = o && r.string(o['path'], `${P}.path`, TEXT);
    const revision =
      o?.['revision'] === undefined ? undefined : r.string(o['revision'], `${P}.revision`, TEXT);
    if (!repo || !path) return undefined;
    return revision ? { kind, repo, path, revision } : { kind, repo, path };
  }
  if (kind === 'last_known_good') {
    const o = r.object(value, P, ['kind', 'version']);
    const version = o && r.string(o['version'], `${P}.version`, TEXT);
    return version ? { kind, version } : undefined;
  }
  if (kind !== undefined) r.report(`${P}.kind`, 'expected gitops or last_known_good');
  return undefined;
}
