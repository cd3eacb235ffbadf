/** `aaps up --local` over real HTTP: ready line, token file 0600, clean stop, keys reused on restart. */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster } from '@aaps/agents';
import { getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { writeSavedPublicPackage } from '../coordinator-http.js';
import { fixture, SIGNALS } from '../test-helpers/gateway.js';
import { runApprove } from './approve.js';
import { runSubmit } from './submit.js';
import { memoryHint, partyPolicyFile, runGatewayOnly, runUp } from './up.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start() {
  const parsed = parseGatewayConfig(['--local', '--data-dir', dir, '--port', '0'], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const lines: string[] = [];
  let stop!: (why: string) => void;
  let ready!: (line: string) => void;
  const readyLine = new Promise<string>((r) => {
    ready = r;
  });
  const done = runUp(parsed.config, {
    print: (l) => {
      lines.push(l);
      if (l.startsWith('aaps: ready at ')) ready(l);
    },
    stopSignal: new Promise((r) => {
      stop = r;
    }),
  });
  const line = await Promise.race([readyLine, done.then(() => lines.join('\n'))]);
  const m = /ready at (\S+) \(group key ([0-9a-f]{64})/.exec(line);
  if (m === null) throw new Error(`no ready line: ${lines.join('\n')}`);
  return {
    url: m[1] ?? '',
    groupKey: m[2] ?? '',
    lines,
    stop: async () => {
      stop('SIGTERM');
      return done;
    },
  };
}

describe('aaps up --local', () => {
  it('a start that served and then fails removes nothing it wrote: the clean-up is for a start that never became ready', async () => {
    const own = mkdtempSync(join(tmpdir(), 'aaps-up-served-'));
    try {
      const parsed = parseGatewayConfig(['--local', '--data-dir', own, '--port', '0'], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      const lines: string[] = [];
      let fail!: (e: Error) => void;
      const stopSignal = new Promise<string>((_, reject) => {
        fail = reject;
      });
      const done = runUp(parsed.config, {
        print: (l) => {
          lines.push(l);
          // Anything that goes wrong once the gateway has served (here: the wait for the stop).
          if (l.startsWith('aaps: ready at ')) fail(new Error('lost the stop signal'));
        },
        stopSignal,
      });
      await expect(done).rejects.toThrow('lost the stop signal');
      expect(lines.some((l) => l.startsWith('aaps: ready at '))).toBe(true);
      expect(lines.some((l) => l.includes('removed what it wrote'))).toBe(false);
      expect(existsSync(join(own, 'api-token'))).toBe(true);
      expect(existsSync(join(own, 'local', 'keys.json'))).toBe(true);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('serves, stops cleanly, and reuses its keys and token on a second start', async () => {
    const first = await start();
    expect(first.lines.filter((l) => l.startsWith('aaps: ready')).length).toBe(1);
    expect(statSync(join(dir, 'api-token')).mode & 0o777).toBe(0o600);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    const unauth = await fetch(`${first.url}/v1/webhooks/kubernetes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixture('kubernetes/events-v1-quota-exceeded.json')),
    });
    expect(unauth.status).toBe(401);
    expect(await first.stop()).toBe(0);
    expect(first.lines.at(-1)).toBe('aaps: stopped');

    const second = await start();
    expect(second.groupKey).toBe(first.groupKey);
    expect(second.lines.some((l) => l.startsWith('keys: reusing'))).toBe(true);
    expect(second.lines.some((l) => l.startsWith('token: reusing'))).toBe(true);
    expect(await second.stop()).toBe(0);
  });

  it('says the mode it found the token and key set in, and warns when group or others may read them', async () => {
    const token = join(dir, 'api-token');
    const keys = join(dir, 'local', 'keys.json');
    chmodSync(token, 0o644);
    chmodSync(keys, 0o640);
    try {
      const loose = await start();
      expect(await loose.stop()).toBe(0);
      expect(loose.lines).toContain(`token: reusing ${token} (mode 0644)`);
      expect(loose.lines).toContain(
        `token: warning: ${token} holds the admin token and is readable by group or others (mode 0644): chmod 600 ${token}`,
      );
      expect(loose.lines).toContain(
        `keys: warning: ${keys} holds every party's key share and is readable by group or others (mode 0640): chmod 600 ${keys}`,
      );
      // Read as they are, not changed behind the operator's back.
      expect(statSync(token).mode & 0o777).toBe(0o644);
    } finally {
      chmodSync(token, 0o600);
      chmodSync(keys, 0o600);
    }
    const tight = await start();
    expect(await tight.stop()).toBe(0);
    expect(tight.lines).toContain(`token: reusing ${token} (mode 0600)`);
    expect(tight.lines.filter((l) => l.includes('warning'))).toEqual([]);
  });

  it('a start asking for another threshold or ciphersuite than the saved key set: refused before anything is said or written', async () => {
    expect(existsSync(join(dir, 'local', 'keys.json'))).toBe(true);
    const saved = readFileSync(join(dir, 'local', 'keys.json'), 'utf8');
    for (const [flags, remedy] of [
      [['--threshold', '4'], '--threshold 3'],
      [['--ciphersuite', 'FROST-secp256k1-SHA256-TR-v1'], '--ciphersuite FROST-ED25519-SHA512-v1'],
    ] as const) {
      const parsed = parseGatewayConfig(['--local', '--data-dir', dir, '--port', '0', ...flags], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      const said: string[] = [];
      await expect(
        runUp(parsed.config, { print: (l) => void said.push(l), stopSignal: new Promise(() => {}) }),
      ).rejects.toThrow(
        new RegExp(
          `holds a 3-of-5 FROST-ED25519-SHA512-v1 key; start it with ${remedy}, or use a new --data-dir$`,
        ),
      );
      expect(said).toEqual([]);
    }
    expect(readFileSync(join(dir, 'local', 'keys.json'), 'utf8')).toBe(saved);
  });

  it('aaps submit follows an incident; aaps approve signs the human approval it waits for', async () => {
    const up = await start();
    try {
      const parsed = parseGatewayConfig(['--data-dir', dir, '--url', up.url, '--source', 'envelope'], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
      const file = join(dir, 'rbac.json');
      writeFileSync(file, JSON.stringify(SIGNALS.rbac()));
      const out: string[] = [];
      const io = { print: (l: string) => void out.push(l), fetch };
      expect(await runSubmit(file, parsed.config, token, io)).toBe(0);
      const id = /^(inc-\S+) {2}opened$/.exec(out[0] ?? '')?.[1] ?? '';
      expect(out.some((l) => l.includes('awaiting_human'))).toBe(true);
      const code = await runApprove(id, parsed.config, token, io, { yes: true });
      expect(code).toBe(0);
      expect(out.at(-1)).toMatch(new RegExp(`^${id} {2}ended resolved; evidence [0-9a-f]{64}`));
      // A second approval of an incident no longer waiting is refused.
      expect(await runApprove(id, parsed.config, token, io, { yes: true })).toBe(1);
    } finally {
      await up.stop();
    }
  });

  it('a port in use: the start fails naming it, and writes no gateway store', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const { port } = busy.address() as AddressInfo;
    const fresh = mkdtempSync(join(tmpdir(), 'aaps-up-busy-'));
    try {
      const parsed = parseGatewayConfig(['--local', '--data-dir', fresh, '--port', String(port)], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      await expect(
        runUp(parsed.config, { print: () => {}, stopSignal: new Promise(() => {}) }),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(existsSync(join(fresh, 'gateway', 'db'))).toBe(false);
    } finally {
      await new Promise((r) => busy.close(r));
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it("a department's policy file is found by party id, else role, and given as an absolute path", () => {
    const policies = mkdtempSync(join(tmpdir(), 'aaps-policies-'));
    const cwd = process.cwd();
    try {
      writeFileSync(join(policies, 'risk-dept.json'), '{}');
      writeFileSync(join(policies, 'audit.json'), '{}');
      process.chdir(policies);
      expect(partyPolicyFile('.', { id: 'risk-dept', role: 'strategy' })).toBe(
        join(realpathSync(policies), 'risk-dept.json'),
      );
      expect(partyPolicyFile('.', { id: 'audit', role: 'audit' })).toBe(
        join(realpathSync(policies), 'audit.json'),
      );
      expect(partyPolicyFile('.', { id: 'monitoring', role: 'monitoring' })).toBeUndefined();
      expect(partyPolicyFile(undefined, { id: 'audit', role: 'audit' })).toBeUndefined();
    } finally {
      process.chdir(cwd);
      rmSync(policies, { recursive: true, force: true });
    }
  });
});

describe('aaps gateway', () => {
  it('says its own heap note (not the one for aaps up) and ends with aaps: stopped, as aaps up does', async () => {
    // A later start (a public package of record): the gateway serves without asking the parties.
    const d = join(dir, 'gateway-only');
    const layout = await layoutCluster({ dir: d });
    const suite = getCiphersuite(layout.roster.ciphersuite);
    writeSavedPublicPackage(
      d,
      PublicKeyPackageCodec.toJSON(suite.id, trustedDealer(suite, layout.roster.threshold).publicPackage),
    );
    const parsed = parseGatewayConfig(['--data-dir', d, '--port', '0'], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const lines: string[] = [];
    let stop!: (why: string) => void;
    let ready!: () => void;
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    const done = runGatewayOnly(parsed.config, {
      print: (l) => {
        lines.push(l);
        if (l.startsWith('aaps: gateway ready at ')) ready();
      },
      stopSignal: new Promise((r) => {
        stop = r;
      }),
    });
    await Promise.race([isReady, done]);
    expect(
      lines.some((l) => l.startsWith('aaps: gateway ready at ')),
      lines.join('\n'),
    ).toBe(true);
    stop('SIGTERM');
    expect(await done).toBe(0);
    expect(lines.slice(-2)).toEqual(['aaps: SIGTERM, shutting down', 'aaps: stopped']);
    // The gateway says what memoryHint says for this process (its lines: memoryHint's own tests).
    const notes = lines.filter((l) => l.startsWith('aaps: note:'));
    const expected: string[] = [];
    memoryHint({ print: (l) => void expected.push(l) }, 'gateway');
    expect(notes).toEqual(expected);
  }, 30_000);
});

describe('memoryHint: what a gateway started without npm start says about its memory', () => {
  const GiB = 1024 * 1024 * 1024;
  const said = (command: 'up' | 'gateway', facts: Parameters<typeof memoryHint>[2]) => {
    const lines: string[] = [];
    memoryHint({ print: (l) => void lines.push(l) }, command, facts);
    return lines;
  };
  it('names what is missing, in one line, with what to set', () => {
    expect(said('up', { heapLimit: 4 * GiB, mallocArenaMax: undefined, glibc: true })).toEqual([
      "aaps: note: this process has no heap limit and glibc's default malloc arenas (npm start sets both for aaps up); to cap its memory, run aaps up with MALLOC_ARENA_MAX=2 NODE_OPTIONS='--max-old-space-size=160 --max-semi-space-size=4'",
    ]);
    expect(said('gateway', { heapLimit: 4 * GiB, mallocArenaMax: '4', glibc: true })).toEqual([
      "aaps: note: this process has no heap limit; to cap its memory, run aaps gateway with NODE_OPTIONS='--max-old-space-size=160 --max-semi-space-size=4'",
    ]);
    expect(said('gateway', { heapLimit: 160 * 1024 * 1024, mallocArenaMax: '', glibc: true })).toEqual([
      "aaps: note: this process has glibc's default malloc arenas; to cap its memory, run aaps gateway with MALLOC_ARENA_MAX=2",
    ]);
  });
  it('says nothing as npm start runs it, nor about arenas where malloc is not glibc’s', () => {
    expect(said('up', { heapLimit: 176 * 1024 * 1024, mallocArenaMax: '2', glibc: true })).toEqual([]);
    expect(said('up', { heapLimit: 176 * 1024 * 1024, mallocArenaMax: undefined, glibc: false })).toEqual([]);
  });
});
