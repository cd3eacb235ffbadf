/**
 * A trusted root the client CLI holds a gateway to (`aaps unseal`'s, `aaps log audit`'s, pinned
 * or given with `--trusted-root FILE`) must be a file only its user (or root) can change: one
 * that group or others can write, in a directory they can write, or owned by another user, can be
 * replaced by them, and the root trusted is then theirs. Such a file is refused as ssh refuses a
 * loose key file: exit 2, one line naming the path, the mode found and the fix, before the
 * gateway is asked anything.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { standInTrustedRoot } from '../test-helpers/log-audit.js';
import { type DownGateway, downGateway } from '../test-helpers/loopback-server.js';
import { runCapture } from './test-helpers/run-capture.js';
import { looseTrustedRoot } from './trusted-root-file.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-root-perms-'));
const TOKEN = 'x'.repeat(40);
const ROOT = standInTrustedRoot();

// A gateway that is down behind a proxy (502 to everything); it counts what it is asked.
let down: DownGateway;

beforeAll(async () => {
  loadOrCreateIdentityKey(join(dir, 'approvers', 'oncall.key'), true, 'approver');
  down = await downGateway();
});
afterAll(async () => {
  await down.close();
  rmSync(dir, { recursive: true, force: true });
});

const common = () => ['--url', down.url, '--api-token', TOKEN, '--data-dir', dir];
const unseal = (...more: string[]) =>
  runCapture(['unseal', 'a'.repeat(64), '--reason', 'rotate the database password', ...more, ...common()]);
const audit = (...more: string[]) => runCapture(['log', 'audit', ...more, ...common()]);

/** A new directory at `path` that anyone can write (0777, not sticky). */
function looseDirectory(path: string): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o777);
  return path;
}

/** Write a trusted root at `path` with exactly `mode`, in `dirMode` directory. */
function place(path: string, mode: number, dirMode = 0o700): void {
  const d = join(path, '..');
  mkdirSync(d, { recursive: true });
  chmodSync(d, dirMode);
  rmSync(path, { force: true });
  writeFileSync(path, ROOT);
  chmodSync(path, mode);
}

const unsealPin = join(dir, 'approvers', 'trusted_root.json');
const auditPin = join(dir, 'audit', 'trusted_root.json');

beforeEach(() => {
  down.hits = 0;
  rmSync(unsealPin, { force: true });
  rmSync(auditPin, { force: true });
  chmodSync(join(dir, 'approvers'), 0o700);
});

/** The one line a refused file gives: exit 2, nothing asked. */
function expectRefused(r: { code: number; err: string[]; out: string }, ...parts: string[]): void {
  expect(r.code).toBe(2);
  expect(r.err).toHaveLength(1);
  for (const p of parts) expect(r.err[0]).toContain(p);
  expect(down.hits).toBe(0);
}

