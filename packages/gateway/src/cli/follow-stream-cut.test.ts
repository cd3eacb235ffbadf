/**
 * `aaps submit` / `aaps approve` follow an incident over server-sent events. When the stream ends
 * before the incident does (the gateway restarts, a proxy cuts an idle stream), they reconnect
 * once with `Last-Event-ID`; when that ends too, they exit 1 with one line naming the incident, its
 * last state and where to look.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapture } from './test-helpers/run-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-follow-cut-'));
let server: Server;
let url: string;
/** The `Last-Event-ID` of each request for the event stream (`-` when none). */
let asked: string[] = [];
/** Whether the second stream carries the rest of the incident (a resumed stream) or ends again. */
let resumes = false;

const state = (index: number, s: string, event: string) =>
  `event: state\ndata: ${JSON.stringify({ state: s, event, actor: 'gateway' })}\nid: ${index}\n\n`;

beforeAll(async () => {
  writeFileSync(join(dir, 'signal.json'), '{}');
  server = createServer((req, res) => {
    req.resume();
    if (req.method === 'POST') {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ incidents: [{ incident_id: 'inc-1', duplicate: false }] }));
      return;
    }
    const last = req.headers['last-event-id'];
    asked.push(typeof last === 'string' ? last : '-');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (resumes && last === '0') {
      res.end(
        `${state(1, 'resolved', 'verify.done')}event: end\ndata: ${JSON.stringify({ state: 'resolved', evidence_id: 'e1' })}\n\n`,
      );
      return;
    }
    // One step, then the stream ends (a gateway restart) with the incident still under way.
    res.end(state(0, 'triaged', 'triage.done'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function submit() {
  const argv = ['submit', join(dir, 'signal.json'), '--source', 'kubernetes', '--url', url];
  return runCapture([...argv, '--api-token', 'x'.repeat(40)]);
}

describe('aaps submit whose event stream ends before the incident', () => {
  it('reconnects once after the last event seen; when that ends too: exit 1, one line saying where the incident was', async () => {
    asked = [];
    resumes = false;
    const r = await submit();
    expect(r.code).toBe(1);
    expect(asked).toEqual(['-', '0']);
    expect(r.out.match(/triaged/g)).toHaveLength(1);
    expect(r.err).toEqual([
      `aaps: the events of inc-1 stopped before it ended (the stream ended; last state triaged): see GET ${url}/v1/incidents/inc-1`,
    ]);
  });

  it('a reconnected stream that carries the rest: followed to the end, exit 0, nothing on stderr', async () => {
    asked = [];
    resumes = true;
    const r = await submit();
    expect(asked).toEqual(['-', '0']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('inc-1  ended resolved; evidence e1');
  });
});
