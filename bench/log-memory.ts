/**
 * `npm run bench:log-memory [-- <leaves>]`: what the transparency log keeps in memory as it grows
 * (its cache of subtree hashes, default 65,536 entries, which a gateway fills over about 50,000
 * incidents), on LevelDB as the gateway opens it. Appends `<leaves>` leaves (default 60,000) in
 * batches of 500, then asks an inclusion proof into the whole tree for every leaf, as the gateway
 * does for each bundle. Prints and writes `bench/results/log-memory.json`: the growth of V8's heap
 * and of array buffers (after full collections) from an empty log, the cache's entries, and the
 * mean time of a proof. Run with `--expose-gc` (the script does).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LogStore, TransparencyLog } from '@aaps/evidence';
import { Level } from 'level';

const leaves = Number(process.argv[2] ?? 60_000);
if (!Number.isSafeInteger(leaves) || leaves < 1) {
  console.error(`bench:log-memory: <leaves> must be a positive integer, not ${process.argv[2]}`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench:log-memory: run node with --expose-gc (npm run bench:log-memory does)');
  process.exit(2);
}

function usedMiB(): { heap: number; arrayBuffers: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 1048576, arrayBuffers: m.arrayBuffers / 1048576 };
}

const round = (x: number) => Math.round(x * 10) / 10;
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-memory-'));
const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
try {
  const store: LogStore = {
    get: (key) => db.get(key),
    getMany: (keys) => db.getMany(keys),
    batch: (ops) => db.batch(ops),
  };
  const start = usedMiB();
  const log = await TransparencyLog.open(store, { origin: 'bench.aaps/log' });
  const encoder = new TextEncoder();
  for (let i = 0; i < leaves; i += 500) {
    const n = Math.min(500, leaves - i);
    await Promise.all(Array.from({ length: n }, (_, j) => log.append(encoder.encode(`leaf-${i + j}`))));
    if ((i / 500) % 20 === 19) console.error(`bench:log-memory: ${i + n} of ${leaves} leaves appended`);
  }
  const t0 = performance.now();
  for (let i = 0; i < leaves; i++) await log.inclusionProof(i, leaves);
  const proofMicros = ((performance.now() - t0) * 1000) / leaves;
  const end = usedMiB();
  const result = {
    leaves,
    heap_growth_mib: round(end.heap - start.heap),
    array_buffers_growth_mib: round(end.arrayBuffers - start.arrayBuffers),
    proof_mean_us: round(proofMicros),
    node: process.version,
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result));
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'log-memory.json');
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
