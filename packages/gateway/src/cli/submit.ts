/**
 * `aaps submit FILE --source alertmanager|argocd|github|kubernetes|envelope`: posts a payload to
 * the gateway and follows each incident it opened over server-sent events, printing each step.
 * Errors are one line on stderr: exit 2 for bad usage (`--source github` without its webhook
 * secret) or when FILE cannot be read (or, for github, is not JSON), 1 when the gateway cannot be
 * reached or refuses the payload, or the events of an incident stop before it ends.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ValidationError } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { signGithubPayload } from '../intake/github-signature.js';
import type { IntakeSource } from '../intake/types.js';
import { TERMINAL_STATES } from '../workflow/machine.js';
import { noteAsked, readJson } from './answer.js';
import { jsonLine, printable } from './terminal-text.js';
import { UsageError } from './usage-error.js';

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

/**
 * `io.fetch` to the gateway at `base` (every client command asks the gateway through this); a
 * connection failure becomes one line naming it and why, and an answer about the URL (404, 405)
 * names the URL when read by `readJson`.
 */
export async function reach(io: SubmitIo, base: string, path: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await io.fetch(`${base}${path}`, init);
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
    throw new Error(`cannot reach the gateway at ${base}: ${failure(cause)}`, { cause: e });
  }
  // An answer about the URL names it (readJson).
  noteAsked(res, { method: init?.method ?? 'GET', base, path });
  return res;
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
 * The gateway refused a token the events of an incident (401, 403: a token without the read
 * scope), before any was read: {@link follow} throws it so that each command says what it means
 * for what it did (`aaps submit`: the incident is open all the same).
 */
export class EventsRefused extends ValidationError {
  constructor(
    readonly incidentId: string,
    readonly status: number,
    /** The gateway's answer, one line (`HTTP 403 FORBIDDEN this token lacks the read scope`). */
    readonly failure: string,
  ) {
    super('UNAVAILABLE', `events for ${printable(incidentId)}: ${failure}`);
  }
}

/** What {@link follow} returns when the stream ended twice before the incident did (and it said so). */
export const UNFOLLOWED = 'unfollowed';

/** Where following an incident got to: its state last seen, and the index of the next entry to print. */
interface Followed {
  state: string;
  next: number;
}

/**
 * Follow one incident's event stream until it ends or waits for a person, or until `io.gone`
 * aborts. Returns the state seen last; when the stream ends before the incident does (a gateway
 * restart, a proxy cutting an idle stream) it reconnects once with `Last-Event-ID`, and if that
 * ends too, prints one line naming the incident, its last state and where to look, and returns
 * {@link UNFOLLOWED}.
 */
export async function follow(
  url: string,
  token: string,
  id: string,
  io: SubmitIo,
  fromIndex = 0,
): Promise<string> {
  const seen: Followed = { state: 'received', next: fromIndex };
  let why = 'the stream ended';
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (attempt > 0 && seen.next > 0) headers['last-event-id'] = String(seen.next - 1);
    let res: Response;
    try {
      res = await reach(io, url, `/v1/incidents/${encodeURIComponent(id)}/events`, { headers });
    } catch (e) {
      if (attempt === 0) throw e;
      why = `reconnecting failed: ${e instanceof Error ? e.message : String(e)}`;
      break;
    }
    if (!res.ok || res.body === null) {
      const answer = res.ok ? undefined : await readJson(res);
      const failure =
        answer !== undefined && !answer.ok ? answer.failure : `HTTP ${res.status} (no event stream)`;
      if (attempt === 0 && (res.status === 401 || res.status === 403))
        throw new EventsRefused(id, res.status, failure);
      if (attempt === 0) throw new ValidationError('UNAVAILABLE', `events for ${printable(id)}: ${failure}`);
      why = `reconnecting failed: ${failure}`;
      break;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    // The output went: stop reading (the pending read ends as done).
    const stop = () => void reader.cancel().catch(() => undefined);
    io.gone?.addEventListener('abort', stop, { once: true });
    let outcome: 'over' | 'cut';
    try {
      outcome = await readEvents(reader, url, id, io, seen);
    } finally {
      io.gone?.removeEventListener('abort', stop);
    }
    if (outcome === 'over' || io.gone?.aborted === true) return seen.state;
  }
  printError(
    io,
    `aaps: the events of ${printable(id)} stopped before it ended (${printable(why)}; last state ${printable(seen.state)}): see GET ${url}/v1/incidents/${encodeURIComponent(id)}`,
  );
  return UNFOLLOWED;
}

/**
 * Read events into `seen`, printing each new step: `over` once the incident ends or waits for a
 * person (or the output went), `cut` when the stream ends or breaks first.
 */
