// JIFF peer for the aggregation benchmarks (docs/aggregation.md): JIFF's server in this process and
// five party processes on loopback; each round every party secret-shares its integer(s), the shares
// are summed (element-wise for arrays) and the sums opened. Semi-honest: nothing is verified.
//
//   npm install --prefix bench/peers/jiff
//   node bench/peers/jiff/run.js [--rounds1 30] [--rounds1000 3] [--parties 5] [--size 1|1000]
//                                [--timeout 300 (s per row)] [--out F]
//
// Prints one line per row (median and p90 over the measured rounds, the first round of each run
// is warm-up and left out) and writes the per-round times to bench/peers/jiff/results.json (or F).
// `npm run bench -- agg.` runs it too when it is installed (bench/suites/aggregation-http.ts).
'use strict';
const { spawn } = require('node:child_process');
const http = require('node:http');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { JIFFServer } = require('jiff-mpc');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg('parties', 5);
const only = arg('size', 0);
const ROW_TIMEOUT_MS = arg('timeout', 300) * 1000;
const rows = [
  { name: 'jiff.sum.5parties.1input', size: 1, rounds: arg('rounds1', 30) + 1 },
  { name: 'jiff.sum.5parties.1000inputs', size: 1000, rounds: arg('rounds1000', 3) + 1 },
].filter((r) => only === 0 || r.size === only);
const out = (() => {
  const i = process.argv.indexOf('--out');
  return i > 0 ? process.argv[i + 1] : join(__dirname, 'results.json');
})();

function runRow(url, row, tag) {
  return new Promise((resolve, reject) => {
    const outs = [];
    const children = [];
    const stop = () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${row.name}: no result within ${ROW_TIMEOUT_MS} ms`));
    }, ROW_TIMEOUT_MS);
    for (let id = 1; id <= n; id++) {
      const child = spawn(
        process.execPath,
        [
          join(__dirname, 'party.js'),
          url,
          `${row.name}-${tag}`,
          String(id),
          String(n),
          String(row.rounds),
          String(row.size),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        const line = text.split('\n').find((l) => l.trim().startsWith('{'));
        if (!line || child.reported) return;
        child.reported = true;
        outs.push(JSON.parse(line));
        // Every party has its result: only now may they go (earlier, one could still owe messages).
        if (outs.length === n) {
          clearTimeout(timer);
          stop();
          resolve(outs);
        }
      });
      child.on('exit', (code, signal) => {
        if (!child.reported && signal === null) {
          clearTimeout(timer);
          stop();
          reject(new Error(`party ${id} exited with ${code}`));
        }
      });
    }
  });
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), min: s[0], samples: s.length };
}

async function main() {
  const server = http.createServer();
  new JIFFServer(server, { logs: false });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const results = [];
  let tag = 0;
  for (const row of rows) {
    const outs = await runRow(url, row, tag++);
    // A round ends for everyone at the same opening: take, per round, the slowest party's time.
    const perRound = outs[0].times.map((_, r) => Math.max(...outs.map((o) => o.times[r])));
    const measured = perRound.slice(1);
    const expected = Array.from(
      { length: n },
      (_, i) => ((row.size - 1) * 7 + i + 1 + row.rounds - 1) % 1000,
    ).reduce((a, b) => a + b, 0);
    const ok = outs.every((o) => o.check === expected);
    const st = stats(measured);
    results.push({ name: row.name, size: row.size, ...st, correct: ok, times: measured });
    console.log(
      `${row.name.padEnd(32)} median ${st.median.toFixed(1)} ms  p90 ${st.p90.toFixed(1)} ms  (${st.samples} rounds, sum ${ok ? 'correct' : 'WRONG'})`,
    );
  }
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), parties: n, results }, null, 2)}\n`);
  server.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
