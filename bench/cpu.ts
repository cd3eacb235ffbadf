/**
 * `npm run bench:cpu [-- <incidents>]`: where the CPU of an incident goes. Starts `aaps up`, runs
 * 60 incidents to warm up, then `<incidents>` (default 300) in batches of 20, each followed to its
 * end by server-sent events as `gateway.incidents.e2e` does, and reads the CPU time every process
 * used meanwhile from `/proc/<pid>/stat` (Linux). Prints the rate and the milliseconds of CPU per
 * incident of the gateway and of each party, and writes `bench/results/cpu.json`.
 *
 * The sum over all processes bounds the rate the machine can reach: with `c` cores and `s`
 * milliseconds of CPU per incident, no more than `1000 c / s` incidents per second.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cpuMs,
  followToEnd,
  freshPort,
  partyIdOf,
  postIncidents,
  startUp,
  type UpCluster,
} from './load/cluster.js';

const BATCH = 20;
const WARMUP = 60;

async function run(up: UpCluster, count: number): Promise<void> {
  for (let done = 0; done < count; done += BATCH) {
    const ids = await postIncidents(up, Math.min(BATCH, count - done));
    await Promise.all(ids.map((id) => followToEnd(up, id)));
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 300);
  if (!Number.isSafeInteger(count) || count < BATCH) throw new Error(`incidents: at least ${BATCH}`);
  const up = await startUp({ port: await freshPort() });
  try {
    process.stdout.write(`warming up (${WARMUP} incidents)\n`);
    await run(up, WARMUP);
    const parties = up.partyPids();
    const before = { gateway: cpuMs(up.gatewayPid), parties: parties.map(cpuMs) };
    const started = performance.now();
    process.stdout.write(`measuring (${count} incidents)\n`);
    await run(up, count);
    const seconds = (performance.now() - started) / 1000;
    const gateway = (cpuMs(up.gatewayPid) - before.gateway) / count;
    const perParty = parties.map((pid, i) => (cpuMs(pid) - before.parties[i]!) / count);
    const total = gateway + perParty.reduce((a, b) => a + b, 0);
    const cores = availableParallelism();
    const result = {
      generatedAt: new Date().toISOString(),
      incidents: count,
      incidentsPerSecond: Number((count / seconds).toFixed(1)),
      cpuMsPerIncident: {
        gateway: Number(gateway.toFixed(1)),
        parties: perParty.map((x, i) => ({ id: partyIdOf(parties[i]!), ms: Number(x.toFixed(1)) })),
        total: Number(total.toFixed(1)),
      },
      cores,
      ceilingPerSecond: Number(((1000 * cores) / total).toFixed(1)),
    };
    process.stdout.write(
      `${result.incidentsPerSecond} incidents/s; CPU per incident: gateway ${result.cpuMsPerIncident.gateway} ms, ` +
        `parties ${result.cpuMsPerIncident.parties.map((p) => `${p.id} ${p.ms}`).join(', ')} ms, all ${result.cpuMsPerIncident.total} ms ` +
        `(${cores} cores: at most ${result.ceilingPerSecond}/s)\n`,
    );
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'cpu.json');
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await up.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:cpu: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
