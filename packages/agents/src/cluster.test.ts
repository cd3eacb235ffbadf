import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts, layoutCluster, spawnParty } from './cluster.js';
import { parseRoster } from './roster.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('layoutCluster', () => {
  it('writes 0600 identity keys, a valid roster, configs, and per-party policies when given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const layout = await layoutCluster({
      dir,
      threshold: 3,
      ports: [7101, 7102, 7103, 7104, 7105],
      policyFor: (p) => (p.role === 'strategy' ? '/etc/aaps/risk-dept.json' : undefined),
      logOrigin: 'aaps.example/log',
    });
    expect(parseRoster(JSON.parse(readFileSync(layout.rosterPath, 'utf8'))).threshold).toEqual({
      min: 3,
      max: 5,
    });
    for (const p of layout.roster.parties) {
      expect(statSync(join(dir, 'parties', p.id, 'identity.key')).mode & 0o777).toBe(0o600);
      const cfg = JSON.parse(readFileSync(layout.configPaths[p.id]!, 'utf8')) as {
        policy?: string;
        port: number;
        log_origin?: string;
      };
      expect(cfg.policy).toBe(p.role === 'strategy' ? '/etc/aaps/risk-dept.json' : undefined);
      expect(cfg.log_origin).toBe('aaps.example/log');
      expect(cfg.port).toBe(Number(new URL(p.url).port));
    }
    // A second layout over the same directory keeps every identity; its configs say what it was
    // given now (no origin: any).
    const again = await layoutCluster({ dir, threshold: 3, ports: [7101, 7102, 7103, 7104, 7105] });
    expect(again.roster.parties.map((p) => p.identity_key)).toEqual(
      layout.roster.parties.map((p) => p.identity_key),
    );
    const cfg = JSON.parse(readFileSync(again.configPaths[again.roster.parties[0]!.id]!, 'utf8'));
    expect(cfg.log_origin).toBeUndefined();
  });

  it('a roster with an https:// party URL is refused where it is read, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const layout = await layoutCluster({ dir, threshold: 3, ports: [7101, 7102, 7103, 7104, 7105] });
    const json = JSON.parse(readFileSync(layout.rosterPath, 'utf8'));
    json.parties[1].url = 'https://10.0.0.12:7102';
    const e = (() => {
      try {
        parseRoster(json);
      } catch (x) {
        return x as ValidationError;
      }
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e?.fields).toContain('parties[1].url');
  });

  it('a roster in which one id or key stands for two principals is refused, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const layout = await layoutCluster({ dir, threshold: 3, ports: [7101, 7102, 7103, 7104, 7105] });
    const base = JSON.parse(readFileSync(layout.rosterPath, 'utf8'));
    const approver = { id: 'oncall', identity_key: 'ab'.repeat(32) };
    const fieldsOf = (edit: (json: typeof base) => void) => {
      const json = JSON.parse(JSON.stringify({ ...base, approvers: [approver] }));
      edit(json);
      try {
        parseRoster(json);
      } catch (x) {
        return (x as ValidationError).fields;
      }
      return [];
    };
    expect(fieldsOf(() => {})).toEqual([]);
    expect(fieldsOf((j) => (j.gateway.id = j.parties[0].id))).toContain('gateway.id');
    expect(fieldsOf((j) => (j.gateway.identity_key = j.parties[2].identity_key))).toContain(
      'gateway.identity_key',
    );
    expect(fieldsOf((j) => (j.approvers[0].id = j.parties[1].id))).toContain('approvers[0].id');
    expect(fieldsOf((j) => (j.approvers[0].id = j.gateway.id))).toContain('approvers[0].id');
    expect(fieldsOf((j) => (j.approvers[0].identity_key = j.gateway.identity_key))).toContain(
      'approvers[0].identity_key',
    );
  });
});

