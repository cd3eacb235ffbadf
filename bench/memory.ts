/**
 * `npm run bench:memory [-- <incidents> [--waves N] [--out FILE]]`: starts `aaps up`, posts
 * incidents in N waves (default 6), samples the resident memory of the gateway and of each party
 * process after each, and writes `bench/results/memory.json` (or FILE, under `bench/results/`):
 * peaks, and the growth between the first and the last wave (a steady service does not grow).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freshPort, incidentEnvelope, rssMiB, startUp } from './load/cluster.js';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { waves: { type: 'string', default: '6' }, out: { type: 'string', default: 'memory.json' } },
});
const total = Number(positionals[0] ?? 600);
const waves = Number(values.waves);
const outName = values.out;
if (!Number.isSafeInteger(total) || total < 1 || !Number.isSafeInteger(waves) || waves < 2 || waves > total) {
  process.stderr.write('usage: bench:memory [-- <incidents> [--waves N (2..incidents)] [--out FILE]]\n');
  process.exit(2);
}
if (!/^[\w.-]+\.json$/.test(outName)) {
  process.stderr.write(
    `bench:memory: --out ${outName}: a file name ending in .json, written under bench/results/\n`,
  );
  process.exit(2);
}
const concurrency = 8;

async function main(): Promise<void> {
  const port = await freshPort();
  const up = await startUp({ port });
  // Resident memory, and its anonymous part (the process's own: heap and native allocations; the
  // rest is pages of mapped files, LevelDB's tables among them, which the kernel can drop).
  const samples: {
    wave: number;
    gateway: number;
    parties: number[];
    gatewayAnon: number;
    partiesAnon: number[];
  }[] = [];
  const sample = (wave: number) => {
    const gateway = rssMiB(up.gatewayPid);
    const parties = up.partyPids().map((p) => rssMiB(p));
    samples.push({
      wave,
      gateway: gateway.rss,
      parties: parties.map((p) => p.rss),
      gatewayAnon: gateway.anon,
      partiesAnon: parties.map((p) => p.anon),
    });
  };
  let ok = 0;
  let failed = 0;
  try {
    sample(0);
    const perWave = Math.ceil(total / waves);
    for (let w = 1; w <= waves; w++) {
      let next = 0;
      const worker = async () => {
        while (next < perWave) {
          next++;
          const kinds = ['config', 'image', 'quota'] as const;
          const res = await fetch(`${up.url}/v1/incidents`, {
            method: 'POST',
            headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
            body: JSON.stringify(incidentEnvelope(kinds[next % 3])),
          });
          await res.text();
          if (res.status === 202 || res.status === 200) ok++;
          else failed++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      // Let the workflows of this wave finish before sampling.
      await new Promise((r) => setTimeout(r, 2000));
      sample(w);
      process.stdout.write(
        `wave ${w}/${waves}: ${ok} accepted, ${failed} refused; gateway ${samples.at(-1)!.gateway.toFixed(1)} MiB (anonymous ${samples.at(-1)!.gatewayAnon.toFixed(1)})\n`,
      );
    }
    const peaks = { gateway: rssMiB(up.gatewayPid).peak, parties: up.partyPids().map((p) => rssMiB(p).peak) };
    const first = samples[1]!;
    const last = samples.at(-1)!;
    const result = {
      generatedAt: new Date().toISOString(),
      incidents: ok,
      refused: failed,
      peakMiB: {
        gateway: round(peaks.gateway),
        partyMax: round(Math.max(...peaks.parties)),
        parties: peaks.parties.map(round),
      },
      growthMiB: {
        gateway: round(last.gateway - first.gateway),
        partyMax: round(Math.max(...last.parties.map((v, i) => v - (first.parties[i] ?? v)))),
      },
      anonGrowthMiB: {
        gateway: round(last.gatewayAnon - first.gatewayAnon),
        partyMax: round(Math.max(...last.partiesAnon.map((v, i) => v - (first.partiesAnon[i] ?? v)))),
      },
      limitsMiB: { gateway: 250, party: 120 },
      samples,
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', outName);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `peak RSS: gateway ${result.peakMiB.gateway} MiB (limit 250), parties max ${result.peakMiB.partyMax} MiB (limit 120); growth wave 1 -> ${waves}: gateway ${result.growthMiB.gateway} MiB, party max ${result.growthMiB.partyMax} MiB (anonymous: ${result.anonGrowthMiB.gateway} and ${result.anonGrowthMiB.partyMax} MiB)\nwrote ${out}\n`,
    );
  } finally {
    await up.stop();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`memory bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
