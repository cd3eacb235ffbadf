/**
 * Review: the group key's lifecycle as departments run it on separate hosts (docs/api.md "Running
 * on separate hosts", docs/sealing.md "Procedure for custodians"): a department backs up its
 * party, the gateway operator refreshes the shares (`aaps keys refresh`), the department's host is
 * lost and its party restored from the backup it has (taken before the refresh) onto a fresh
 * store, or rebuilt from the other departments' shares (`aaps keys repair`), and incidents go on.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, type PartyProcess, spawnParty } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayApi, killAllAaps, startAaps, waitSettled } from './helpers/aaps.js';
import { aapsSync as aaps, type Department, initDepartments } from './helpers/departments.js';
import { incidentSignal } from './helpers/incidents.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-keylife-'));
const parties = new Map<string, PartyProcess>();
const LOG_ORIGIN = 'corp.test/keylife-log';

afterAll(async () => {
  await killAllAaps();
  await Promise.all([...parties.values()].map((p) => p.stop()));
  if (!process.env.KEEP) rmSync(root, { recursive: true, force: true });
});

const gw = join(root, 'host-gateway');
let entries: Department[];
let gateway: Awaited<ReturnType<typeof startAaps>>;
let api: ReturnType<typeof gatewayApi>;
let qaConfig: string;
let custodianFiles: string[];
let ports: number[];

async function start(e: (typeof entries)[number]) {
  const p = spawnParty(e.entry.id, e.entry.url, join(e.dir, 'party.json'), {
    logFile: join(e.dir, 'party.log'),
  });
  parties.set(e.entry.id, p);
  await p.ready(30_000);
}

async function resolveOne(tag: string) {
  const posted = await api.post<{ incident_id: string }>('/v1/incidents', incidentSignal('image', tag));
  expect(posted.status).toBe(202);
  const settled = await waitSettled(api, [posted.body.incident_id], 90_000, { evidence: true });
  return settled.get(posted.body.incident_id);
}

beforeAll(async () => {
  ports = await freePorts(6);
  ({ departments: entries } = initDepartments({ root, ports, logOrigin: LOG_ORIGIN }));
  await Promise.all(entries.map(start));
  gateway = await startAaps({
    command: 'gateway',
    dataDir: gw,
    port: ports[5]!,
    args: ['--log-origin', LOG_ORIGIN],
  });
  api = gatewayApi(gateway.url, gateway.token);
  const first = await resolveOne('before');
  if (first?.state !== 'resolved') throw new Error(`first incident ${first?.state}`);

  // The QA department backs up its party (stopped), as docs/sealing.md says, and starts it again.
  const qa = entries[3]!;
  qaConfig = join(qa.dir, 'party.json');
  const custodians = join(root, 'custodians');
  await parties.get(qa.entry.id)!.stop();
  const backup = aaps('party', 'backup', '--config', qaConfig, '--split', '2/3', '--out', custodians);
  if (backup.code !== 0) throw new Error(backup.err);
  custodianFiles = readdirSync(custodians).map((f) => join(custodians, f));
  await start(qa);

  // Weeks later the gateway operator refreshes the shares on schedule.
  const refreshed = aaps(
    'keys',
    'refresh',
    '--reason',
    'quarterly rotation',
    '--url',
    gateway.url,
    '--data-dir',
    gw,
  );
  if (refreshed.code !== 0) throw new Error(refreshed.err);

  // QA's disk is lost: its party is stopped and its store gone. The backup its custodians hold
  // is the one from before the refresh.
  await parties.get(qa.entry.id)!.stop();
  rmSync(join(qa.dir, 'db'), { recursive: true, force: true });
}, 240_000);

describe('a department restores its party from its last backup, taken before a key refresh', () => {
  it('with --expect-verifying-share from GET /v1/keys (sealing.md step 3): the refusal says the backup is from before a refresh, and what to do', async () => {
    const keys = await api.get<{ parties: { id: string; verifying_share: string }[] }>('/v1/keys');
    const current = keys.body.parties.find((p) => p.id === 'quality-assurance-dept')!.verifying_share;
    const r = aaps(
      'party',
      'restore',
      '--config',
      qaConfig,
      '--expect-verifying-share',
      current,
      custodianFiles[0]!,
      custodianFiles[1]!,
    );
    expect(r.code).toBe(1);
    // Today: "the restored key package is not the one the backup header or the expected keys name
    // [backup.verifying-share]": neither which of the two, nor that the backup predates a refresh
    // (the --force path says so: "another sharing of this group key ... from before a refresh").
    expect(r.err).toMatch(/before a refresh|another sharing/);
    expect(r.err).toContain('run `aaps keys repair quality-assurance-dept --reason TEXT` on the gateway');
  }, 60_000);

  it('the remedy the refusal names: started with no key, `aaps keys repair` rebuilds its share from k departments while another is down, and incidents resolve', async () => {
    const qa = entries[3]!;
    const down = entries[0]!;
    await start(qa);
    await parties.get(down.entry.id)!.stop();
    try {
      const r = aaps(
        'keys',
        'repair',
        qa.entry.id,
        '--reason',
        'disk replaced, no current backup',
        '--url',
        gateway.url,
        '--data-dir',
        gw,
      );
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`repair: ${qa.entry.id} holds no key: repairing its share`);
      expect(r.out).toMatch(
        new RegExp(`^repaired ${qa.entry.id} in [\\d.]+ s; group key and verifying shares unchanged`, 'm'),
      );
    } finally {
      await start(down);
    }
    // QA holds a veto, so it is in every approval quorum: its rebuilt share signs.
    const after = await resolveOne('after-repair');
    expect(after?.state, JSON.stringify(after?.timeline?.slice(-3))).toBe('resolved');
    // For the next case, QA's disk is lost once more.
    await parties.get(qa.entry.id)!.stop();
    rmSync(join(qa.dir, 'db'), { recursive: true, force: true });
  }, 180_000);

  it('without the --expect flags: the restore warns that nothing checked the share, and incidents still resolve (the gateway repairs the stale party)', async () => {
    const restored = aaps('party', 'restore', '--config', qaConfig, custodianFiles[0]!, custodianFiles[1]!);
    expect(restored.code, restored.err).toBe(0);
    // Nothing to compare with on a fresh store: the restore says so, naming the risk.
    expect(restored.err).toMatch(/nothing checked this backup.*refresh/);
    await start(entries[3]!);
    // QA holds a veto: it is in every approval quorum, so its share from before the refresh fails
    // the first approval. The gateway finds it on the older sharing, repairs it from the four
    // parties on the current one, and signs again (stale-sharing.ts): the incident resolves.
    const after = await resolveOne('after-restore');
    expect(after?.state, JSON.stringify(after?.timeline?.slice(-3))).toBe('resolved');
    expect(gateway.output()).toMatch(/quality-assurance-dept holds another sharing/);
  }, 180_000);
});