describe('a pinned trusted root others can change is refused', () => {
  it('aaps unseal: a pinned root writable by group or others (0666): exit 2 naming the path, the mode and chmod 600', async () => {
    place(unsealPin, 0o666);
    expectRefused(await unseal(), unsealPin, '0666', `chmod 600 ${unsealPin}`);
  });

  it('aaps unseal: a pinned root in a directory others can write (0777): exit 2 naming the directory and chmod go-w', async () => {
    place(unsealPin, 0o600, 0o777);
    const approvers = join(dir, 'approvers');
    expectRefused(await unseal(), approvers, '0777', `chmod go-w ${approvers}`);
  });

  it('aaps unseal: a pinned root that is a link to a file others can write: refused for the file it names', async () => {
    const loose = join(dir, 'shared', 'root.json');
    place(loose, 0o664, 0o755);
    symlinkSync(loose, unsealPin);
    expectRefused(await unseal(), loose, '0664', `chmod 600 ${loose}`);
  });

  it("aaps unseal: a pinned root that is a link, in a directory others can write, to a file of your own: refused for the link's directory", async () => {
    const own = join(dir, 'own', 'root.json');
    place(own, 0o600, 0o700);
    const approvers = join(dir, 'approvers');
    chmodSync(approvers, 0o757);
    symlinkSync(own, unsealPin);
    expectRefused(await unseal(), approvers, '0757', `chmod go-w ${approvers}`);
  });

  it('aaps log audit: a pinned root under a data directory others can write (0777): exit 2 naming it and chmod go-w', async () => {
    // Whoever can write the data directory can rename audit/ away and put a directory of their own,
    // holding their root, in its place.
    place(auditPin, 0o600, 0o700);
    chmodSync(dir, 0o777);
    try {
      expectRefused(await audit(), dir, '0777', `chmod go-w ${dir}`);
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  it.skipIf(process.platform === 'win32' || process.getuid?.() !== 0)(
    'aaps unseal: a pinned root owned by another user: exit 2 naming its owner',
    async () => {
      place(unsealPin, 0o644);
      chownSync(unsealPin, 12345, 12345);
      expectRefused(await unseal(), unsealPin, 'uid 12345');
    },
  );

  it('aaps log audit: a pinned root writable by its group (0664): exit 2 naming the path, the mode and chmod 600', async () => {
    place(auditPin, 0o664);
    expectRefused(await audit(), auditPin, '0664', `chmod 600 ${auditPin}`);
  });

  it('aaps log audit: a pinned root in a group-writable directory (0770): exit 2 naming chmod go-w DIR', async () => {
    place(auditPin, 0o600, 0o770);
    const auditDir = join(dir, 'audit');
    expectRefused(await audit(), auditDir, '0770', `chmod go-w ${auditDir}`);
  });
});

describe('a link on the way to the root is held to the same rule as the root', () => {
  // Whoever can write the directory holding a link on the way can point that link elsewhere: a
  // link of a chain (one link naming another), or a directory link in the path given.
  it('a chain of links, the middle one in a directory others can write: refused, naming that directory', () => {
    const own = join(dir, 'chain', 'own', 'root.json');
    place(own, 0o600, 0o700);
    const loose = looseDirectory(join(dir, 'chain', 'loose'));
    symlinkSync(own, join(loose, 'current.json'));
    const pin = join(dir, 'chain', 'pin', 'root.json');
    mkdirSync(join(pin, '..'), { recursive: true, mode: 0o700 });
    symlinkSync(join(loose, 'current.json'), pin);
    expect(looseTrustedRoot(pin)).toContain(`chmod go-w ${loose}`);
  });

  it('a path through a directory link held in a directory others can write: refused, naming that directory', () => {
    const own = join(dir, 'via', 'own', 'root.json');
    place(own, 0o600, 0o700);
    const loose = looseDirectory(join(dir, 'via', 'loose'));
    symlinkSync(join(dir, 'via', 'own'), join(loose, 'roots'));
    expect(looseTrustedRoot(join(loose, 'roots', 'root.json'))).toContain(`chmod go-w ${loose}`);
  });
});

describe('a --trusted-root FILE given on the command line is held to the same rule', () => {
  it('aaps unseal --trusted-root FILE writable by others: exit 2, nothing asked', async () => {
    const file = join(dir, 'given', 'root.json');
    place(file, 0o646, 0o755);
    expectRefused(await unseal('--trusted-root', file), file, '0646', `chmod 600 ${file}`);
  });

  it('aaps log audit --trusted-root FILE writable by others: exit 2, nothing asked', async () => {
    const file = join(dir, 'given', 'root.json');
    place(file, 0o666, 0o755);
    expectRefused(await audit('--trusted-root', file), file, '0666', `chmod 600 ${file}`);
  });
});

describe('a trusted root only you (or root) can change is used', () => {
  it('a pinned root others can read but not write (0644 in 0755): both commands go on to ask the gateway', async () => {
    place(unsealPin, 0o644, 0o755);
    place(auditPin, 0o644, 0o755);
    const u = await unseal();
    expect(u.code).toBe(1);
    expect(down.hits).toBeGreaterThan(0);
    down.hits = 0;
    const a = await audit();
    expect(a.code).toBe(1);
    expect(down.hits).toBeGreaterThan(0);
    chmodSync(join(dir, 'approvers'), 0o700);
  });

  it('a --trusted-root FILE of your own in a sticky directory others can write (as /tmp): used', async () => {
    const file = join(dir, 'sticky', 'root.json');
    place(file, 0o644, 0o1777);
    const r = await audit('--trusted-root', file);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).not.toContain('writable');
    expect(down.hits).toBeGreaterThan(0);
  });

  it.skipIf(process.platform === 'win32')(
    "the auditor's pin commands of docs/api.md, run under umask 002 (a user-private-group default) in a home without .aaps: the pin is taken",
    () => {
      const api = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8');
      // The commands that make the pin's directories (the fetch and the check need a gateway).
      const making = api
        .split('\n')
        .filter((l) => l.includes('~/.aaps/audit') && /^\(?(umask 077; )?mkdir /.test(l));
      expect(making.length).toBeGreaterThan(0);
      const home = join(dir, 'home-umask-002');
      mkdirSync(home, { mode: 0o700 });
      execFileSync('sh', ['-c', `umask 002; ${making.join('; ')}`], { env: { ...process.env, HOME: home } });
      const pin = join(home, '.aaps', 'audit', 'trusted_root.json');
      writeFileSync(pin, ROOT, { mode: 0o600 });
      expect(looseTrustedRoot(pin)).toBeUndefined();
    },
  );

  it('on Windows (no POSIX modes) the check is skipped', () => {
    const file = join(dir, 'given', 'win.json');
    place(file, 0o666, 0o777);
    expect(looseTrustedRoot(file)).toMatch(/^is writable by group or others \(mode 0666\)/);
    expect(looseTrustedRoot(file, 'win32')).toBeUndefined();
  });
});
