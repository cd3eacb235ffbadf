import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runApproverInit, runGatewayInit } from './gateway-init.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-gw-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(fn: typeof runGatewayInit, ...argv: string[]) {
  const parsed = parseGatewayConfig(['--data-dir', dir, ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const out: string[] = [];
  const lines: string[] = [];
  const code = fn(parsed.config, { print: (l) => void out.push(l), say: (l) => void lines.push(l) });
  // Stdout is the JSON alone (it pipes into jq); what was done goes to stderr.
  return { code, lines, json: JSON.parse(out.join('\n')) };
}

describe('aaps gateway init and aaps approver init', () => {
  it("gateway init: a 0600 gateway key, reused on a second run, and the roster around it; no approver's key", () => {
    const first = run(runGatewayInit, '--threshold', '3', '--approvers', 'oncall');
    expect(first.code).toBe(0);
    expect(first.lines[0]).toBe(`gateway: created ${join(dir, 'gateway', 'identity.key')} (0600)`);
    expect(statSync(join(dir, 'gateway', 'identity.key')).mode & 0o777).toBe(0o600);
    expect(first.json).toMatchObject({
      version: 1,
      ciphersuite: 'FROST-ED25519-SHA512-v1',
      threshold: { min: 3, max: 5 },
      gateway: { id: 'gateway' },
    });
    // Approvers' keys are made on their own machines, never on the gateway's host.
    expect(() => statSync(join(dir, 'approvers'))).toThrow();
    const again = run(runGatewayInit);
    expect(again.lines[0]).toBe(`gateway: reusing ${join(dir, 'gateway', 'identity.key')} (0600)`);
    expect(again.json.gateway).toEqual(first.json.gateway);
  });

  it('approver init: a 0600 key for the approver and its roster entry', () => {
    const keyFile = join(dir, 'me', 'sre-lead.key');
    const r = run(runApproverInit, '--approver', 'sre-lead', '--approver-key', keyFile);
    expect(r.lines[0]).toBe(`approver sre-lead: created ${keyFile} (0600)`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(r.json).toEqual({ id: 'sre-lead', identity_key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Where `aaps unseal` looks for the trusted root it holds every bundle to.
    expect(r.lines.at(-1)).toContain(join(dir, 'approvers', 'trusted_root.json'));
    expect(r.lines.at(-1)).toContain('chmod 600');
  });
});
