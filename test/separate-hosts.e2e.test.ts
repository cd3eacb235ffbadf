/**
 * A deployment on separate hosts, as docs/api.md ("Running on separate hosts") walks an operator
 * through it, with the CLI commands it names: each department runs `aaps party init` and its own
 * `aaps party`; an approver runs `aaps approver init`; the gateway operator runs `aaps gateway
 * init`, completes the roster, and starts
 * `aaps gateway`, which runs the DKG on its first start and reuses the key after.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, type PartyProcess, spawnParty } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayApi, killAllAaps, startAaps, waitSettled } from './helpers/aaps.js';
import { aapsSync as aaps, initDepartments } from './helpers/departments.js';
import { incidentSignal } from './helpers/incidents.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-hosts-'));
const parties: PartyProcess[] = [];

afterAll(async () => {
  await killAllAaps();
  await Promise.all(parties.map((p) => p.stop()));
  if (!process.env.KEEP) rmSync(root, { recursive: true, force: true });
});

/** The log's origin, as a deployment names it (not the default `aaps.local/log`). */
const LOG_ORIGIN = 'corp.test/aaps-log';

describe('separate hosts: party init, gateway init, DKG on the gateway’s first start', () => {
  it('keys the parties, resolves an incident with evidence, and reuses the key on restart', async () => {
    const ports = await freePorts(6);
    // Each department on its own host, an approver on their machine, the gateway operator's roster.
    const {
      departments: entries,
      gatewayDir: gw,
      template,
      roster,
    } = initDepartments({
      root,
      ports,
      logOrigin: LOG_ORIGIN,
    });
    expect(template.gateway.identity_key).toMatch(/^[0-9a-f]{64}$/);
    // Every department holds the same roster and starts its party.
    for (const { dir, entry } of entries) {
      parties.push(
        spawnParty(entry.id, entry.url, join(dir, 'party.json'), { logFile: join(dir, 'party.log') }),
      );
    }
    await Promise.all(parties.map((p) => p.ready(30_000)));

    const withOrigin = ['--log-origin', LOG_ORIGIN];
    const first = await startAaps({ command: 'gateway', dataDir: gw, port: ports[5]!, args: withOrigin });
    expect(first.output()).toContain('dkg');
    expect(first.output()).toMatch(/done, group key [0-9a-f]{64}/);
    const groupKey = /group key ([0-9a-f]{64})\)/.exec(first.output())![1];
    const api = gatewayApi(first.url, first.token);
    const posted = await api.post<{ incident_id: string }>('/v1/incidents', incidentSignal('image', 'hosts'));
    expect(posted.status).toBe(202);
    const settled = await waitSettled(api, [posted.body.incident_id], 60_000, { evidence: true });
    const incident = settled.get(posted.body.incident_id);
    expect(incident?.state, JSON.stringify(incident?.timeline?.slice(-3))).toBe('resolved');
    expect(incident?.evidence_id).toBeTruthy();
    // Sealed at once under party ids that are not the role names: one audit reference.
    const bundle = await api.get<{ transcript: { meta: { message_type: string; source_agent: string } }[] }>(
      `/v1/evidence/${incident?.evidence_id}`,
    );
    const refs = bundle.body.transcript.filter((e) => e.meta.message_type === 'EvidenceBundleRef');
    expect(refs.map((e) => e.meta.source_agent)).toEqual(['audit-dept']);
    expect(incident?.timeline?.map((e) => e.event)).not.toContain('evidence.retrying');
    await first.stop();

    // The log keeps its origin: a start without it stops with one line before serving.
    const wrongOrigin = aaps('gateway', '--data-dir', gw, '--port', String(ports[5]));
    expect(wrongOrigin.code).toBe(1);
    expect(wrongOrigin.err).toContain(`origin "${LOG_ORIGIN}"`);

    const second = await startAaps({ command: 'gateway', dataDir: gw, port: ports[5]!, args: withOrigin });
    expect(second.output()).not.toContain('dkg');
    expect(second.output()).toContain(`group key ${groupKey}`);
    expect(second.output()).not.toContain('runs another roster');
    await second.stop();

    // A roster changed on the gateway's side only (another approver): at start it names each
    // party that runs another one (they would refuse its evidence: evidence.roster).
    const another = aaps(
      'approver',
      'init',
      '--approver',
      'oncall-2',
      '--data-dir',
      join(root, 'host-approver'),
    );
    expect(another.code, another.err).toBe(0);
    const changed = {
      ...roster,
      approvers: [...roster.approvers, JSON.parse(another.out.slice(another.out.indexOf('{')))],
    };
    writeFileSync(join(gw, 'roster.json'), JSON.stringify(changed, null, 2));
    const third = await startAaps({ command: 'gateway', dataDir: gw, port: ports[5]!, args: withOrigin });
    for (const { entry } of entries)
      expect(third.output()).toContain(`roster: ${entry.id} runs another roster`);
    await third.stop();
  }, 180_000);
});
