/**
 * The deployment-history line an image rollback goes back to, in the container that fails.
 *
 * A workload's history holds one line per container: a sidecar's upgrade is a line of the same
 * workload, and the newest healthy line may well be of another container than the failing one.
 * The failing container is the one the signal names (a Kubernetes event's `spec.containers{web}`),
 * or, when it names none, the one container of the workload whose lines run images of the failing
 * image's repository. The line is that container's newest that ran healthy, pinned by digest, with
 * no signature found invalid, of the failing image's repository and not possibly the failing image
 * itself. Anything less certain is no target: the caller rolls back to the previous revision
 * instead and says why, rather than guess a container.
 */
import { isContainerName, isImageReference } from '../policy/parameters.js';
import { isPlainObject } from '../policy/reader.js';
import { maybeSameImage, repositoryOf } from './image-ref.js';
import type { DeploymentRecord } from './problem-solver.js';

export interface RollbackQuery {
  workload: string;
  /** The failing image, as the signal names it. */
  failing: string | undefined;
  /** The container names the signal gives (`IncidentFacts.containers`). */
  containers: readonly string[];
  /** Deployment history; lines of other workloads are ignored. */
  history: readonly DeploymentRecord[];
}

export type RollbackTarget =
  | {
      found: true;
      container: string;
      /** How the container was told to be the failing one. */
      how: string;
      record: DeploymentRecord;
    }
  | { found: false; why: string };

const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;

/**
 * The lines of `workload` a rollback could name: a container name and an image reference the
 * parties' parameter check accepts. The others are `skipped`: proposing one only has it refused.
 */
export function rollbackLines(
  history: readonly DeploymentRecord[],
  workload: string,
): { lines: DeploymentRecord[]; skipped: number } {
  const own = history.filter((h) => h.workload === workload);
  const lines = own.filter((h) => isContainerName(h.container) && isImageReference(h.image));
  return { lines, skipped: own.length - lines.length };
}

/** See the module comment; `history` should hold only {@link rollbackLines}. */
export function rollbackTarget(q: RollbackQuery): RollbackTarget {
  const { workload, failing, containers } = q;
  if (failing === undefined) {
    return { found: false, why: 'the signal names no failing image, so no image of its repository is known' };
  }
  const repository = repositoryOf(failing);
  const lines = q.history.filter((h) => h.workload === workload);
  let container: string;
  let how: string;
  if (containers.length > 1) {
    return {
      found: false,
      why: `the signal names containers ${containers.join(', ')}: which one fails is not known`,
    };
  }
  if (containers.length === 1) {
    const named = containers[0]!;
    if (!isContainerName(named)) {
      return {
        found: false,
        why: `the signal names ${JSON.stringify(named.slice(0, 80))} as the container, which is not a container name`,
      };
    }
    container = named;
    how = `the signal names container ${named}`;
  } else {
    const running = [
      ...new Set(lines.filter((h) => repositoryOf(h.image) === repository).map((h) => h.container)),
    ].sort();
    if (running.length === 0) {
      return {
        found: false,
        why: `no known-good digest in the deployment history: no line of ${workload} runs an image of ${repository}`,
      };
    }
    if (running.length > 1) {
      return {
        found: false,
        why: `containers ${running.join(', ')} of ${workload} each run images of ${repository}, and the signal names none: which one fails is not known`,
      };
    }
    container = running[0]!;
    how = `${container} is the one container of ${workload} whose history runs images of ${repository}`;
  }
  const record = lines
    .filter(
      (h) =>
        h.container === container &&
        h.outcome === 'healthy' &&
        h.signature_verified !== false &&
        DIGEST_PINNED.test(h.image) &&
        repositoryOf(h.image) === repository &&
        !maybeSameImage(h.image, failing),
    )
    .sort((a, b) => b.revision - a.revision)[0];
  if (record === undefined) {
    return {
      found: false,
      why: `no known-good digest in the deployment history for container ${container}: none of its healthy, digest-pinned lines runs another image of ${repository}`,
    };
  }
  return { found: true, container, how, record };
}

/**
 * Whether the signal names `container` as an init container: the Kubernetes intake's
 * `object: {container, init_container: true}` (an Event's field path `spec.initContainers{name}`),
 * or `spec.initContainers{name}` in its text. Kubernetes keeps container names unique across a pod's
 * containers and init containers, so the name alone says which list; this says which list to edit.
 */
export function initContainerNamed(meta: unknown, container: string): boolean {
  if (!isPlainObject(meta)) return false;
  const object = isPlainObject(meta['object']) ? meta['object'] : {};
  if (object['container'] === container && object['init_container'] === true) return true;
  const texts = Array.isArray(meta['messages']) ? meta['messages'] : [];
  const needle = `spec.initContainers{${container}}`;
  return texts.some((t) => typeof t === 'string' && t.includes(needle));
}
