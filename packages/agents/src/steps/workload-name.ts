/**
 * The Deployment a Pod or ReplicaSet most likely belongs to, read from its name. A Deployment's
 * ReplicaSet is `<deployment>-<pod-template-hash>` and its pods add `-<5 characters>`; both come
 * from Kubernetes' "safe" alphabet (no vowels, no 0, 1 or 3). A CronJob's Job is
 * `<cronjob>-<scheduled minute>`, all digits: a hash part with no letter is read as that (a
 * Deployment's hash is almost never all digits), so `report-28912345-q7k2p` and
 * `report-28924567-q7k2p` infer nothing. Still a guess from a name: the problem solver does not
 * roll back a workload it could only find this way.
 */

const HASH = '[bcdfghjklmnpqrstvwxz2456789]';
const POD_OF_DEPLOYMENT = new RegExp(`^(.+)-(${HASH}{6,10})-${HASH}{5}$`);
const REPLICASET_OF_DEPLOYMENT = new RegExp(`^(.+)-(${HASH}{6,10})$`);

/** `kind` is the Kubernetes kind, `Pod` or `ReplicaSet`; any other kind infers nothing. */
export function inferDeployment(kind: string, name: string): string | undefined {
  const m =
    kind === 'Pod'
      ? POD_OF_DEPLOYMENT.exec(name)
      : kind === 'ReplicaSet'
        ? REPLICASET_OF_DEPLOYMENT.exec(name)
        : null;
  if (m === null || /^\d+$/.test(m[2]!)) return undefined;
  return m[1];
}
