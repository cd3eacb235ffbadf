import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runGatewayInit } from './gateway-init.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-gw-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function init(...argv: string[]) {
  const parsed = parseGatewayConfig(['--data-dir', dir, ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const lines: string[] = [];
  const code = runGatewayInit(parsed.config, { print: (l) => void lines.push(l) });
  const text = lines.join('\n');
  return { code, lines, roster: JSON.parse(text.slice(text.indexOf('{'))) };
}

describe('aaps gateway init', () => {
  it('creates 0600 keys for the gateway and each approver, and prints the roster around them', () => {
    const first = init('--approvers', 'oncall,sre-lead', '--threshold', '3');
    expect(first.code).toBe(0);
    expect(first.lines[0]).toBe(`gateway: created ${join(dir, 'gateway', 'identity.key')} (0600)`);
    expect(statSync(join(dir, 'gateway', 'identity.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'approvers', 'sre-lead.key')).mode & 0o777).toBe(0o600);
    expect(first.roster).toMatchObject({
      version: 1,
      ciphersuite: 'FROST-ED25519-SHA512-v1',
      threshold: { min: 3, max: 5 },
      gateway: { id: 'gateway' },
    });
    expect(first.roster.approvers.map((a: { id: string }) => a.id)).toEqual(['oncall', 'sre-lead']);
    // Run again: the same keys, reused, never replaced.
    const again = init('--approvers', 'oncall,sre-lead');
    expect(again.lines[0]).toBe(`gateway: reusing ${join(dir, 'gateway', 'identity.key')} (0600)`);
    expect(again.roster.gateway).toEqual(first.roster.gateway);
    expect(again.roster.approvers).toEqual(first.roster.approvers);
  });
});
