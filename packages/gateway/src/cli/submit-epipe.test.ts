/**
 * `aaps submit FILE | head -1`: once the reader of stdout has left, the command stops following
 * quietly (no EPIPE stack trace) and exits with what it saw. Runs the built CLI as a process,
 * against a loopback server that speaks the gateway's intake answer and its server-sent events.
 * Any other write error (ENOSPC) is a failure the command says and does not exit 0 on.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { guardedOutput } from '@aaps/evidence';
import { afterAll, describe, expect, it } from 'vitest';
import { exitAfterOutput } from './aaps.js';
import { exitWhenGone } from './submit.js';

const AAPS = fileURLToPath(new URL('../../dist/cli/aaps.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aaps-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A gateway stand-in: one incident opened, then a state event every 20 ms for as long as anyone reads. */
async function talkativeGateway() {
  const streams = new Set<ServerResponse>();
  let eventStreams = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ incidents: [{ incident_id: 'inc-1', duplicate: false }] }));
      return;
    }
    eventStreams++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    streams.add(res);
    let i = 0;
    const tick = setInterval(() => {
      const entry = { state: 'proposed', event: `step.${i}`, actor: 'gateway' };
      res.write(`event: state\ndata: ${JSON.stringify(entry)}\nid: ${i++}\n\n`);
    }, 20);
    res.on('close', () => {
      clearInterval(tick);
      streams.delete(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => streams.size,
    eventStreams: () => eventStreams,
    close: () =>
      new Promise<void>((r) => {
        for (const s of streams) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('aaps output whose reader left', () => {
  it('submit | head -1: stops following, no stack trace, exit 0', async () => {
    const gw = await talkativeGateway();
    const file = join(dir, 'events.json');
    writeFileSync(file, '{"kind": "EventList", "items": []}');
    try {
      const child = spawn(
        process.execPath,
        [
          AAPS,
          'submit',
          file,
          '--source',
          'kubernetes',
          '--url',
          gw.url,
          '--api-token',
          'test-token-0123456789',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      let first = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      await new Promise<void>((resolve) => {
        void exited.then(() => resolve());
        child.stdout.on('data', (b: Buffer) => {
          first += b.toString();
          // The reader takes its line and leaves, as `head -1` does.
          if (first.includes('\n') && !child.stdout.destroyed) {
            child.stdout.destroy();
            resolve();
          }
        });
      });
      const code = await exited;
      expect(first.split('\n')[0]).toBe('inc-1  opened');
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(gw.eventStreams()).toBe(1);
    } finally {
      await gw.close();
    }
  });

  it('a write error drops later lines and aborts gone; stderr errors are dropped on their own', () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const o = guardedOutput(out, err);
    o.print('one');
    expect(out.read()?.toString()).toBe('one\n');
    out.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(o.gone.aborted).toBe(true);
    o.print('two');
    expect(out.read()).toBeNull();
    o.error('still on stderr');
    expect(err.read()?.toString()).toBe('still on stderr\n');
    err.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    o.error('dropped');
    expect(err.read()).toBeNull();
    // A reader that left is no failure: the command ends with the code of what it did.
    expect(o.failure()).toBeUndefined();
  });

  it('any other write error (ENOSPC) is a failure: named, and the exit code is at least 1 with one line', async () => {
    const out = new PassThrough();
    const o = guardedOutput(out, new PassThrough());
    out.emit('error', Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' }));
    await o.flush();
    expect(o.gone.aborted).toBe(true);
    expect(o.failure()).toBe('ENOSPC');
    const said: string[] = [];
    expect(exitAfterOutput(0, o.failure(), (l) => void said.push(l))).toBe(1);
    expect(exitAfterOutput(2, o.failure(), () => {})).toBe(2);
    expect(said).toEqual(['aaps: cannot write to stdout: ENOSPC']);
    expect(exitAfterOutput(0, undefined, (l) => void said.push(l))).toBe(0);
    expect(said).toHaveLength(1);
  });

  it('the exit code once output is gone: 0 unless a failed end was already seen', () => {
    const submitOk = (s: string) => s === 'resolved' || s === 'awaiting_human';
    expect(exitWhenGone(['received', 'proposed'], submitOk)).toBe(0);
    expect(exitWhenGone(['resolved', 'failed'], submitOk)).toBe(1);
    expect(exitWhenGone(['rolled_back'], submitOk)).toBe(1);
    // `aaps approve --reject` expects the incident to end rejected.
    expect(exitWhenGone(['rejected'], (s) => s === 'rejected')).toBe(0);
  });
});
