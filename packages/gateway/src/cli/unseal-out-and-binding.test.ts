/**
 * `aaps unseal`: the plaintexts it writes to `--out`, what it prints of a bundle someone else
 * chose, and which evidence it signs for.
 * - `--out FILE` is a new 0600 file renamed over FILE: an existing FILE readable by others, or a
 *   symbolic link there, never receives the values; a FILE that cannot be written is found before
 *   the request is signed (once posted it is logged, the parties release, its id is spent);
 * - sealed-field paths (chosen by whoever submitted the incident) are printed escaped;
 * - the bundle served must be the evidence EVIDENCE_ID names (the SHA-256 of its log leaf);
 * - when nothing opens, FILE keeps what it held (an earlier run's values), no temporary file is
 *   left and the exit code is still 1; a stop signal (Ctrl-C, SIGTERM) during the run removes the
 *   new 0600 file too and exits 130 / 143 (the built CLI, as a process, against a loopback
 *   gateway that never answers).
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SealedField, sealValue } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsealFixture } from './test-helpers/unseal-fixture.js';
import { runUnseal, type UnsealOptions } from './unseal.js';

const fx = unsealFixture('aaps-unseal-out-');
afterAll(fx.cleanup);
const { dir, parties, config } = fx;

const INCIDENT = 'inc-unseal-out';
const SECRET = 'hunter2-hunter2-canary';
let field: SealedField;

beforeAll(async () => {
  field = await fx.seal(INCIDENT, SECRET);
});

/**
 * A gateway serving the evidence of `sealed` (its id is `evidenceId`) whose parties release 3 of 5
 * shares, or that refuses the request with `refusal`.
 */
function gateway(sealed: SealedField = field, refusal?: Response) {
  return fx.gateway(
    INCIDENT,
    sealed,
    (posted) => refusal ?? [0, 1, 2].map((i) => fx.release(sealed, i, posted)),
  );
}

const opts = (evidenceId: string, more: Partial<UnsealOptions> = {}): UnsealOptions => ({
  evidenceId,
  reason: 'rotate the password',
  fields: [],
  json: false,
  trustServedRoot: true,
  ...more,
});

/** Files in `dir` left by a run (a temporary file not cleaned up would show here). */
const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** The line a run with `--trust-served-root` (these fake bundles carry no real signature) starts with. */
const WARNED = expect.stringMatching(/^aaps: warning: --trust-served-root: /);

describe('aaps unseal --out', () => {
  it('a new --out file is 0600 and holds the value', async () => {
    const g = gateway();
    const out = join(dir, 'new.json');
    expect(await runUnseal(opts(g.evidenceId, { out }), config(), 't', g.io)).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain(SECRET);
    expect(leftovers()).toEqual([]);
  });

  it('an existing --out file readable by others is replaced by a 0600 one; the old file never holds the secret', async () => {
    const g = gateway();
    const out = join(dir, 'existing.json');
    writeFileSync(out, '{}\n');
    chmodSync(out, 0o644);
    const before = statSync(out).ino;
    expect(await runUnseal(opts(g.evidenceId, { out }), config(), 't', g.io)).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain(SECRET);
    expect(g.out.join('\n')).toContain('(mode 0600)');
    expect((statSync(out).mode & 0o777).toString(8)).toBe('600');
    expect(statSync(out).ino).not.toBe(before);
  });

  it('a symbolic link at --out is replaced, not followed', async () => {
    const g = gateway();
    const target = join(dir, 'world-readable.json');
    writeFileSync(target, 'untouched\n', { mode: 0o644 });
    const out = join(dir, 'link.json');
    symlinkSync(target, out);
    expect(await runUnseal(opts(g.evidenceId, { out }), config(), 't', g.io)).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain(SECRET);
  });

  it('an --out it cannot write is refused before anything is asked of the gateway', async () => {
    const g = gateway();
    const out = join(dir, 'no-such-dir', 'values.json');
    await expect(runUnseal(opts(g.evidenceId, { out }), config(), 't', g.io)).rejects.toThrow(
      `--out ${out}: cannot be written (ENOENT)`,
    );
    expect(existsSync(out)).toBe(false);
    expect(g.posts()).toBe(0);
  });

  it('a refused request leaves --out as it was and no temporary file', async () => {
    const g = gateway(
      field,
      Response.json({ error: { code: 'FORBIDDEN', message: 'not an approver' } }, { status: 403 }),
    );
    const out = join(dir, 'kept.json');
    writeFileSync(out, 'old\n', { mode: 0o600 });
    expect(await runUnseal(opts(g.evidenceId, { out }), config(), 't', g.io)).toBe(1);
    expect(g.err).toEqual([WARNED, 'aaps: refused: HTTP 403 FORBIDDEN not an approver']);
    expect(readFileSync(out, 'utf8')).toBe('old\n');
    expect(leftovers()).toEqual([]);
  });
});

