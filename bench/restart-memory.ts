/**
 * `npm run bench:restart [-- <incidents> [<seconds>]]`: what a gateway restart with a backlog of
 * incidents waiting for their evidence costs (the state an evidence outage leaves: every incident
 * that ended meanwhile is `resolved` with no `evidence_id`, and sealing is retried with no time
 * limit, also across restarts). Runs one incident through `aaps up`, stops it, writes that
 * record again under `<incidents>` new ids with its evidence unset, starts `aaps up` on the same
 * data directory with the heap limits `npm start` gives it, and samples the gateway's resident
 * memory from the start, through its ready line, for `<seconds>` after it. The copies' sealing is
 * refused by the parties (their transcripts name another incident), so every one of them stays
 * waiting and is retried throughout: the window shows an outage that has not ended. Writes
 * `bench/results/restart.json`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGatewayStore } from '@aaps/gateway';
import { AAPS, followToEnd, freshPort, incidentEnvelope, rssMiB, startUp } from './load/cluster.js';

const backlog = Number(process.argv[2] ?? 6000);
const watchSeconds = Number(process.argv[3] ?? 90);
/** The heap limits `npm start` and the other benches give `aaps up` (package.json). */
const HEAP_FLAGS = ['--max-old-space-size=160', '--max-semi-space-size=4'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x * 10) / 10;

/** Stops a process with SIGTERM and waits until it is gone (at most 20 s). */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  throw new Error(`process ${pid} did not stop in 20 s`);
}

/** One incident through `aaps up`, sealed; the data directory is left with `aaps up` stopped. */
async function seed(): Promise<{ dataDir: string; id: string }> {
  const up = await startUp({ port: await freshPort() });
  const res = await fetch(`${up.url}/v1/incidents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(incidentEnvelope('config', 'restart')),
  });
  const { incident_id: id } = (await res.json()) as { incident_id: string };
  await followToEnd(up, id);
  for (let i = 0; i < 150; i++) {
    const r = await fetch(`${up.url}/v1/incidents/${id}`, {
      headers: { authorization: `Bearer ${up.token}` },
    });
    if (((await r.json()) as { evidence_id?: string | null }).evidence_id) break;
    await sleep(200);
  }
  await stopPid(up.gatewayPid);
  return { dataDir: up.dataDir, id };
}

/** Writes the incident again under `backlog` new ids, each with its evidence unset. */
async function writeBacklog(dataDir: string, id: string): Promise<number> {
  const store = await openGatewayStore(join(dataDir, 'gateway', 'db'));
  try {
    const record = await store.getIncident(id);
    if (record === undefined) throw new Error(`incident ${id} is not in the store`);
    delete record.evidence_id;
    delete record.sealing;
    await store.putIncident(record);
    for (let done = 0; done < backlog; done += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, backlog - done) }, async () => {
          const copy = structuredClone(record);
          copy.id = `inc-${randomUUID()}`;
          await store.putIncident(copy);
        }),
      );
    }
    return Buffer.byteLength(JSON.stringify(record));
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const seeded = await seed();
  let child: ChildProcess | undefined;
  try {
    const recordBytes = await writeBacklog(seeded.dataDir, seeded.id);
    const port = await freshPort();
    const t0 = performance.now();
    child = spawn(
      process.execPath,
      [...HEAP_FLAGS, AAPS, 'up', '--data-dir', seeded.dataDir, '--port', `${port}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited ${code ?? signal}`;
    });
    const pid = child.pid!;
    const samples: { s: number; rss: number }[] = [];
    let readyS: number | undefined;
    let rssAtReady: number | undefined;
    let peak = 0;
    while (exited === undefined) {
      const s = (performance.now() - t0) / 1000;
      let m: { rss: number; peak: number };
      try {
        m = rssMiB(pid);
      } catch {
        break;
      }
      peak = Math.max(peak, m.peak);
      if (readyS === undefined && /aaps: ready at/.test(out)) {
        readyS = s;
        rssAtReady = m.rss;
      }
      if (samples.length === 0 || s - samples.at(-1)!.s >= 5)
        samples.push({ s: round(s), rss: round(m.rss) });
      if (readyS === undefined ? s > 120 : s - readyS > watchSeconds) break;
      await sleep(100);
    }
    const outOfHeap = /heap out of memory|Reached heap limit/i.test(out);
    // The seeding start logged one `gateway.listening` line (nothing resumed); this start's is the
    // second.
    const listening = [
      ...readFileSync(join(seeded.dataDir, 'logs', 'gateway.log'), 'utf8').matchAll(
        /"event":"gateway.listening"[^\n]*"resumed":(\d+)/g,
      ),
    ];
    const resumed = listening[1]?.[1];
    const result = {
      generatedAt: new Date().toISOString(),
      backlog: backlog + 1,
      recordBytes,
      resumed: resumed === undefined ? null : Number(resumed),
      readySeconds: readyS === undefined ? null : round(readyS),
      rssAtReadyMiB: rssAtReady === undefined ? null : round(rssAtReady),
      peakMiB: round(peak),
      watchSeconds,
      ended: exited ?? 'still running',
      outOfHeap,
      limitsMiB: { gateway: 250, heap: 160 },
      samples,
    };
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'restart.json');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `restart with ${result.backlog} incidents waiting for evidence: ready in ${result.readySeconds} s at ${result.rssAtReadyMiB} MiB, peak ${result.peakMiB} MiB over ${watchSeconds} s (${result.ended})\nwrote ${file}\n`,
    );
    if (readyS === undefined) throw new Error(`aaps up did not get ready:\n${out.slice(-2000)}`);
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null)
      await stopPid(child.pid);
    rmSync(seeded.dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`restart bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