async function readEvents(
  reader: ReadableStreamDefaultReader<string>,
  url: string,
  id: string,
  io: SubmitIo,
  seen: Followed,
): Promise<'over' | 'cut'> {
  const shownId = printable(id);
  // A function, not the expression: the output can go while a read is pending.
  const gone = () => io.gone?.aborted === true;
  let buf = '';
  for (;;) {
    if (gone()) {
      await reader.cancel().catch(() => undefined);
      return 'over';
    }
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      return gone() ? 'over' : 'cut';
    }
    if (chunk.done) return gone() ? 'over' : 'cut';
    buf += chunk.value;
    let cut = buf.indexOf('\n\n');
    while (cut !== -1) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      cut = buf.indexOf('\n\n');
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      const index = Number(/^id: (\d+)$/m.exec(block)?.[1] ?? Number.NaN);
      if (event === undefined || data === undefined) continue;
      let d: Record<string, unknown>;
      try {
        d = JSON.parse(data) as Record<string, unknown>;
      } catch {
        throw new ValidationError(
          'DECODE_FAILED',
          `events for ${shownId}: a ${printable(event)} event that is not JSON`,
        );
      }
      // Entries before `seen.next` were printed already (or were there before: `aaps approve`).
      if (event === 'state' && index < seen.next) continue;
      if (event === 'state') {
        if (Number.isSafeInteger(index)) seen.next = index + 1;
        seen.state = String(d['state']);
        const detail = d['detail'] === undefined ? '' : ` ${jsonLine(d['detail'])}`;
        io.print(
          `${shownId}  ${printable(seen.state).padEnd(17)} ${printable(String(d['event']))} by ${printable(String(d['actor']))}${detail}`,
        );
        const wait = waitLine(d['event'], d['detail']);
        if (wait !== undefined) io.print(`${shownId}  ${printable(wait)}`);
        if (seen.state === 'awaiting_human') {
          const escalations = (d['detail'] as { escalations?: unknown } | undefined)?.escalations;
          io.print(
            Array.isArray(escalations)
              ? `${shownId}  handed to a person (${printable(escalations.map(String).join(', '))}): no fix was proposed, so nothing will be changed automatically; a person fixes it by hand (docs/api.md, "Triage and fixes", says what each escalation needs), then ends it with aaps approve ${shownId} --reject --reason TEXT (or its source reports it resolved)`
              : `${shownId}  waiting for a signed human approval: aaps approve ${shownId} (it shows the proposal and asks; --reject --reason TEXT refuses it), or POST ${url}/v1/approvals/${encodeURIComponent(id)}`,
          );
          for (const line of forThePerson(d['detail'])) io.print(`${shownId}  ${printable(line)}`);
          await reader.cancel().catch(() => undefined);
          return 'over';
        }
      } else if (event === 'end') {
        seen.state = String(d['state']);
        const evidence = printable(String(d['evidence_id']));
        io.print(
          `${shownId}  ended ${printable(seen.state)}; evidence ${evidence} (GET ${url}/v1/evidence/${evidence})`,
        );
        await reader.cancel().catch(() => undefined);
        return 'over';
      }
    }
  }
}

/**
 * {@link follow} for an incident `aaps submit` opened: a token that may submit but not read its
 * events gets one line saying the incident is open and how to follow it, and the incident counts
 * as not followed (exit 1: its end is unknown).
 */
async function followOpened(url: string, token: string, id: string, io: SubmitIo): Promise<string> {
  try {
    return await follow(url, token, id, io);
  } catch (e) {
    if (!(e instanceof EventsRefused)) throw e;
    printError(
      io,
      `aaps: ${printable(id)} is open, but this token cannot follow it (${e.failure}): aaps submit follows with the read scope; follow it with a token that has read: GET ${url}/v1/incidents/${encodeURIComponent(id)}/events`,
    );
    return UNFOLLOWED;
  }
}

export async function runSubmit(
  file: string,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
): Promise<number> {
  const source = config.source;
  if (source === undefined) throw new UsageError('submit: --source is required');
  if (source === 'github' && config.githubWebhookSecret === undefined)
    throw new UsageError('submit: --source github needs --github-webhook-secret to sign the payload');
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    printError(io, `aaps: cannot read ${file}: ${failure(e)}`);
    return 2;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (source === 'github' && config.githubWebhookSecret !== undefined) {
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
  const answer = await readJson(res);
  if (!answer.ok) {
    printError(io, `aaps: rejected: ${answer.failure}`);
    return 1;
  }
  const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<
    string,
    unknown
  >;
  type Answer = { incident_id: string; duplicate: boolean; joined?: boolean; recurrence_of?: string };
  const list: Answer[] =
    source === 'envelope'
      ? [{ incident_id: String(body['incident_id']), duplicate: body['duplicate'] === true }]
      : Array.isArray(body['incidents'])
        ? (body['incidents'] as Answer[])
        : [];
  if (list.length === 0) io.print('accepted; nothing to act on');
  const what = (i: Answer) =>
    i.joined === true
      ? 'joined the open incident'
      : i.duplicate
        ? 'duplicate of an existing incident'
        : i.recurrence_of !== undefined
          ? `opened (the same failure recurred after ${printable(String(i.recurrence_of))}'s fix: it goes to a person)`
          : 'opened';
  for (const i of list) io.print(`${printable(String(i.incident_id))}  ${what(i)}`);
  const ends = await Promise.all(list.map((i) => followOpened(config.url, token, i.incident_id, io)));
  const ok = (s: string) => s === 'resolved' || s === 'awaiting_human';
  if (io.gone?.aborted === true) return exitWhenGone(ends, ok);
  return ends.every(ok) ? 0 : 1;
}

/**
 * What a `human_required` entry tells the person, a line each: the cause the problem solver
 * found, and what each escalation needs, in its words. Entries without them (a decision's, or a
 * gateway's from before they were recorded) give none.
 */
function forThePerson(detail: unknown): string[] {
  if (typeof detail !== 'object' || detail === null) return [];
  const { root_cause: cause, details } = detail as { root_cause?: unknown; details?: unknown };
  const lines = typeof cause === 'string' && cause !== '' ? [`cause found: ${cause}`] : [];
  if (Array.isArray(details))
    for (const e of details as { kind?: unknown; detail?: unknown }[])
      if (typeof e?.kind === 'string' && typeof e.detail === 'string') lines.push(`${e.kind}: ${e.detail}`);
  return lines;
}
