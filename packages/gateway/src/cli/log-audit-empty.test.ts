/**
 * `aaps log audit` on a log with no signed checkpoint yet (a fresh system): exit 0 and one line
 * saying the log is empty; but not when a checkpoint was kept (the log went back), and not when the
 * 404 is no log's at all (a wrong --url).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { auditLog, pinServedRoot, type Rewrite } from '../test-helpers/log-audit.js';
import type { LogAuditFlags } from './log-audit.js';

let gw: TestGateway;
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-audit-empty-'));

beforeAll(async () => {
  gw = await makeGateway();
  await pinServedRoot(gw, dir);
});
afterAll(async () => {
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const audit = (flags: LogAuditFlags, rewrite?: Rewrite) => auditLog(gw, dir, flags, rewrite);

const notFound = (message: string) =>
  Response.json({ error: { code: 'NOT_FOUND', message } }, { status: 404 });

describe('aaps log audit: a log with no checkpoint yet', () => {
  it('a fresh system: exit 0, one line saying the log is empty; --save writes nothing', async () => {
    const save = join(dir, 'kept.note');
    const r = await audit({ save });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.at(-1)).toBe(
      `log aaps.test/log: empty, no signed checkpoint yet: nothing to check; nothing saved to ${save}`,
    );
    expect(() => readFileSync(save)).toThrow();
  });

  it('a kept checkpoint and a gateway that now shows none: FAILED, the log went back', async () => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
    expect(res.status).toBe(202);
    await gw.runner.idle();
    const kept = join(dir, 'kept.note');
    expect((await audit({ save: kept })).code).toBe(0);
    const r = await audit({ checkpoint: kept }, async (path, res) => {
      if (path === '/v1/log/checkpoint') return notFound('no checkpoint yet: the log is empty');
      if (path.startsWith('/v1/log/entries?')) return Response.json({ start: 0, log_size: 0, entries: [] });
      return res;
    });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      expect.stringMatching(
        /^aaps: log audit: FAILED: the log went back: the gateway has no checkpoint \(an empty log\), the one kept is of size \d+$/,
      ),
    ]);
  });

  it('a 404 that is no log (a --url that reaches no gateway log): exit 1 naming it, not "empty"', async () => {
    const r = await audit({}, async (path, res) =>
      path.startsWith('/v1/log/') ? notFound('no such endpoint') : res,
    );
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'aaps: log audit: GET /v1/log/checkpoint: HTTP 404 NOT_FOUND no such endpoint (GET http://gw.test/v1/log/checkpoint)',
    ]);
    expect(r.out.join('\n')).not.toContain('empty');
  });
});
