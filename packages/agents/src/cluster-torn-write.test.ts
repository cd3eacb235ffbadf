/**
 * The files `layoutCluster` rewrites on every `aaps up` start (`roster.json`, each party's
 * `party.json`) are read by the next start: a rewrite cut short must leave the old file whole (or
 * the new one), never an empty or half-written file that the next start refuses; and the new one
 * must be on disk (synced, then its directory) before it is relied on.
 *
 * The interruption is real and deterministic: the writer runs in a child process under a file size
 * limit, so its write stops part way (EFBIG), as one on a full disk stops with ENOSPC; a kill or a
 * power loss between the truncation and the last write of an in-place rewrite leaves the same torn
 * file. Durability is checked on the system calls the writer makes (`strace`), where it runs.
 */
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LayoutOptions, layoutCluster } from './cluster.js';
import {
  durabilityGaps,
  runWithFileSizeLimit,
  straceWorks,
  traceFileCalls,
} from './test-helpers/file-writes.js';

const DIST = pathToFileURL(resolve(import.meta.dirname, '../dist/index.js')).href;
const OLD_PORTS = [41001, 41002, 41003, 41004, 41005];
const NEW_PORTS = [42001, 42002, 42003, 42004, 42005];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A cluster laid out once (in this process): the files a later start rewrites. */
async function established(opts: Partial<LayoutOptions> = {}): Promise<string> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'torn-layout-')));
  dirs.push(dir);
  await layoutCluster({ dir, ports: OLD_PORTS, ...opts });
  return dir;
}

/** The module a child runs: lay the cluster in `dir` out again with `opts` (from the built code). */
const relayout = (opts: Record<string, unknown>) =>
  `import { layoutCluster } from ${JSON.stringify(DIST)};\nawait layoutCluster(${JSON.stringify(opts)});`;

describe('a rewrite of the cluster layout cut short (a full disk, a kill, a power loss)', () => {
  it('leaves roster.json holding the old roster whole or the new one whole, never a torn one', async () => {
    const dir = await established();
    const path = join(dir, 'roster.json');
    const before = readFileSync(path, 'utf8');
    expect(before.length).toBeGreaterThan(512); // the limit below cuts its rewrite
    const child = runWithFileSizeLimit(1, relayout({ dir, ports: NEW_PORTS }));
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('EFBIG');
    const after = readFileSync(path, 'utf8');
    await layoutCluster({ dir, ports: NEW_PORTS }); // the whole new roster, for the comparison
    const whole = readFileSync(path, 'utf8');
    expect(whole).not.toBe(before);
    expect([before, whole]).toContain(after);
  });

  it("leaves each party's party.json holding its old config whole or its new one whole", async () => {
    const dir = await established({ logOrigin: 'aaps.example/log' });
    const roster = readFileSync(join(dir, 'roster.json'), 'utf8');
    const blocks = Math.ceil(roster.length / 512) + 1; // the roster's rewrite fits; a config's does not
    const logOrigin = `aaps.example/${'l'.repeat(blocks * 512)}`;
    const configs = () =>
      readdirSync(join(dir, 'parties')).map((id) =>
        readFileSync(join(dir, 'parties', id, 'party.json'), 'utf8'),
      );
    const before = configs();
    const child = runWithFileSizeLimit(blocks, relayout({ dir, ports: OLD_PORTS, logOrigin }));
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('EFBIG');
    const after = configs();
    await layoutCluster({ dir, ports: OLD_PORTS, logOrigin });
    const whole = configs();
    for (const [i, text] of after.entries()) expect([before[i], whole[i]]).toContain(text);
  });

  it.skipIf(!straceWorks)(
    'makes the new roster.json and party.json durable: each synced before it is renamed into place, the directory after',
    async () => {
      const dir = await established();
      const calls = traceFileCalls(relayout({ dir, ports: NEW_PORTS }));
      expect(durabilityGaps(calls, join(dir, 'roster.json'), dir)).toEqual([]);
      const party = join(dir, 'parties', 'monitoring-agent');
      expect(durabilityGaps(calls, join(party, 'party.json'), party)).toEqual([]);
    },
  );
});
