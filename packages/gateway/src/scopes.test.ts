/**
 * Tokens from a tokens file on a whole gateway: each scope reaches what docs/api.md's scope table
 * says, and gets `403 FORBIDDEN` everywhere else; the caller's name (never its token) is logged.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_DOCS } from './app.js';
import { readTokensFile } from './cli/tokens-file.js';
import type { Scope } from './http-env.js';
import { json, makeGateway, request, type TestGateway } from './test-helpers/gateway.js';

const ADMIN = 'admin-token-0123456789abcdef0123456789';
const FILE = [
  { name: 'alertmanager', token: 'submit-0123456789abcdef0123456789abcdef', scopes: ['submit'] },
  { name: 'grafana', token: 'read-0123456789abcdef0123456789abcdef01', scopes: ['read'] },
  { name: 'oncall', token: 'approve-0123456789abcdef0123456789abcdef', scopes: ['approve'] },
  { name: 'ops', token: 'ops-admin-0123456789abcdef0123456789abcd', scopes: ['admin'] },
] as const;

/** docs/api.md, "Authentication": which scope each route needs. */
function scopeInTable(method: string, path: string): Scope | 'hmac' | 'none' {
  if (!path.startsWith('/v1/')) return 'none';
  if (path === '/v1/webhooks/github') return 'hmac';
  if (method === 'get') return 'read';
  if (path === '/v1/incidents' || path.startsWith('/v1/webhooks/')) return 'submit';
  if (path.startsWith('/v1/approvals/') || path.endsWith('/unseal')) return 'approve';
  return 'admin';
}

const dir = mkdtempSync(join(tmpdir(), 'aaps-scopes-'));
let gw: TestGateway;
beforeAll(async () => {
  const path = join(dir, 'tokens.json');
  writeFileSync(path, JSON.stringify(FILE));
  chmodSync(path, 0o600);
  const { grants, warning } = readTokensFile(path, { adminToken: ADMIN });
  expect(warning).toBeUndefined();
  gw = await makeGateway({
    config: { tokens: [{ name: 'admin', token: ADMIN, scopes: ['admin'] }, ...grants] },
  });
});
afterAll(async () => {
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('scopes', () => {
  it('every route needs the scope the table in docs/api.md names', () => {
    for (const r of ROUTE_DOCS) expect(r.auth, `${r.method} ${r.path}`).toBe(scopeInTable(r.method, r.path));
  });

  it('each token reaches its scope (admin: everything) and gets 403 FORBIDDEN elsewhere', async () => {
    const tokens = [{ name: 'admin', token: ADMIN, scopes: ['admin'] }, ...FILE];
    for (const r of ROUTE_DOCS) {
      if (r.auth === 'none' || r.auth === 'hmac') continue;
      const path = r.path.replace(/\{[a-z_]+\}/g, 'x');
      for (const t of tokens) {
        const res = await request(gw, r.method.toUpperCase(), path, {
          token: t.token,
          ...(r.body === undefined ? {} : { body: {} }),
        });
        const allowed = t.scopes.some((s) => s === r.auth || s === 'admin');
        const what = `${t.name} on ${r.method} ${r.path}`;
        if (allowed) expect([401, 403], what).not.toContain(res.status);
        else {
          expect(res.status, what).toBe(403);
          expect(await json(res), what).toEqual({
            error: { code: 'FORBIDDEN', message: `this token lacks the ${r.auth} scope` },
          });
        }
      }
    }
  });

  it("logs the token's name with its refusals, never a token", async () => {
    await request(gw, 'POST', '/v1/keys/refresh', { token: FILE[1].token });
    const refused = gw.logger.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['event'] === 'http.rejected');
    // Refusals are logged once per status, code and token a minute (rejectionLog): this token's
    // FORBIDDEN line may be the one of the route the test above refused it first.
    expect(refused).toContainEqual(expect.objectContaining({ token: 'grafana', code: 'FORBIDDEN' }));
    const all = gw.logger.lines.join('');
    for (const t of [ADMIN, ...FILE.map((f) => f.token)]) expect(all).not.toContain(t);
  });
});
