/**
 * `aaps gateway` prints its roster-drift lines before the key survey: a party on another roster
 * refuses the gateway's calls, so the survey fails, and the drift line is what says why.
 * Before: the lines came after the survey, so a failed survey never showed them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runGatewayOnly } from './up.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-drift-first-'));
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

const OTHER_DIGEST = 'ab'.repeat(32);

/** A party that runs another roster: its /healthz says so, and it refuses every call. */
async function refusingParty(): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', roster_digest: OTHER_DIGEST }));
      return;
    }
    req.resume();
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'FORBIDDEN', message: 'not on this roster' } }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('aaps gateway: roster drift before the key survey', () => {
  it('a survey that fails (every party refusing) still shows each drifted party, before the failure', async () => {
    await layoutCluster({ dir });
    const rosterPath = join(dir, 'roster.json');
    const roster = JSON.parse(readFileSync(rosterPath, 'utf8')) as { parties: { id: string; url: string }[] };
    for (const p of roster.parties) p.url = await refusingParty();
    writeFileSync(rosterPath, JSON.stringify(roster));
    const parsed = parseGatewayConfig(['--data-dir', dir, '--port', '0'], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const lines: string[] = [];
    // No public package of record: the start surveys the parties for a DKG, and fails.
    const failure = await runGatewayOnly(parsed.config, {
      print: (l) => lines.push(l),
      stopSignal: new Promise(() => {}),
    }).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    expect(failure).toMatch(/refusing to run a DKG before every party says which key it holds/);
    const drift = lines.filter((l) => l.startsWith('roster: '));
    expect(drift.map((l) => l.split(' ')[1])).toEqual(roster.parties.map((p) => p.id));
    for (const l of drift) expect(l).toContain(`runs another roster (${OTHER_DIGEST.slice(0, 16)}…)`);
  }, 30_000);
});
