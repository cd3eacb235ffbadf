/** `aaps approve`'s errors: a missing approver key names the flags that find it; refusals go to stderr. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { runApprove } from './approve.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-approve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(...argv: string[]): GatewayConfig {
  const parsed = parseGatewayConfig(['--url', 'http://gw.test', '--data-dir', dir, ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

describe('aaps approve errors', () => {
  it('a missing approver key: the hint names --approver ID, --data-dir and --approver-key, not aaps party init', async () => {
    const fetch = vi.fn(async () => Response.json({}));
    const io = { print: () => {}, error: () => {}, fetch };
    const key = join(dir, 'approvers', 'oncall.key');
    await expect(runApprove('inc-1', config('--approver', 'oncall'), 't', io)).rejects.toThrow(
      `approver key ${key} does not exist (pass --approver ID with the --data-dir \`aaps approver init\` made its key in (or that of the running \`aaps up\`), or --approver-key FILE)`,
    );
    expect(fetch).not.toHaveBeenCalled();
  });

  it('an incident with no proposal: one line on stderr, exit 1, nothing posted', async () => {
    const keyFile = join(dir, 'k.key');
    loadOrCreateIdentityKey(keyFile, true, 'approver');
    const out: string[] = [];
    const err: string[] = [];
    const fetch = vi.fn(async () => Response.json({ state: 'resolved', timeline: [], proposal: null }));
    const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
    const code = await runApprove(
      'inc-2',
      config('--approver', 'oncall', '--approver-key', keyFile),
      't',
      io,
    );
    expect(code).toBe(1);
    expect(err).toEqual(['aaps: cannot approve inc-2: it has no proposal (state resolved)']);
    expect(out).toEqual([]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe('aaps approve on an incident that waits for a person but has no proposal (user-journey review)', () => {
  it('says there is nothing to approve and names the next step: fix by hand, then --reject --reason', async () => {
    const keyFile = join(dir, 'k2.key');
    loadOrCreateIdentityKey(keyFile, true, 'approver');
    const out: string[] = [];
    const err: string[] = [];
    const fetch = vi.fn(async () => Response.json({ state: 'awaiting_human', timeline: [], proposal: null }));
    const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
    const code = await runApprove(
      'inc-3',
      config('--approver', 'oncall', '--approver-key', keyFile),
      't',
      io,
    );
    expect(code).toBe(1);
    expect(err).toEqual([
      'aaps: cannot approve inc-3: it has no proposal (state awaiting_human): no agent proposed a fix, so there is nothing to approve; a person fixes it by hand, then ends it with aaps approve inc-3 --reject --reason TEXT',
    ]);
    expect(out).toEqual([]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
