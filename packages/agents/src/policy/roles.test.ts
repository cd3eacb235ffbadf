import { describe, expect, it } from 'vitest';
import { ACTION_SPECS, ACTIONS, CONSTRAINT_KINDS, PARTY_ROLES, ROLE_PERMISSIONS } from './roles.js';

describe('the seed permission table', () => {
  it('holds the seed rows', () => {
    expect(ROLE_PERMISSIONS.monitoring).toMatchObject({
      read: ['metrics', 'logs', 'events', 'rbac'],
      write: [],
    });
    expect(ROLE_PERMISSIONS['problem-solver']).toMatchObject({
      read: ['incidents', 'configs', 'git_history'],
      write: ['rca_reports', 'fix_proposals'],
    });
    expect(ROLE_PERMISSIONS.maintenance).toMatchObject({
      read: ['execution_plans', 'rollback_points'],
      constraints: ['no_network_policy', 'no_rbac_changes'],
    });
    expect(ROLE_PERMISSIONS.maintenance.write).toEqual(
      expect.arrayContaining(['configmaps', 'secrets', 'deployments']),
    );
    expect(ROLE_PERMISSIONS['quality-assurance']).toMatchObject({
      read: ['all_artifacts'],
      write: ['verification_reports', 'attestations'],
      veto_power: true,
    });
  });

  it('gives veto power to quality assurance alone, and the five parties of `aaps up`', () => {
    expect(
      Object.entries(ROLE_PERMISSIONS)
        .filter(([, p]) => p.veto_power)
        .map(([r]) => r),
    ).toEqual(['quality-assurance']);
    expect(PARTY_ROLES).toEqual(['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit']);
  });

  it('lets maintenance execute no action that targets a kind its constraints forbid', () => {
    const forbidden = Object.values(CONSTRAINT_KINDS).flat();
    for (const action of ACTIONS) {
      const spec = ACTION_SPECS[action];
      if (spec.executor !== 'maintenance') continue;
      expect(ROLE_PERMISSIONS.maintenance.write).toContain(spec.writes);
      expect(spec.target_kinds.filter((k) => forbidden.includes(k))).toEqual([]);
    }
    expect(ACTION_SPECS.rbac_changes.executor).toBe('human');
    expect(ACTION_SPECS.network_policy_mods.executor).toBe('human');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ROLE_PERMISSIONS)).toBe(true);
    expect(Object.isFrozen(ROLE_PERMISSIONS.maintenance.write)).toBe(true);
    expect(Object.isFrozen(ACTION_SPECS.configmap_reload.target_kinds)).toBe(true);
  });
});
