/**
 * Network namespaces for the "separate hosts" suite: one namespace per party, joined to the test's
 * own namespace by a veth pair carrying a /30 from 198.18.0.0/15 (the benchmarking range, never
 * routed). The test makes and removes them itself; `netnsRefusal()` says why it cannot, so the
 * suite skips with that reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsRefusal(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: ip netns needs CAP_SYS_ADMIN';
  const name = `aaps-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (add.status !== 0) return `ip netns add refused: ${(add.stderr || add.error?.message || '').trim()}`;
  const veth = spawnSync(
    'ip',
    [
      'link',
      'add',
      `apv${process.pid % 100000}`,
      'type',
      'veth',
      'peer',
      'name',
      `apw${process.pid % 100000}`,
    ],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  spawnSync('ip', ['link', 'del', `apv${process.pid % 100000}`], { timeout: 10_000 });
  spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
  if (veth.status !== 0) return `veth pairs refused: ${(veth.stderr || '').trim()}`;
  return undefined;
}

export interface Host {
  readonly ns: string;
  /** The party's address inside its namespace. */
  readonly address: string;
  /** The test-side end of the link. */
  readonly gateway: string;
}

/** Make namespace `i` (1-based, at most 250) with its veth link. */
export function makeHost(i: number, tag: string): Host {
  const ns = `aaps-${tag}-${i}`;
  const outside = `a${tag}o${i}`.slice(0, 15);
  const inside = `a${tag}i${i}`.slice(0, 15);
  const address = `198.18.${i}.2`;
  const gateway = `198.18.${i}.1`;
  ip(['netns', 'add', ns]);
  ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
  ip(['link', 'set', inside, 'netns', ns]);
  ip(['addr', 'add', `${gateway}/30`, 'dev', outside]);
  ip(['link', 'set', outside, 'up']);
  ip(['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', inside]);
  ip(['netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']);
  ip(['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  return { ns, address, gateway };
}

/** Remove a namespace (its veth pair goes with it). Never throws. */
export function removeHost(h: Host): void {
  spawnSync('ip', ['netns', 'del', h.ns], { timeout: 10_000 });
}
