/**
 * `aaps submit FILE --source alertmanager|argocd|github|kubernetes|envelope`: posts a payload to
 * the gateway and follows each incident it opened over server-sent events, printing each step.
 * Errors are one line on stderr: exit 2 when FILE cannot be read (or, for github, is not JSON), 1
 * when the gateway cannot be reached or refuses the payload.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ValidationError } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { signGithubPayload } from '../intake/github-signature.js';
import type { IntakeSource } from '../intake/types.js';
import { TERMINAL_STATES } from '../workflow/machine.js';

export interface SubmitIo {
  print(line: string): void;
  fetch: typeof fetch;
  /** Where error lines go (default: stderr). */
  error?(line: string): void;
  /**
   * Aborted when the output is gone (stdout closed by its reader: `| head -1`): following stops,
   * and the exit code says only what was seen by then ({@link exitWhenGone}).
   */
  gone?: AbortSignal;
}

/** Ends an incident can reach that are failures. */
const FAILED_ENDS: ReadonlySet<string> = new Set(TERMINAL_STATES.filter((s) => s !== 'resolved'));

/**
 * The exit code once the output went before the incidents ended: the request was taken, so 0,
 * unless an incident was already seen ending in a way `ok` does not accept.
 */
export function exitWhenGone(states: readonly string[], ok: (state: string) => boolean): number {
  return states.some((s) => FAILED_ENDS.has(s) && !ok(s)) ? 1 : 0;
}

/** Print one error line on `io.error`, else on stderr. */
export function printError(io: SubmitIo, line: string): void {
  if (io.error === undefined) process.stderr.write(`${line}\n`);
  else io.error(line);
}

/** The short reason of a failed read or connection: its code (`ENOENT`), else its message. */
function failure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

/** `io.fetch` to the gateway at `base`; a connection failure becomes one line naming it and why. */
export async function reach(io: SubmitIo, base: string, path: string, init?: RequestInit): Promise<Response> {
  try {
    return await io.fetch(`${base}${path}`, init);
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
    throw new Error(`cannot reach the gateway at ${base}: ${failure(cause)}`, { cause: e });
  }
}

const PATHS: Record<IntakeSource, string> = {
  envelope: '/v1/incidents',
  alertmanager: '/v1/webhooks/alertmanager',
  argocd: '/v1/webhooks/argocd',
  github: '/v1/webhooks/github',
  kubernetes: '/v1/webhooks/kubernetes',
};

function githubEvent(body: unknown): string {
  const o = (body ?? {}) as Record<string, unknown>;
  if ('workflow_run' in o) return 'workflow_run';
  if ('check_run' in o) return 'check_run';
  return 'ping';
}

/**
 * What a wait on the timeline means, for a person: `step.retrying` (a step's party did not
 * answer; tried again within the gateway's retry budget) or `evidence.retrying` (the incident
 * ended but its evidence could not be sealed yet; tried until it is). Otherwise `undefined`.
 */
function waitLine(event: unknown, detail: unknown): string | undefined {
  if (event !== 'step.retrying' && event !== 'evidence.retrying') return undefined;
  const d = (detail ?? {}) as { code?: unknown; message?: unknown; next_in_ms?: unknown };
  const why = `${String(d.message ?? 'no answer')} (${String(d.code ?? 'UNAVAILABLE')})`;
  const next = typeof d.next_in_ms === 'number' ? ` in ${(d.next_in_ms / 1000).toFixed(1)} s` : '';
  return event === 'step.retrying'
    ? `waiting: ${why}; trying again${next}`
    : `evidence not sealed yet: ${why}; the gateway tries again${next}, until it is sealed`;
}

/**
 * Follow one incident's event stream until it ends or waits for a person, or until `io.gone`
 * aborts. Returns the state seen last.
 */
