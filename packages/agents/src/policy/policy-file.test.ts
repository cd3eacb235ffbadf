/**
 * A party's policy file as it is loaded: a key given twice stops the party (JSON would keep the
 * last silently), the roster and config files are read the same way, and the settings that bound
 * what the gateway declares (`risk.environments`, `bounds.resource_quota.max_hard`) and a factor
 * with three decimals load as documented.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFailureLine } from '../main.js';
import { fiveParties } from '../party/test-helpers/five-parties.js';
import { layParty } from '../party/test-helpers/party-dir.js';
import { defaultPolicy } from './defaults.js';
import { ownEnvironment } from './environments.js';
import { parsePolicy, uncappedQuotaResources } from './schema.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Party 0 (monitoring-agent) laid out with these file texts; starting it gives `started` or its one failure line. */
function startWith(files: { policy?: string; roster?: string }): Promise<string> {
  const { dir, start } = layParty(dirs, { policy: 'policy.json' }, files.roster);
  writeFileSync(join(dir, 'policy.json'), files.policy ?? JSON.stringify(defaultPolicy('monitoring')));
  return start().then(
    async (running) => {
      await running.close();
      return 'started';
    },
    (e: unknown) => startFailureLine(e),
  );
}

describe('a policy file with a key given twice', () => {
  it('stops the party, naming the key by its path (a narrowed allow followed by an old wide one)', async () => {
    const text = JSON.stringify(defaultPolicy('monitoring'), null, 2).replace(
      /"namespaces": \{\s*"allow": \[\s*"\*"\s*\],/,
      '"namespaces": { "allow": ["payments"], "allow": ["*"],',
    );
    expect(text).toContain('"allow": ["payments"], "allow": ["*"]');
    const line = await startWith({ policy: text });
    expect(line).toMatch(/^aaps party: policy \S+policy\.json: bounds\.namespaces\.allow is given twice/);
    expect(line).not.toContain('\n');
  });

  it('names a key holding control or bidirectional characters escaped, never raw in the line it prints', async () => {
    // Someone else's file: an escape sequence or a right-to-left override in its key must not
    // recolour the terminal or reorder the line the operator reads.
    const key = '\\u001b[31m\\u202ex';
    const text = `{"${key}":1,${JSON.stringify(defaultPolicy('monitoring')).slice(1, -1)},"${key}":2}`;
    const line = await startWith({ policy: text });
    expect(line).toMatch(/^aaps party: policy \S+policy\.json: \\u001b\[31m\\u202ex is given twice/);
    for (const raw of ['\u001b', '\u202e']) expect(line).not.toContain(raw);
  });

  it('the same file without the old line starts', async () => {
    expect(await startWith({})).toBe('started');
  });

  it('a roster with a key given twice stops the party too', async () => {
    const set = fiveParties();
    const text = JSON.stringify(set.roster).replace('"version":1', '"version":1,"version":1');
    expect(await startWith({ roster: text })).toMatch(/roster \S+roster\.json: version is given twice/);
  });
});

describe('policy settings', () => {
  it('a max_increase_factor with three decimals (1.001) loads; four do not', () => {
    const policy = defaultPolicy('monitoring');
    policy.bounds.resource_quota.max_increase_factor = 1.001;
    expect(parsePolicy(JSON.parse(JSON.stringify(policy))).bounds.resource_quota.max_increase_factor).toBe(
      1.001,
    );
    for (const ok of [1.1, 2.25, 1.999, 99.999]) {
      policy.bounds.resource_quota.max_increase_factor = ok;
      expect(() => parsePolicy(policy)).not.toThrow();
    }
    policy.bounds.resource_quota.max_increase_factor = 1.0001;
    expect(() => parsePolicy(policy)).toThrow(/max_increase_factor: at most three decimals/);
  });

  it('max_hard: a quantity per listed resource, none extra; a policy from before caps loads, its resources uncapped', () => {
    const base = defaultPolicy('monitoring');
    const quota = (max_hard: Record<string, unknown>) => ({
      ...base,
      bounds: {
        ...base.bounds,
        resource_quota: { max_increase_factor: 2, resources: ['cpu', 'pods'], max_hard },
      },
    });
    expect(parsePolicy(quota({ cpu: '8', pods: '100' })).bounds.resource_quota.max_hard).toEqual({
      cpu: '8',
      pods: '100',
    });
    const partly = parsePolicy(quota({ cpu: '8' }));
    expect(partly.bounds.resource_quota.max_hard).toEqual({ cpu: '8' });
    expect(uncappedQuotaResources(partly)).toEqual(['pods']);
    expect(() => parsePolicy(quota({ cpu: '8', pods: '100', memory: '1Gi' }))).toThrow(
      /max_hard\.memory: not in bounds\.resource_quota\.resources/,
    );
    expect(() => parsePolicy(quota({ cpu: 'lots', pods: 100 }))).toThrow(
      /max_hard\.cpu: not a Kubernetes quantity; bounds\.resource_quota\.max_hard\.pods: expected a Kubernetes quantity string/,
    );
    const { max_hard: _, ...withoutCaps } = base.bounds.resource_quota;
    const old = parsePolicy({ ...base, bounds: { ...base.bounds, resource_quota: withoutCaps } });
    expect(old.bounds.resource_quota.max_hard).toEqual({});
    expect(uncappedQuotaResources(old)).toEqual(base.bounds.resource_quota.resources);
    expect(uncappedQuotaResources(base)).toEqual([]);
  });

  it('risk.environments maps names and prefixes; an exact name beats a prefix, a longer prefix a shorter', () => {
    const policy = parsePolicy({
      ...defaultPolicy('audit'),
      risk: {
        environments: {
          '*': 'staging',
          'team-*': 'development',
          'team-pay*': 'production',
          'team-x': 'staging',
        },
      },
    });
    expect(policy.risk).toEqual({
      weight_percent: 100,
      offset: 0,
      environments: {
        '*': 'staging',
        'team-*': 'development',
        'team-pay*': 'production',
        'team-x': 'staging',
      },
    });
    expect(ownEnvironment(policy, 'team-x')).toBe('staging');
    expect(ownEnvironment(policy, 'team-payments')).toBe('production');
    expect(ownEnvironment(policy, 'team-web')).toBe('development');
    expect(ownEnvironment(policy, 'shop')).toBe('staging');
    expect(ownEnvironment(policy, undefined)).toBe('unknown');
    expect(ownEnvironment(defaultPolicy('audit'), 'shop')).toBe('unknown');
    // A namespace named like an Object.prototype member is unmapped like any other.
    const exactOnly = parsePolicy({ ...defaultPolicy('audit'), risk: { environments: { shop: 'staging' } } });
    for (const ns of ['constructor', 'toString', 'hasOwnProperty', '__proto__'])
      expect(ownEnvironment(exactOnly, ns)).toBe('unknown');
  });

  it('risk.environments refuses keys that are no namespace or prefix, and unknown or other environments', () => {
    expect(() =>
      parsePolicy({
        ...defaultPolicy('audit'),
        risk: { environments: { Shop: 'staging', 'a*b': 'staging', shop: 'unknown', web: 'qa' } },
      }),
    ).toThrow(
      /risk\.environments\.Shop: expected a namespace or a prefix ending in \*; risk\.environments\.a\*b: expected a namespace or a prefix ending in \*; risk\.environments\.shop: expected one of production, staging, development; risk\.environments\.web: expected one of/,
    );
  });
});
