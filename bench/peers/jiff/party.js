// One JIFF party process: connects to the server, runs `rounds` rounds of "share, sum, open" on
// `size` integers per party (size 1: jiff.share / open; else share_array / open_array), then prints
// its per-round times (ms) as one JSON line.
'use strict';
const { JIFFClient } = require('jiff-mpc');

const [url, computation, idText, nText, roundsText, sizeText] = process.argv.slice(2);
const id = Number(idText);
const n = Number(nText);
const rounds = Number(roundsText);
const size = Number(sizeText);

function values(round) {
  return Array.from({ length: size }, (_, k) => (k * 7 + id + round) % 1000);
}

async function once(jiff, round) {
  if (size === 1) {
    const shares = jiff.share(values(round)[0]);
    let sum = shares[1];
    for (let p = 2; p <= n; p++) sum = sum.sadd(shares[p]);
    return [await jiff.open(sum)];
  }
  const arrays = await jiff.share_array(values(round), size);
  const sums = [];
  for (let k = 0; k < size; k++) {
    let s = arrays[1][k];
    for (let p = 2; p <= n; p++) s = s.sadd(arrays[p][k]);
    sums.push(s);
  }
  return jiff.open_array(sums);
}

const jiff = new JIFFClient(url, computation, {
  party_count: n,
  party_id: id,
  crypto_provider: true,
  autoConnect: true,
  onConnect: async () => {
    const times = [];
    let last;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      last = await once(jiff, r);
      times.push(performance.now() - t0);
    }
    // The last round's last element, to check the sum against the plain computation. The party
    // stays connected (others may still need its messages) until run.js ends it.
    const k = size - 1;
    process.stdout.write(`${JSON.stringify({ id, times, check: Number(last[k]), k })}\n`);
  },
});
