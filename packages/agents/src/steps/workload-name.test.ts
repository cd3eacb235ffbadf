import { describe, expect, it } from 'vitest';
import { inferDeployment } from './workload-name.js';

describe('the Deployment a pod or ReplicaSet name shows', () => {
  it("reads a Deployment's pods and ReplicaSets by their pod-template hash", () => {
    expect(inferDeployment('Pod', 'web-7d9f8b6c5-4lqpz')).toBe('web');
    expect(inferDeployment('ReplicaSet', 'api-server-6c8d5f7b9')).toBe('api-server');
  });

  it("reads nothing from other owners' names: StatefulSets, Jobs, a CronJob's minute", () => {
    expect(inferDeployment('Pod', 'postgres-0')).toBeUndefined();
    expect(inferDeployment('Job', 'deploy-bot')).toBeUndefined();
    // A Job of a CronJob is `<name>-<scheduled minute>`: outside the hash alphabet, or all digits.
    expect(inferDeployment('Pod', 'report-28912345-q7k2p')).toBeUndefined();
    expect(inferDeployment('Pod', 'report-28924567-q7k2p')).toBeUndefined();
    expect(inferDeployment('ReplicaSet', 'report-28924567')).toBeUndefined();
    // Words have vowels, which a hash never has.
    expect(inferDeployment('Pod', 'log-collector-abcde')).toBeUndefined();
  });
});