describe('freePorts and spawnParty', () => {
  it('gives distinct ports, and a cluster laid out without ports has distinct URLs', async () => {
    const ports = await freePorts(8);
    expect(new Set(ports).size).toBe(8);
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const layout = await layoutCluster({ dir, threshold: 3 });
    expect(new Set(layout.roster.parties.map((p) => p.url)).size).toBe(5);
  });

  it('is not ready when another process answers at its URL as the same party', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const layout = await layoutCluster({ dir, threshold: 3 });
    const party = layout.roster.parties[0]!;
    // An impostor holds the party's port and answers /healthz with the party's id.
    const impostor = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok', party: party.id }));
    });
    const port = Number(new URL(party.url).port);
    await new Promise<void>((res) => impostor.listen(port, '127.0.0.1', res));
    const proc = spawnParty(party.id, party.url, layout.configPaths[party.id]!);
    try {
      await expect(proc.ready(15_000)).rejects.toThrow(/exited/);
    } finally {
      await proc.stop('SIGKILL');
      await new Promise((res) => impostor.close(res));
    }
  });

  it('a party that exits at start is reported with what this run wrote, not older runs of its log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const logFile = join(dir, 'party.log');
    writeFileSync(logFile, 'an old run: Database failed to open\n'.repeat(20));
    const main = join(dir, 'fails.mjs');
    writeFileSync(main, "console.error('aaps party: this run failed'); process.exit(3);\n");
    const party = spawnParty('p1', 'http://127.0.0.1:1', join(dir, 'none.json'), { logFile, mainPath: main });
    const error = await party.ready(10_000).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe('party p1 exited with 3: aaps party: this run failed');
  });

  it("a party inherits none of this process's own AAPS_ settings (the gateway's secrets), only the shared party ones and those it is given", async () => {
    // From the secrets review: every party `aaps up` spawned held the gateway's admin token and
    // webhook secret in /proc/<pid>/environ, and one AAPS_PARTY_DATA_KEY set in the shell would
    // have been all five departments' at-rest key. From the review of that fix: the settings all
    // departments may share (drop_nonces_at_start, the log level) must still reach them.
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    dirs.push(dir);
    const main = join(dir, 'names.mjs');
    // Prints the names it sees, never a value.
    writeFileSync(
      main,
      "console.error(Object.keys(process.env).filter((n) => n.startsWith('AAPS_')).sort().join(' ')); process.exit(3);\n",
    );
    const planted = {
      AAPS_API_TOKEN: 'canary-admin-token',
      AAPS_GITHUB_WEBHOOK_SECRET: 'canary-webhook-secret',
      AAPS_PARTY_DATA_KEY: '11'.repeat(32),
      AAPS_PARTY_ID: 'someone-else',
      AAPS_PARTY_DROP_NONCES_AT_START: 'true',
      AAPS_PARTY_LOG_LEVEL: 'warn',
    };
    const saved = Object.keys(planted).map((k) => [k, process.env[k]] as const);
    Object.assign(process.env, planted);
    let error: Error | undefined;
    try {
      const party = spawnParty('p1', 'http://127.0.0.1:1', join(dir, 'none.json'), {
        mainPath: main,
        env: { AAPS_PARTY_NONCE_TTL_SEC: '60' },
      });
      error = await party.ready(10_000).then(
        () => undefined,
        (e: Error) => e,
      );
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(error?.message).toBe(
      'party p1 exited with 3: AAPS_PARTY_DROP_NONCES_AT_START AAPS_PARTY_LOG_LEVEL AAPS_PARTY_NONCE_TTL_SEC AAPS_PARTY_PARENT_FD',
    );
  });

  it.skipIf(!existsSync('/proc/self/fd'))(
    'a spawn that throws (E2BIG) leaves its log file closed',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'layout-'));
      dirs.push(dir);
      const logFile = join(dir, 'party.log');
      const open = () => readdirSync('/proc/self/fd').length;
      const before = open();
      for (let i = 0; i < 3; i++) {
        let code: unknown;
        try {
          spawnParty('p1', 'http://127.0.0.1:1', join(dir, 'none.json'), {
            logFile,
            env: { TOO_BIG: 'x'.repeat(4 * 1024 * 1024) },
          });
        } catch (e) {
          code = (e as { code?: unknown }).code;
        }
        expect(code).toBe('E2BIG');
      }
      expect(open()).toBe(before);
    },
  );
});
