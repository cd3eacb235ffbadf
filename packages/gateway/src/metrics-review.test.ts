/**
 * Review: the gateway's `/metrics` as an operator scrapes it, read by a strict parser of the
 * Prometheus text exposition format 0.0.4 (written here: HELP/TYPE once per family and before its
 * samples, families contiguous, label names and escapes, values, histogram buckets cumulative
 * with `+Inf` equal to `_count`, no series twice), against docs/api.md "Operations".
 */

import type { StoredCheckpoint } from '@aaps/evidence';
import { describe, expect, it } from 'vitest';
import { createCheckpointWitness } from './checkpoint-witness.js';
import type { Coordinator, WitnessAnswer } from './coordinator.js';
import { GatewayMetrics } from './metrics.js';
import { makeGateway, request, SIGNALS, TOKENS } from './test-helpers/gateway.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type?: string;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|NaN)$/;

/** The family a sample belongs to (histogram/summary suffixes stripped when the family is typed so). */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = families.get(base)?.type;
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return name;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`label without '=': ${line}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`bad label name ${name}: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`unterminated label value: ${line}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`bad escape \\${next} in label value: ${line}`);
        j += 2;
        continue;
      }
      if (ch === '\n') throw new Error(`raw newline in label value: ${line}`);
      value += ch;
      j++;
    }
    if (name in labels) throw new Error(`label ${name} twice: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`expected ',' between labels: ${line}`);
  }
  return labels;
}

/** Parse strictly; throws naming the offending line. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const enter = (name: string) => {
    if (current !== name) {
      if (current !== undefined) closed.add(current);
      if (closed.has(name)) throw new Error(`family ${name} is not contiguous`);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`bad metric name: ${line}`);
      const f = enter(name!);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`HELP twice for ${name}`);
        if (/\\(?![\\n])/.test(rest)) throw new Error(`bad escape in HELP: ${line}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`TYPE twice for ${name}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) {
          throw new Error(`bad type: ${line}`);
        }
        f.type = rest;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText = '', valueText] = m;
    if (!FLOAT.test(valueText!)) throw new Error(`bad value: ${line}`);
    const labels = parseLabels(labelText, line);
    const fam = enter(familyOf(name!, families));
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    if (seenSeries.has(key)) throw new Error(`series twice: ${key}`);
    seenSeries.add(key);
    const value = valueText === 'Inf' || valueText === '+Inf' ? Infinity : Number(valueText);
    if (fam.type === 'counter' && !(value >= 0)) throw new Error(`counter below zero: ${line}`);
    fam.samples.push({ name: name!, labels, value });
  }
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, ss] of groups) {
      const buckets = ss.filter((s) => s.name === `${f.name}_bucket`);
      const count = ss.find((s) => s.name === `${f.name}_count`);
      if (!buckets.some((b) => b.labels.le === '+Inf')) throw new Error(`${f.name}${k}: no +Inf bucket`);
      const sorted = [...buckets].sort(
        (a, b) =>
          Number(a.labels.le === '+Inf' ? Infinity : a.labels.le) -
          Number(b.labels.le === '+Inf' ? Infinity : b.labels.le),
      );
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${f.name}${k}: buckets not cumulative`);
      }
      if (count === undefined || count.value !== sorted.at(-1)!.value) {
        throw new Error(`${f.name}${k}: +Inf bucket is not _count`);
      }
    }
  }
  return families;
}

function sampleValue(fams: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const f = fams.get(name);
  const s = f?.samples.find(
    (x) =>
      x.name === name &&
      Object.keys(x.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  );
  return s?.value ?? 0;
}

describe('gateway /metrics and /healthz', () => {
  it('a /healthz answered 503 UNAVAILABLE (database takes no writes) is counted in aaps_rejected_requests_total', async () => {
    // docs/api.md: aaps_rejected_requests_total{method,route,status,code} counts "every request
    // answered with an error, by its route pattern ... status and error code". /healthz answers
    // the error shape {"error":{"code":"UNAVAILABLE"}} with 503 when the store fails its writes:
    // the one error a liveness probe sees, and the gateway's own counter leaves it out.
    const gw = await makeGateway();
    try {
      const res0 = await request(gw, 'POST', '/v1/incidents', {
        token: TOKENS.submit,
        body: SIGNALS.quota(),
      });
      expect(res0.status).toBe(202);
      await gw.runner.idle();
      const id = ((await res0.json()) as { incident_id: string }).incident_id;
      const record = (await gw.store.getIncident(id))!;
      await gw.runner.close();
      await gw.store.close();
      await expect(gw.store.putIncident(record)).rejects.toThrow();
      for (let i = 0; i < 3; i++) {
        const res = await request(gw, 'GET', '/healthz');
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
      }
      const fams = parseExposition(await (await request(gw, 'GET', '/metrics')).text());
      expect(
        sampleValue(fams, 'aaps_rejected_requests_total', {
          code: 'UNAVAILABLE',
          method: 'GET',
          route: '/healthz',
          status: '503',
        }),
      ).toBe(3);
    } finally {
      await gw.cleanup();
    }
  });
});

describe('aaps_checkpoint_witness_total', () => {
  it("a party's refusal rule does not become an unbounded, unbounded-length label value", async () => {
    // docs/evidence.md / metrics.ts: outcome is `witnessed`, the refusal's rule (`checkpoint.fork`,
    // `.rollback`, `.inconsistent`, `.origin`, `.behind`), `ahead` or `unavailable`. The rule is
    // whatever string a party signs into its refusal (coordinator-http witnessCheckpoint, client
    // refusal parsing: any string): one compromised party grows the gateway's series, and each
    // scrape, by a new label value per checkpoint it is shown, of any length. Elsewhere the
    // gateway bounds its labels on purpose ("so a scanner cannot grow the label set").
    let n = 0;
    const coordinator = {
      async witnessCheckpoint(): Promise<WitnessAnswer> {
        n++;
        return { outcome: 'refused', rule: `checkpoint.${'x'.repeat(4096)}${n}`, message: 'no' };
      },
    } as unknown as Coordinator;
    const metrics = new GatewayMetrics();
    const w = createCheckpointWitness({
      coordinator,
      consistencyProof: async () => [new Uint8Array(32)],
      metrics,
    });
    const cp = (size: number): StoredCheckpoint => ({
      origin: 'aaps.test/log',
      size,
      rootHash: new Uint8Array(32).fill(size % 256),
      extensions: [],
      note: `note ${size}`,
    });
    for (let size = 1; size <= 100; size++) {
      w.signed(cp(size), ['a', 'b', 'c', 'd', 'e'], { signers: ['a', 'b', 'c', 'd'], refusals: [] });
      await w.idle();
    }
    const text = metrics.render();
    const fams = parseExposition(text);
    const series = fams.get('aaps_checkpoint_witness_total')!.samples.filter((s) => s.labels.party === 'e');
    expect(n).toBe(100);
    // A bounded label set: the known outcomes (and at most an `other` for anything else).
    expect(series.length).toBeLessThanOrEqual(8);
    expect(text.length).toBeLessThan(64 * 1024);
  });
});
