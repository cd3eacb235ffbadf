/**
 * What a signal says did not change the cluster, read from the intake's metadata: a workload whose
 * own update an Argo CD sync could not apply, and a policy report that blocked nothing. Neither is
 * a workload running something bad: rolling it back (`kubectl rollout undo`) would replace the
 * revision that runs, healthy, with the one before it.
 */
import { isPlainObject } from '../policy/reader.js';

/** The workload kinds an image rollback targets, by the kind Argo CD names. */
const WORKLOAD_KINDS: Readonly<Record<string, string>> = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
};

export interface RefusedSync {
  /** `deployment://ns/name` of each workload whose own manifest the sync failed to apply. */
  workloads: string[];
  /** Argo CD's `status.health.status` of the application, when the notification carried it. */
  health?: string;
  /** The revision whose sync failed, when named. */
  revision?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * The workloads among an Argo CD sync's failed resources (`metadata.source: argocd`,
 * `argo_resources`): Argo CD marks a resource `SyncFailed` when applying its manifest failed (an
 * admission webhook refused it, the API server found it invalid), so the live object is the one
 * from before the sync. `undefined` for any other signal, or one that names no workload so.
 */
export function refusedSync(meta: unknown): RefusedSync | undefined {
  if (!isPlainObject(meta) || meta['source'] !== 'argocd' || !Array.isArray(meta['argo_resources'])) {
    return undefined;
  }
  const workloads = meta['argo_resources'].flatMap((r) => {
    if (!isPlainObject(r)) return [];
    const scheme = WORKLOAD_KINDS[str(r['kind']) ?? ''];
    const group = str(r['group']);
    const ns = str(r['namespace']);
    const name = str(r['name']);
    if (scheme === undefined || (group !== undefined && group !== 'apps') || !ns || !name) return [];
    return [`${scheme}://${ns}/${name}`];
  });
  if (workloads.length === 0) return undefined;
  const health = str(meta['health_status']);
  const revision = str(meta['revision']);
  return {
    workloads: [...new Set(workloads)].sort(),
    ...(health === undefined ? {} : { health }),
    ...(revision === undefined ? {} : { revision }),
  };
}

export interface PolicyReport {
  /** The source's reason word (`PolicyViolation`). */
  reason: string;
  /** Who reported it (`kyverno-scan`), when the source said. */
  reporter?: string;
}

/**
 * A policy engine's report that an existing object violates a policy (`metadata.policy_report`,
 * which the Kubernetes intake sets for Kyverno's `PolicyViolation` and Gatekeeper's
 * `AuditViolation`/`DryrunViolation` events): in audit mode nothing was blocked, and an enforced
 * denial is reported by the refused controller's own event (`FailedCreate`), not by this one.
 */
export function policyReport(meta: unknown): PolicyReport | undefined {
  if (!isPlainObject(meta) || !isPlainObject(meta['policy_report'])) return undefined;
  const p = meta['policy_report'];
  const reason = str(p['reason']) ?? 'policy report';
  const reporter = str(p['reporter']);
  return reporter === undefined ? { reason } : { reason, reporter };
}