export async function follow(
  url: string,
  token: string,
  id: string,
  io: SubmitIo,
  fromIndex = 0,
): Promise<string> {
  const res = await reach(io, url, `/v1/incidents/${id}/events`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok || res.body === null)
    throw new ValidationError('UNAVAILABLE', `events for ${id}: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  // The output went: stop reading (the pending read ends as done).
  const stop = () => void reader.cancel().catch(() => undefined);
  io.gone?.addEventListener('abort', stop, { once: true });
  try {
    return await readEvents(reader, url, id, io, fromIndex);
  } finally {
    io.gone?.removeEventListener('abort', stop);
  }
}

async function readEvents(
  reader: ReadableStreamDefaultReader<string>,
  url: string,
  id: string,
  io: SubmitIo,
  fromIndex: number,
): Promise<string> {
  let buf = '';
  let state = 'received';
  for (;;) {
    if (io.gone?.aborted === true) {
      await reader.cancel().catch(() => undefined);
      return state;
    }
    const { done, value } = await reader.read();
    if (done) return state;
    buf += value;
    let cut = buf.indexOf('\n\n');
    while (cut !== -1) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      cut = buf.indexOf('\n\n');
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      const index = Number(/^id: (\d+)$/m.exec(block)?.[1] ?? Number.NaN);
      if (event === undefined || data === undefined) continue;
      const d = JSON.parse(data) as Record<string, unknown>;
      if (event === 'state' && index < fromIndex) continue;
      if (event === 'state') {
        state = String(d['state']);
        const detail = d['detail'] === undefined ? '' : ` ${JSON.stringify(d['detail'])}`;
        io.print(
          `${id}  ${String(d['state']).padEnd(17)} ${String(d['event'])} by ${String(d['actor'])}${detail}`,
        );
        const wait = waitLine(d['event'], d['detail']);
        if (wait !== undefined) io.print(`${id}  ${wait}`);
        if (state === 'awaiting_human') {
          const escalations = (d['detail'] as { escalations?: string[] } | undefined)?.escalations;
          io.print(
            escalations === undefined
              ? `${id}  waiting for a signed human approval: POST ${url}/v1/approvals/${id}`
              : `${id}  handed to a person (${escalations.join(', ')}); nothing will be changed automatically`,
          );
          await reader.cancel();
          return state;
        }
      } else if (event === 'end') {
        io.print(
          `${id}  ended ${String(d['state'])}; evidence ${String(d['evidence_id'])} (GET ${url}/v1/evidence/${String(d['evidence_id'])})`,
        );
        await reader.cancel();
        return String(d['state']);
      }
    }
  }
}

export async function runSubmit(
  file: string,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
): Promise<number> {
  const source = config.source;
  if (source === undefined) throw new ValidationError('INVALID_ARGUMENT', '--source is required', ['source']);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    printError(io, `aaps: cannot read ${file}: ${failure(e)}`);
    return 2;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (source === 'github') {
    if (config.githubWebhookSecret === undefined) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        'github needs --github-webhook-secret to sign the payload',
        ['github-webhook-secret'],
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      printError(io, `aaps: ${file} is not JSON: ${failure(e)}`);
      return 2;
    }
    headers['x-github-event'] = githubEvent(payload);
    headers['x-github-delivery'] = randomUUID();
    headers['x-hub-signature-256'] = signGithubPayload(raw, config.githubWebhookSecret);
  } else headers['authorization'] = `Bearer ${token}`;
  const res = await reach(io, config.url, PATHS[source], { method: 'POST', headers, body: raw });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) {
    const err = body['error'] as { code?: string; message?: string } | undefined;
    printError(io, `aaps: rejected: HTTP ${res.status} ${err?.code ?? ''} ${err?.message ?? ''}`.trim());
    return 1;
  }
  type Answer = { incident_id: string; duplicate: boolean; joined?: boolean; recurrence_of?: string };
  const list: Answer[] =
    source === 'envelope'
      ? [{ incident_id: String(body['incident_id']), duplicate: body['duplicate'] === true }]
      : ((body['incidents'] as Answer[]) ?? []);
  if (list.length === 0) io.print('accepted; nothing to act on');
  const what = (i: Answer) =>
    i.joined === true
      ? 'joined the open incident'
      : i.duplicate
        ? 'duplicate of an existing incident'
        : i.recurrence_of !== undefined
          ? `opened (the same failure recurred after ${i.recurrence_of}'s fix: a person approves this one)`
          : 'opened';
  for (const i of list) io.print(`${i.incident_id}  ${what(i)}`);
  const ends = await Promise.all(list.map((i) => follow(config.url, token, i.incident_id, io)));
  const ok = (s: string) => s === 'resolved' || s === 'awaiting_human';
  if (io.gone?.aborted === true) return exitWhenGone(ends, ok);
  return ends.every(ok) ? 0 : 1;
}
