/** `aaps unseal`'s human output says why the parties refused; a missing approver key says what to pass. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import {
  generateIdentityKey,
  type SealedField,
  sealValue,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { sealedFieldsBundle } from './test-helpers/evidence-bundle.js';
import { runUnseal, type UnsealOptions } from './unseal.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-unseal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INCIDENT = 'inc-unseal-1';
const parties = Array.from({ length: 5 }, (_, i) => ({
  id: `p${i + 1}`,
  x25519PublicKey: x25519FromIdentityPublicKey(generateIdentityKey().publicKey),
}));
let field: SealedField;
let evidence: { bundle: unknown; evidenceId: string };
let OPTS: UnsealOptions;

beforeAll(async () => {
  loadOrCreateIdentityKey(join(dir, 'approvers', 'oncall.key'), true);
  field = await sealValue({ password: 'hunter2-hunter2' }, '/spec/db', {
    incidentId: INCIDENT,
    parties,
    threshold: 3,
  });
  evidence = sealedFieldsBundle(INCIDENT, [field]);
  OPTS = {
    evidenceId: evidence.evidenceId,
    reason: 'rotate the database password',
    fields: [],
    json: false,
    trustServedRoot: true,
  };
});

function config(...argv: string[]): GatewayConfig {
  const parsed = parseGatewayConfig(['--data-dir', dir, '--url', 'http://gw.test', ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

/** A gateway whose parties answered with `refusals` (party i the i-th), or that answers `posted`. */
function gateway(refusals: { decision: string; rule: string }[], posted?: Response) {
  const out: string[] = [];
  const err: string[] = [];
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) =>
    init?.method === 'POST'
      ? (posted ??
        Response.json({
          releases: [],
          refusals: refusals.map((r, i) => ({ field: field.id, party: `p${i + 1}`, ...r })),
          evidence: { request: 'a'.repeat(64), releases: 'b'.repeat(64) },
        }))
      : Response.json(evidence.bundle)) as typeof globalThis.fetch;
  return {
    out,
    err,
    io: { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch },
  };
}

/** The line a run with `--trust-served-root` (these fake bundles carry no real signature) starts with. */
const WARNED = expect.stringMatching(/^aaps: warning: --trust-served-root: /);

describe('aaps unseal', () => {
  it('a field not opened names the rule the parties refused by', async () => {
    const g = gateway(Array.from({ length: 5 }, () => ({ decision: 'refused', rule: 'unseal.reason' })));
    expect(await runUnseal(OPTS, config(), 't', g.io)).toBe(1);
    expect(g.out).toEqual(['/spec/db: not opened: QUORUM_UNREACHABLE (refused by 5 parties: unseal.reason)']);
  });

  it('several rules and unavailable parties are each counted', async () => {
    const g = gateway([
      { decision: 'refused', rule: 'unseal.reason' },
      { decision: 'refused', rule: 'unseal.reason' },
      { decision: 'refused', rule: 'unseal.window' },
      { decision: 'unavailable', rule: 'UNAVAILABLE' },
    ]);
    expect(await runUnseal(OPTS, config(), 't', g.io)).toBe(1);
    expect(g.out).toEqual([
      '/spec/db: not opened: QUORUM_UNREACHABLE (refused by 2 parties: unseal.reason; refused by 1 party: unseal.window; unavailable at 1 party: UNAVAILABLE)',
    ]);
  });

  it('--json keeps the failure reason and lists the refusals', async () => {
    const g = gateway([{ decision: 'refused', rule: 'unseal.reason' }]);
    expect(await runUnseal({ ...OPTS, json: true }, config(), 't', g.io)).toBe(1);
    const summary = JSON.parse(g.out[0] ?? '{}') as { failed: { reason: string }[]; refusals: unknown[] };
    expect(summary.failed[0]?.reason).toBe('QUORUM_UNREACHABLE');
    expect(summary.refusals).toHaveLength(1);
  });

  it('a refusal of the request goes to stderr', async () => {
    const g = gateway(
      [],
      Response.json({ error: { code: 'QUORUM_UNREACHABLE', message: 'too few parties' } }, { status: 409 }),
    );
    expect(await runUnseal(OPTS, config(), 't', g.io)).toBe(1);
    expect(g.err).toEqual([WARNED, 'aaps: refused: HTTP 409 QUORUM_UNREACHABLE too few parties']);
    expect(g.out).toEqual([]);
  });

  it('a malformed answer from the gateway (null entries, non-arrays) is set aside, not a crash', async () => {
    for (const body of [
      { releases: [null, 7, 'x'], refusals: [null, 3] },
      { releases: [{ field: field.id, release: null }], refusals: 'none' },
    ]) {
      const g = gateway([], Response.json(body));
      expect(await runUnseal(OPTS, config(), 't', g.io)).toBe(1);
      expect(g.out).toEqual(['/spec/db: not opened: QUORUM_UNREACHABLE']);
    }
  });

  it('a missing approver key says to pass --data-dir or --approver-key, not aaps party init', async () => {
    const g = gateway([]);
    const noKeys = config('--data-dir', join(dir, 'elsewhere'));
    await expect(runUnseal(OPTS, noKeys, 't', g.io)).rejects.toThrowError(
      /^approver key \S+oncall\.key does not exist \(pass --approver ID with the --data-dir `aaps approver init` made its key in \(or that of the running `aaps up`\), or --approver-key FILE\)$/,
    );
  });
});
