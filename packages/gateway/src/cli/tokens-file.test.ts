/**
 * `--tokens-file` / `AAPS_TOKENS_FILE` on `aaps up`: a bad file stops the start with one line and
 * exit 2 before anything is written; a good one gives integrations their limited scopes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { fixture } from '../test-helpers/gateway.js';
import { run } from './aaps.js';
import { readTokensFile } from './tokens-file.js';
import { runUp } from './up.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-tokens-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SUBMIT = 'exporter-0123456789abcdef0123456789abcdef';
const READ = 'dashboard-0123456789abcdef0123456789abcde';
const ADMIN = 'admin-0123456789abcdef0123456789abcdef01';

function tokensFile(name: string, content: unknown, mode = 0o600): string {
  const path = join(root, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

async function runCapture(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const err: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await run(argv, env, (l) => void err.push(l)), err };
  } finally {
    spy.mockRestore();
  }
}

describe('aaps up --tokens-file', () => {
  it.each([
    [
      'an unknown scope',
      [{ name: 'x', token: SUBMIT, scopes: ['wirte'] }],
      'tokens[0].scopes: unknown scope "wirte"',
    ],
    ['a short token', [{ name: 'x', token: 'short', scopes: ['read'] }], 'tokens[0].token: too short'],
    [
      'a duplicate token',
      [
        { name: 'a', token: SUBMIT, scopes: ['submit'] },
        { name: 'b', token: SUBMIT, scopes: ['read'] },
      ],
      'tokens[1].token: the same token as tokens[0]',
    ],
    [
      'the admin token',
      [{ name: 'x', token: ADMIN, scopes: ['read'] }],
      'tokens[0].token: the same token as AAPS_API_TOKEN',
    ],
  ])('%s: one line, exit 2, nothing written', async (what, content, why) => {
    const file = tokensFile(`${what.replace(/\W/g, '-')}.json`, content);
    const dataDir = join(root, `data-${what.replace(/\W/g, '-')}`);
    for (const [argv, env] of [
      [
        ['up', '--local', '--port', '0', '--data-dir', dataDir, '--tokens-file', file],
        { AAPS_API_TOKEN: ADMIN },
      ],
      [
        ['up', '--local', '--port', '0', '--data-dir', dataDir],
        { AAPS_API_TOKEN: ADMIN, AAPS_TOKENS_FILE: file },
      ],
    ] as const) {
      const r = await runCapture([...argv], env);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([expect.stringContaining(`aaps: --tokens-file ${file}: ${why}`)]);
      for (const t of [SUBMIT, ADMIN]) expect(r.err[0]).not.toContain(t);
      expect(existsSync(dataDir)).toBe(false);
    }
  });

  it('an unreadable or group-writable file: one line, exit 2, nothing written', async () => {
    const dataDir = join(root, 'data-unreadable');
    const missing = await runCapture([
      'gateway',
      '--data-dir',
      dataDir,
      '--tokens-file',
      join(root, 'absent.json'),
    ]);
    expect(missing).toEqual({ code: 2, err: [expect.stringContaining('cannot read it (ENOENT)')] });
    const writable = tokensFile('writable.json', [], 0o664);
    const r = await runCapture(['up', '--local', '--data-dir', dataDir, '--tokens-file', writable]);
    expect(r).toEqual({ code: 2, err: [expect.stringContaining('writable by group or others (mode 0664)')] });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('serves each integration its scopes; prints names and scopes, never a token', async () => {
    const file = tokensFile(
      'good.json',
      [
        { name: 'event-exporter', token: SUBMIT, scopes: ['submit'] },
        { name: 'dashboard', token: READ, scopes: ['read'] },
      ],
      0o640,
    );
    const parsed = parseGatewayConfig(
      ['--local', '--data-dir', join(root, 'data-good'), '--port', '0', '--tokens-file', file],
      {},
    );
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const lines: string[] = [];
    let stop!: (why: string) => void;
    let ready!: (url: string) => void;
    const url = new Promise<string>((r) => {
      ready = r;
    });
    const done = runUp(parsed.config, {
      print: (l) => {
        lines.push(l);
        const m = /^aaps: ready at (\S+)/.exec(l);
        if (m) ready(m[1] ?? '');
      },
      stopSignal: new Promise((r) => {
        stop = r;
      }),
    });
    try {
      const base = await Promise.race([url, done.then(() => Promise.reject(new Error(lines.join('\n'))))]);
      expect(lines).toContain(
        `tokens: warning: --tokens-file ${file} is readable by group or others (mode 0640): chmod 600 ${file}`,
      );
      expect(lines).toContain(`tokens: 2 from ${file}: event-exporter (submit), dashboard (read)`);
      expect(lines.join('\n')).not.toContain(SUBMIT);
      const post = (token: string) =>
        fetch(`${base}/v1/webhooks/kubernetes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(fixture('kubernetes/events-v1-quota-exceeded.json')),
        });
      expect((await post(SUBMIT)).status).toBe(202);
      const refused = await post(READ);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      const keys = (token: string) =>
        fetch(`${base}/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
      expect((await keys(READ)).status).toBe(200);
      expect((await keys(SUBMIT)).status).toBe(403);
    } finally {
      stop('SIGTERM');
      expect(await done).toBe(0);
    }
  });
});

describe('readTokensFile', () => {
  it('reads a 0600 file without a warning; 0644 is read with one', () => {
    const good = [{ name: 'alertmanager', token: SUBMIT, scopes: ['submit'] }];
    expect(readTokensFile(tokensFile('read-good.json', good))).toEqual({ grants: good });
    const open = tokensFile('read-open.json', good, 0o644);
    const r = readTokensFile(open);
    expect(r.grants).toEqual(good);
    expect(r.warning).toBe(
      `--tokens-file ${open} is readable by group or others (mode 0644): chmod 600 ${open}`,
    );
  });

  it.each([
    ['missing', () => join(root, 'absent.json'), 'cannot read it (ENOENT)'],
    ['a directory', () => root, 'not a regular file'],
    [
      'a FIFO (refused without waiting for a writer)',
      () => {
        const fifo = join(root, 'tokens.fifo');
        if (!existsSync(fifo)) execFileSync('mkfifo', [fifo]);
        return fifo;
      },
      'not a regular file',
    ],
    ['not JSON', () => tokensFile('bad.json', '[{"name":'), 'not valid JSON'],
    ['writable by others', () => tokensFile('ww.json', [], 0o646), 'writable by group or others (mode 0646)'],
    [
      'writable by the group',
      () => tokensFile('gw.json', [], 0o660),
      'writable by group or others (mode 0660)',
    ],
    [
      'a bad entry',
      () => tokensFile('entry.json', [{ name: 'x', token: SUBMIT, scopes: ['root'] }]),
      'tokens[0].scopes: unknown scope "root"',
    ],
    [
      // JSON.parse keeps the last scopes (admin), a reader keeping the first sees read only.
      'an entry giving a key twice',
      () =>
        tokensFile(
          'twice.json',
          `[{"name":"dashboard","token":"${READ}","scopes":["read"],"scopes":["admin"]}]`,
        ),
      'tokens[0].scopes is given twice',
    ],
  ])('refuses a file that is %s, naming the file', (_what, path, why) => {
    const p = path();
    expect(() => readTokensFile(p)).toThrow(`--tokens-file ${p}: ${why}`);
  });

  it('names a key holding control or bidirectional characters escaped, never raw in the line it prints', () => {
    const key = '\\u001b[31m\\u202ex';
    const p = tokensFile(
      'esc.json',
      `[{"name":"dashboard","token":"${READ}","scopes":["read"],"${key}":1,"${key}":2}]`,
    );
    let message = '';
    try {
      readTokensFile(p);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      `--tokens-file ${p}: tokens[0]["\\u001b[31m\\u202ex"] is given twice (say it once: JSON keeps only the last)`,
    );
  });

  // Only root can hand a file to another user: the case runs where the tests run as root.
  it.skipIf(process.getuid?.() !== 0)('refuses a file another user owns (they could rewrite it)', () => {
    const p = tokensFile('theirs.json', [{ name: 'a', token: SUBMIT, scopes: ['submit'] }]);
    chownSync(p, 1000, 1000);
    expect(() => readTokensFile(p)).toThrow(
      `--tokens-file ${p}: owned by uid 1000, not by this user (0) or root`,
    );
  });
});
