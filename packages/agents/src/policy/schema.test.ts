import { readFileSync } from 'node:fs';
import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES, defaultPolicy } from './defaults.js';
import { AGENT_ROLES, AUTO_ACTIONS, HUMAN_ACTIONS } from './roles.js';
import { parsePolicy } from './schema.js';

const fileFor = (role: string) => new URL(`../../policies/${role}.json`, import.meta.url);

function fieldsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.fields;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('default policies', () => {
  it.each(AGENT_ROLES)('policies/%s.json parses and equals defaultPolicy', (role) => {
    const parsed = parsePolicy(JSON.parse(readFileSync(fileFor(role), 'utf8')));
    expect(parsed).toEqual(defaultPolicy(role));
    expect(parsed).toEqual(DEFAULT_POLICIES[role]);
  });

  it('shares deeply frozen defaults', () => {
    expect(Object.isFrozen(DEFAULT_POLICIES.strategy.allowed_auto_actions)).toBe(true);
    expect(Object.isFrozen(defaultPolicy('strategy').allowed_auto_actions)).toBe(false);
  });

  it('holds the action lists of DESIGN.md', () => {
    const p = defaultPolicy('strategy');
    expect(p.allowed_auto_actions).toEqual([...AUTO_ACTIONS]);
    expect(p.require_human_approval).toEqual([...HUMAN_ACTIONS]);
  });
});

describe('parsePolicy', () => {
  it('reports every bad field at once, as dot paths', () => {
    const bad = {
      ...defaultPolicy('audit'),
      role: 'superagent',
      allowed_auto_actions: ['configmap_reload', 'format_disk', 'configmap_reload'],
      require_human_approval: ['configmap_reload'],
      bounds: {
        ...defaultPolicy('audit').bounds,
        max_auto_risk_score: 95,
        resource_quota: { max_increase_factor: 0.5, resources: ['cpu'], max_hard: { cpu: '8' } },
        namespaces: { allow: ['*'], deny: ['*'] },
      },
      evidence: { min_refs: 0 },
      surprise: true,
    };
    expect([...fieldsOf(() => parsePolicy(bad))].sort()).toEqual(
      [
        'allowed_auto_actions.1',
        'allowed_auto_actions.2',
        'bounds.max_auto_risk_score',
        'bounds.namespaces.deny.0',
        'bounds.resource_quota.max_increase_factor',
        'evidence.min_refs',
        'require_human_approval.0',
        'role',
        'surprise',
      ].sort(),
    );
  });

  it('names missing sections and a wrong schema version', () => {
    const { verification: _v, ...rest } = defaultPolicy('monitoring');
    expect(fieldsOf(() => parsePolicy({ ...rest, schema_version: 'v0' }))).toEqual(
      expect.arrayContaining(['verification', 'schema_version']),
    );
    expect(fieldsOf(() => parsePolicy([]))).toEqual(['$']);
  });

  it('rejects unknown verification stages and out-of-range coverage', () => {
    const p = defaultPolicy('quality-assurance');
    const bad = {
      ...p,
      verification: { ...p.verification, mandatory: ['vibe_check'], min_test_coverage: 2 },
    };
    expect([...fieldsOf(() => parsePolicy(bad))].sort()).toEqual([
      'verification.mandatory.0',
      'verification.min_test_coverage',
    ]);
  });

  it('reads allowed_image_prefixes: absent is any image, entries are repositories or prefixes', () => {
    const p = defaultPolicy('audit');
    expect(parsePolicy(p).bounds.image_rollback.allowed_image_prefixes).toBeUndefined();
    const withPrefixes = (allowed_image_prefixes: unknown) => ({
      ...p,
      bounds: { ...p.bounds, image_rollback: { require_digest: true, allowed_image_prefixes } },
    });
    const good = ['registry.example/shop/', 'registry.example:5000/ops/api'];
    expect(parsePolicy(withPrefixes(good)).bounds.image_rollback.allowed_image_prefixes).toEqual(good);
    expect(parsePolicy(withPrefixes([])).bounds.image_rollback.allowed_image_prefixes).toEqual([]);
    expect(
      [
        ...fieldsOf(() =>
          parsePolicy(
            withPrefixes([
              'registry.example/shop/',
              'registry.example/shop/',
              'r.example//x/',
              'x@sha256:ab',
              '',
            ]),
          ),
        ),
      ].sort(),
    ).toEqual([
      'bounds.image_rollback.allowed_image_prefixes.1',
      'bounds.image_rollback.allowed_image_prefixes.2',
      'bounds.image_rollback.allowed_image_prefixes.3',
      'bounds.image_rollback.allowed_image_prefixes.4',
    ]);
    expect(fieldsOf(() => parsePolicy(withPrefixes('registry.example/')))).toEqual([
      'bounds.image_rollback.allowed_image_prefixes',
    ]);
  });

  it('reads risk.require_pooled as a boolean, absent unless given', () => {
    const p = defaultPolicy('audit');
    expect(parsePolicy({ ...p, risk: { require_pooled: true } }).risk).toEqual({
      weight_percent: 100,
      offset: 0,
      require_pooled: true,
    });
    expect(parsePolicy({ ...p, risk: {} }).risk?.require_pooled).toBeUndefined();
    expect(fieldsOf(() => parsePolicy({ ...p, risk: { require_pooled: 'yes' } }))).toEqual([
      'risk.require_pooled',
    ]);
  });
  it('reads aggregation.input_signers: ids and lower-case hex Ed25519 keys, each once', () => {
    const p = defaultPolicy('audit');
    const key = (c: string) => c.repeat(64);
    const signers = [
      { id: 'finance-1', public_key: key('a') },
      { id: 'finance.hsm:2', public_key: key('b') },
    ];
    expect(parsePolicy({ ...p, aggregation: { input_signers: signers } }).aggregation).toEqual({
      input_signers: signers,
    });
    expect(parsePolicy({ ...p, aggregation: { input_signers: [] } }).aggregation).toEqual({
      input_signers: [],
    });
    expect(parsePolicy(p).aggregation).toBeUndefined();
    const bad = (input_signers: unknown) =>
      fieldsOf(() => parsePolicy({ ...p, aggregation: { input_signers } }));
    expect(bad([{ id: 'finance', public_key: key('A') }])).toEqual([
      'aggregation.input_signers.0.public_key',
    ]);
    expect(bad([{ id: 'finance', public_key: 'ab' }])).toEqual(['aggregation.input_signers.0.public_key']);
    expect(bad([{ id: '-x', public_key: key('a') }])).toEqual(['aggregation.input_signers.0.id']);
    expect(bad([{ id: 'finance', public_key: key('a'), role: 'x' }])).toEqual([
      'aggregation.input_signers.0.role',
    ]);
    expect(
      bad([
        { id: 'finance', public_key: key('a') },
        { id: 'finance', public_key: key('b') },
        { id: 'ops', public_key: key('a') },
      ]),
    ).toEqual(['aggregation.input_signers.1.id', 'aggregation.input_signers.2.public_key']);
    expect(bad('finance')).toEqual(['aggregation.input_signers']);
    expect(fieldsOf(() => parsePolicy({ ...p, aggregation: {} }))).toEqual(['aggregation.input_signers']);
    expect(fieldsOf(() => parsePolicy({ ...p, aggregation: { input_signers: [], signers: [] } }))).toEqual([
      'aggregation.signers',
    ]);
  });
});