describe('aaps unseal prints what a submitter chose escaped', () => {
  it('a sealed field whose path holds terminal control sequences is not printed raw to the approver', async () => {
    // metadata keys are any string up to 1024 characters (intake/envelope.ts): whoever can submit
    // an incident (a submit token, a webhook sender) chooses the path of what gets sealed.
    const hostile = await sealValue(
      's3cret-value\u001b[2J',
      '/payload/metadata/\u001b]0;owned\u0007\u001b[2K\r/pass\u202eword\u007f',
      {
        incidentId: INCIDENT,
        parties: parties.map(({ id, x25519PublicKey }) => ({ id, x25519PublicKey })),
        threshold: 3,
      },
    );
    for (const json of [false, true]) {
      const g = gateway(hostile);
      expect(await runUnseal(opts(g.evidenceId, { json }), config(), 't', g.io)).toBe(0);
      const printed = g.out.join('\n');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: what is looked for
      expect(printed).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
      expect(printed).toContain('\\u001b]0;owned\\u0007');
      if (json) expect(JSON.parse(printed).values).toEqual({ [hostile.path]: 's3cret-value\u001b[2J' });
    }
  });
});

describe('aaps unseal signs for the evidence it was asked about', () => {
  it('a bundle that is not the evidence EVIDENCE_ID names (sha256 of its log leaf) is refused before signing', async () => {
    // The served bundle is another evidence's: its leaf hash is not the id typed.
    const g = gateway();
    const asked = 'c'.repeat(64);
    expect(await runUnseal(opts(asked), config(), 't', g.io)).toBe(1);
    expect(g.posts()).toBe(0);
    expect(g.err).toEqual([
      WARNED,
      `aaps: not signed: the bundle the gateway served for ${asked} is evidence ${g.evidenceId}, not the one asked for`,
    ]);
  });

  it('an answer that is not a bundle is one line, nothing signed', async () => {
    const g = gateway();
    const fetch = (async () => Response.json({ hello: 'world' })) as typeof globalThis.fetch;
    expect(await runUnseal(opts(g.evidenceId), config(), 't', { ...g.io, fetch })).toBe(1);
    expect(g.err).toEqual([
      WARNED,
      `aaps: cannot unseal ${g.evidenceId}: not an evidence bundle (bad dsseEnvelope)`,
    ]);
  });

  it.each([
    ['', 'needs a reason, not blank'],
    ['   ', 'needs a reason, not blank'],
    // What the docs review ran: every default-policy party refused it after it was logged.
    [
      'check',
      'at least 8 characters: a party whose policy requires a reason (the default’s does) refuses a shorter one',
    ],
    [
      '  short  ',
      'at least 8 characters: a party whose policy requires a reason (the default’s does) refuses a shorter one',
    ],
    ['two\nlines', 'one line, no control characters'],
    ['r'.repeat(1025), 'at most 1024 characters'],
  ])('--reason %j is refused before anything is asked: %s', async (reason, problem) => {
    const g = gateway();
    await expect(runUnseal(opts(g.evidenceId, { reason }), config(), 't', g.io)).rejects.toThrow(
      `unseal: --reason: ${problem}`,
    );
    expect(g.posts()).toBe(0);
  });
});

