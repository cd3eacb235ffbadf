/**
 * What a party says about itself to its operator: the release it runs (`party.listening`,
 * `/healthz`, `aaps_party_build_info`) and the policy it enforces (its file or `role default`, and
 * the SHA-256 of the effective policy), with a warning when it runs its role's permissive default.
 * In process (`startParty`), over HTTP on loopback.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { layParty } from './party/test-helpers/party-dir.js';
import { defaultPolicy } from './policy/defaults.js';
import { policyDigest, ROLE_DEFAULT_POLICY } from './policy/in-force.js';
import { parsePolicy } from './policy/schema.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const VERSION = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
const TEMPLATE = join(import.meta.dirname, '..', 'policies', 'monitoring.json');

const parsed = (lines: readonly string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const event = (lines: readonly string[], name: string) => parsed(lines).find((l) => l.event === name);

describe('the release a party runs', () => {
  it('is in party.listening, /healthz and aaps_party_build_info, read from package.json', async () => {
    const p = layParty(dirs);
    const party = await p.start();
    try {
      expect(event(p.lines, 'party.listening')).toMatchObject({ version: VERSION });
      const health = (await (await fetch(`${party.url}/healthz`)).json()) as Record<string, unknown>;
      expect(health.version).toBe(VERSION);
      const metrics = await (await fetch(`${party.url}/metrics`)).text();
      expect(metrics).toContain('# TYPE aaps_party_build_info gauge');
      expect(metrics).toContain(`aaps_party_build_info{version="${VERSION}"} 1`);
    } finally {
      await party.close();
    }
  });
});

describe('the policy a party enforces', () => {
  it("with no policy file: `role default`, the default's digest, and a warning that it is permissive", async () => {
    const p = layParty(dirs);
    const party = await p.start();
    try {
      const expected = {
        policy: ROLE_DEFAULT_POLICY,
        policy_sha256: policyDigest(defaultPolicy('monitoring')),
      };
      expect(event(p.lines, 'party.listening')).toMatchObject(expected);
      expect(event(p.lines, 'policy.role_default')).toMatchObject({ level: 'warn', role: 'monitoring' });
      const health = (await (await fetch(`${party.url}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject(expected);
    } finally {
      await party.close();
    }
  });

  it('with a file: its path and digest, no warning; an edited file shows a new digest at the next start', async () => {
    const p = layParty(dirs, { policy: 'policy.json' });
    const file = join(p.dir, 'policy.json');
    const policy = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as { allowed_auto_actions: string[] };
    writeFileSync(file, JSON.stringify(policy));
    const first = await p.start();
    const before = policyDigest(parsePolicy(policy));
    try {
      expect(event(p.lines, 'party.listening')).toMatchObject({ policy: file, policy_sha256: before });
      expect(event(p.lines, 'policy.role_default')).toBeUndefined();
      const health = (await (await fetch(`${first.url}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ policy: file, policy_sha256: before });
    } finally {
      await first.close();
    }
    policy.allowed_auto_actions = ['pod_restart'];
    writeFileSync(file, JSON.stringify(policy, null, 2));
    p.lines.length = 0;
    const second = await p.start();
    try {
      const after = policyDigest(parsePolicy(policy));
      expect(after).not.toBe(before);
      expect(event(p.lines, 'party.listening')).toMatchObject({ policy: file, policy_sha256: after });
    } finally {
      await second.close();
    }
  });

  it('the digest is of the policy, not of the file: key order and whitespace do not change it', () => {
    const policy = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(policy).reverse());
    const a = policyDigest(parsePolicy(policy));
    expect(policyDigest(parsePolicy(JSON.parse(JSON.stringify(reordered, null, 4))))).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});
