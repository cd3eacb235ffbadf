/**
 * The transparency log's batches (leaves, nodes, size, checkpoints) reach the disk before they
 * count as written (`sync`), as the parties' records of what they signed do: a power loss must not
 * take back a tail the parties witnessed, after which every checkpoint of the re-grown tree would
 * be refused as a fork, and bundles handed out would cite leaves the log no longer holds. A power
 * loss cannot be staged in a test; what is checked is that every log batch asks for the sync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransparencyLog } from '@aaps/evidence';
import { Level } from 'level';
import { afterEach, expect, it, vi } from 'vitest';
import { openGatewayStore } from './store.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('log batches that a checkpoint (witnessed by the parties) depends on are written with sync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-store-log-sync-'));
  dirs.push(dir);
  const proto = Object.getPrototypeOf(Level.prototype) as { batch: (...a: unknown[]) => unknown };
  const spy = vi.spyOn(proto, 'batch');
  const store = await openGatewayStore(dir);
  try {
    const log = await TransparencyLog.open(store.log, { origin: 'aaps.test/log' });
    await log.appendOnce(new TextEncoder().encode('leaf'));
    const calls = spy.mock.calls.filter(
      (c) => Array.isArray(c[0]) && (c[0] as { key: string }[]).some((op) => op.key.startsWith('l!')),
    );
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect((c[1] as { sync?: boolean } | undefined)?.sync).toBe(true);
  } finally {
    await store.close();
  }
});