describe('aaps unseal --out when nothing opens', () => {
  it('a run whose every field is refused leaves an existing --out file as it was', async () => {
    const out = join(dir, 'values.json');
    const first = gateway();
    expect(await runUnseal(opts(first.evidenceId, { out }), config(), 't', first.io)).toBe(0);
    const before = readFileSync(out, 'utf8');
    expect(before).toContain(SECRET);
    // The same command again; this time the parties refuse (policy, quorum down): 200, no releases.
    const refusing = gateway(
      field,
      Response.json({
        releases: [],
        refusals: [{ field: field.id, party: 'p1', rule: 'unseal.reason' }],
        evidence: { request: 'a'.repeat(64), releases: 'b'.repeat(64) },
      }),
    );
    expect(await runUnseal(opts(refusing.evidenceId, { out }), config(), 't', refusing.io)).toBe(1);
    // The values opened before are still there (exit 1 wrote nothing worth keeping).
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(refusing.out).toEqual([
      `nothing opened: ${out} left as it was`,
      '/spec/db: not opened: QUORUM_UNREACHABLE (refused by 1 party: unseal.reason)',
    ]);
    expect(leftovers()).toEqual([]);
  });

  it('--json says no file was written (out: null), and a partial or full result still replaces FILE', async () => {
    const out = join(dir, 'values-json.json');
    writeFileSync(out, 'earlier values\n', { mode: 0o600 });
    const refusing = gateway(field, Response.json({ releases: [], refusals: [] }));
    const json = opts(refusing.evidenceId, { out, json: true });
    expect(await runUnseal(json, config(), 't', refusing.io)).toBe(1);
    expect(JSON.parse(refusing.out[0] ?? '{}')).toMatchObject({ out: null, opened: [] });
    expect(readFileSync(out, 'utf8')).toBe('earlier values\n');
    const opening = gateway();
    expect(await runUnseal(opts(opening.evidenceId, { out, json: true }), config(), 't', opening.io)).toBe(0);
    expect(JSON.parse(opening.out[0] ?? '{}')).toMatchObject({ out, opened: ['/spec/db'] });
    expect(readFileSync(out, 'utf8')).toContain(SECRET);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(leftovers()).toEqual([]);
  });
});

const AAPS = fileURLToPath(new URL('../../dist/cli/aaps.js', import.meta.url));

/** A gateway stand-in that takes every request and never answers; `asked` resolves on the first. */
async function silentGateway() {
  let asked: () => void = () => {};
  const first = new Promise<void>((r) => {
    asked = r;
  });
  const server = createServer(() => asked());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked: first,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('aaps unseal --out stopped by a signal', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} while waiting for the gateway: exit ${code}, FILE as it was, no temporary file left`, async () => {
      const gw = await silentGateway();
      const here = mkdtempSync(join(dir, 'signal-'));
      const out = join(here, 'values.json');
      writeFileSync(out, 'earlier values\n', { mode: 0o600 });
      const id = 'c'.repeat(64);
      try {
        const child = spawn(
          process.execPath,
          [
            AAPS,
            'unseal',
            id,
            '--reason',
            'rotate the password',
            '--trust-served-root',
            '--out',
            out,
            '--data-dir',
            dir,
            '--url',
            gw.url,
          ],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, AAPS_API_TOKEN: 'test-token-0123456789' },
          },
        );
        const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
        await gw.asked;
        // The request is out: the new file waits beside FILE.
        expect(readdirSync(here).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
        child.kill(signal);
        expect(await exited).toBe(code);
        expect(readdirSync(here)).toEqual(['values.json']);
        expect(readFileSync(out, 'utf8')).toBe('earlier values\n');
      } finally {
        await gw.close();
      }
    });
  }
});
