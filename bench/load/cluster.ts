/**
 * Start `aaps up` as a child process (gateway plus five party processes on loopback), wait for
 * its ready line, and expose the URL, token, group key and process ids. Used by the memory and
 * end-to-end load measurements.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@aaps/agents';

export interface UpCluster {
  url: string;
  dataDir: string;
  token: string;
  groupKey: string;
  gatewayPid: number;
  partyPids(): number[];
  stop(): Promise<void>;
}

/** The repository root, from `bench/load` (sources, under vitest) or `bench/dist/load` (built). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'packages', 'gateway'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const AAPS = join(repoRoot(), 'packages', 'gateway', 'dist', 'cli', 'aaps.js');

export async function startUp(opts: { port: number; args?: string[]; dataDir?: string }): Promise<UpCluster> {
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'aaps-load-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--max-old-space-size=160',
      '--max-semi-space-size=4',
      AAPS,
      'up',
      '--data-dir',
      dir,
      '--port',
      String(opts.port),
      ...(opts.args ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // As `npm start` runs the gateway (package.json): two malloc arenas unless the caller sets it.
      env: { MALLOC_ARENA_MAX: '2', ...process.env },
    },
  );
  let out = '';
  const ready = await new Promise<RegExpExecArray>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`aaps up not ready in 60 s:\n${out}`)), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /aaps: ready at (\S+) \(group key ([0-9a-f]{64})/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => rej(new Error(`aaps up exited ${code}:\n${out}`)));
  });
  const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
  return {
    url: ready[1]!,
    dataDir: dir,
    token,
    groupKey: ready[2]!,
    gatewayPid: child.pid!,
    partyPids: () => {
      try {
        return execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        return [];
      }
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A party process's id, from the config path on its command line (`.../parties/<id>/party.json`). */
export function partyIdOf(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const config = args[args.indexOf('--config') + 1] ?? '';
  return /parties\/([^/]+)\/party\.json$/.exec(config)?.[1] ?? `pid ${pid}`;
}

/** Resident, peak resident, anonymous and file-backed resident memory of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): { rss: number; peak: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  // `anon`: the process's own memory (heap, native allocations); `file`: pages of mapped files
  // (code, LevelDB's table files), which the kernel can drop and read again.
  return {
    rss: kb('VmRSS') / 1024,
    peak: kb('VmHWM') / 1024,
    anon: kb('RssAnon') / 1024,
    file: kb('RssFile') / 1024,
  };
}

/** CPU time (user + system) a process has used, in milliseconds (Linux `/proc`, USER_HZ 100). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15)
}

/** Kinds the agents fix without a human (a quota incident without figures waits for one). */
const SELF_FIXING = ['config', 'image'] as const;

/** Post `count` native incidents at once (config and image, alternating); their ids. */
export async function postIncidents(up: UpCluster, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${up.url}/v1/incidents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(incidentEnvelope(SELF_FIXING[i % 2])),
      });
      const body = (await res.json()) as { incident_id?: string };
      if (res.status !== 202 || !body.incident_id) throw new Error(`intake answered ${res.status}`);
      return body.incident_id;
    }),
  );
}

/**
 * Follow an incident on its server-sent events stream until its `end` event (as `aaps submit`
 * does) rather than polling: a load generator should cost the gateway what a real client does.
 */
export async function followToEnd(up: UpCluster, id: string): Promise<void> {
  const res = await fetch(`${up.url}/v1/incidents/${id}/events`, {
    headers: { authorization: `Bearer ${up.token}` },
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok || !res.body) throw new Error(`events for ${id} answered ${res.status}`);
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if (text.includes('event: end')) return;
    }
  } catch (e) {
    throw new Error(`incident ${id} did not end in 60 s (${(e as Error).name})`);
  }
  throw new Error(`incident ${id}: its event stream closed before the end`);
}

let seq = 0;
/**
 * A fresh native IncidentSignal envelope (unsigned: the gateway re-signs it). `config` and `image`
 * are fixed by the agents on their own; `quota` without figures waits for a person. `tag` names
 * who made it (ids, workloads), e.g. `load` or `fault`.
 */
export function incidentEnvelope(
  kind: 'config' | 'image' | 'quota' = 'config',
  tag = 'load',
): Record<string, unknown> {
  seq++;
  const n = `${tag}-${process.pid}-${Date.now().toString(36)}-${seq}`;
  // Distinct workloads per incident: signals about a workload with an open incident join it.
  const app = `${tag}-app-${process.pid}-${seq}`;
  const image = `registry.example/shop/${app}@sha256:${'c'.repeat(64)}`;
  const payloads = {
    config: {
      incident_type: 'config_validation_failed',
      severity: 'high',
      affected_resources: [`configmap://shop/${app}-config`, `deployment://shop/${app}`],
      evidence_refs: [`log://shop/${n}`],
      metadata: {
        missing_config: { kind: 'ConfigMap', namespace: 'shop', name: `${app}-config`, key: 'DATABASE_URL' },
        // The source of truth the problem solver re-renders from (else the fix needs a human).
        sources: {
          [`configmap://shop/${app}-config`]: {
            kind: 'gitops',
            repo: 'https://git.example/platform/deploy.git',
            path: `shop/${app}-config.yaml`,
          },
        },
      },
    },
    image: {
      incident_type: 'image_signature_failed',
      severity: 'high',
      affected_resources: [`deployment://shop/${app}`],
      evidence_refs: [`log://shop/${n}`],
      metadata: {
        image,
        reason: 'ErrImagePull',
        // kubelet's Event carries the registry's answer; a pull failure that does not say why goes
        // to a person rather than being rolled back (docs/api.md, "Triage and fixes").
        message: `Failed to pull image "${image}": rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`,
      },
    },
    quota: {
      incident_type: 'resource_quota_exceeded',
      severity: 'medium',
      affected_resources: ['resourcequota://shop/compute'],
      evidence_refs: [`event://kubernetes/shop/${n}`],
      metadata: {},
    },
  };
  return {
    meta: {
      trace_id: `trace-${n}`,
      span_id: `span-${n}`,
      timestamp: new Date().toISOString(),
      source_agent: 'monitoring-agent',
      target_agent: 'super-agent',
      message_type: 'IncidentSignal',
      schema_version: 'v1.0.0',
      idempotency_key: `idem-${n}`,
    },
    context: {
      namespace: 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P2',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: payloads[kind],
  };
}

/** A free TCP port on 127.0.0.1 (the party cluster's own probe). */
export const freshPort = (): Promise<number> => freePort();
