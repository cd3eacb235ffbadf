/**
 * `aaps up` and `aaps gateway` as child processes for the fault suites, plus a small bounded HTTP
 * client for the gateway API. Every child is registered so `killAllAaps()` (in `afterAll`) ends
 * it and the party processes it spawned, even when a test failed half-way.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './results.js';

export const AAPS_CLI = join(ROOT, 'packages', 'gateway', 'dist', 'cli', 'aaps.js');

export interface AapsProcess {
  readonly url: string;
  readonly token: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Children (party processes) seen when it became ready. */
  readonly childPids: readonly number[];
  output(): string;
  /** SIGKILL the aaps process only (its party processes are orphaned and keep running). */
  kill9(): Promise<void>;
  /** SIGTERM (then SIGKILL after 10 s), and SIGKILL every child it had. */
  stop(): Promise<void>;
}

const live = new Set<AapsProcess>();
const orphans = new Set<number>();

export function childPidsOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, ms))]);
}

/** Start `aaps <command> ...args` and wait (bounded) for its ready line. */
export async function startAaps(opts: {
  command: 'up' | 'gateway';
  dataDir: string;
  port: number;
  args?: readonly string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<AapsProcess> {
  const child = spawn(
    process.execPath,
    [AAPS_CLI, opts.command, '--data-dir', opts.dataDir, '--port', String(opts.port), ...(opts.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  let out = '';
  const onData = (b: Buffer) => {
    out = (out + b.toString()).slice(-128 * 1024);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`aaps ${opts.command} not ready in time:\n${out}`)),
      opts.readyTimeoutMs ?? 90_000,
    );
    const check = () => {
      const m = /aaps: (?:gateway )?ready at (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`aaps ${opts.command} exited ${code}:\n${out}`));
    });
  }).catch(async (e) => {
    for (const p of childPidsOf(child.pid!)) killPid(p);
    child.kill('SIGKILL');
    throw e;
  });
  const token = opts.env?.AAPS_API_TOKEN ?? readFileSync(join(opts.dataDir, 'api-token'), 'utf8').trim();
  const childPids = childPidsOf(child.pid!);
  for (const p of childPids) orphans.add(p);
  const proc: AapsProcess = {
    url,
    token,
    dataDir: opts.dataDir,
    child,
    pid: child.pid!,
    childPids,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await waitExit(child, 10_000);
      live.delete(proc);
    },
    async stop() {
      const kids = childPidsOf(child.pid!);
      child.kill('SIGTERM');
      await waitExit(child, 10_000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitExit(child, 5_000);
      for (const p of [...kids, ...childPids]) killPid(p);
      live.delete(proc);
    },
  };
  live.add(proc);
  return proc;
}

/** End every aaps process and every party process any of them ever had (afterAll). */
export async function killAllAaps(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
  for (const p of orphans) killPid(p);
  orphans.clear();
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  text: string;
}

/** A bounded JSON client for the gateway API. */
export function gatewayApi(url: string, token: string) {
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(new URL(path, url), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed as T, text } satisfies ApiAnswer<T>;
  };
  return {
    get: <T = Record<string, unknown>>(path: string) => call<T>('GET', path),
    post: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>('POST', path, body),
    call,
  };
}

export type GatewayApi = ReturnType<typeof gatewayApi>;

export const TERMINAL_STATES = new Set(['resolved', 'failed', 'rolled_back', 'rejected']);
export const WAITING_STATES = new Set(['awaiting_human']);

export interface IncidentView {
  incident_id: string;
  state: string;
  evidence_id?: string | null;
  decision?: {
    approval?: { signers?: string[]; misbehaved?: { party: string; code: string }[]; refusals?: unknown[] };
  } | null;
  execution?: unknown;
  timeline?: { state: string; event: string; detail?: Record<string, unknown> }[];
}

/**
 * Poll until every incident is terminal (with its evidence id when `evidence`) or waiting for a
 * human, or the deadline passes.
 */
export async function waitSettled(
  api: GatewayApi,
  ids: readonly string[],
  deadlineMs: number,
  opts: { evidence?: boolean } = {},
): Promise<Map<string, IncidentView>> {
  const out = new Map<string, IncidentView>();
  const end = Date.now() + deadlineMs;
  const pending = new Set(ids);
  while (pending.size > 0 && Date.now() < end) {
    for (const id of [...pending]) {
      const r = await api.get<IncidentView>(`/v1/incidents/${id}`);
      if (r.status === 200) {
        out.set(id, r.body);
        const done = TERMINAL_STATES.has(r.body.state) && (!opts.evidence || !!r.body.evidence_id);
        if (done || WAITING_STATES.has(r.body.state)) pending.delete(id);
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
  }
  return out;
}
