/** `aaps submit`'s errors: one line on stderr naming the file or the gateway, and the exit code. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { fixtureText, makeGateway, TOKENS } from '../test-helpers/gateway.js';
import { run } from './aaps.js';
import { follow, runSubmit } from './submit.js';

const TOKEN = 'test-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'aaps-submit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(...argv: string[]): GatewayConfig {
  const parsed = parseGatewayConfig(['--url', 'http://gw.test', ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

function capture(answer?: () => Response) {
  const out: string[] = [];
  const err: string[] = [];
  const fetch = vi.fn(async () => answer?.() ?? Response.json({}));
  return {
    out,
    err,
    fetch,
    io: { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch },
  };
}

/** A loopback URL nothing listens on. */
/** `aaps submit`'s io against a gateway app (no port), with what it printed and said. */
function appIo(gw: Awaited<ReturnType<typeof makeGateway>>) {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    print: (l: string) => void out.push(l),
    error: (l: string) => void err.push(l),
    fetch: (async (input: string | URL | Request, init?: RequestInit) =>
      gw.app.request(String(input), init)) as typeof fetch,
  };
  return { out, err, io };
}

async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

describe('aaps submit errors', () => {
  const file = join(dir, 'events.json');
  writeFileSync(file, '{"kind": "EventList", "items": []}');

  it('gateway down: one line naming the URL and the cause, exit 1', async () => {
    const url = await closedUrl();
    const err: string[] = [];
    const argv = ['submit', file, '--source', 'kubernetes', '--url', url, '--api-token', TOKEN];
    expect(await run(argv, {}, (l) => void err.push(l))).toBe(1);
    expect(err).toEqual([`aaps: cannot reach the gateway at ${url}: ECONNREFUSED`]);
  });

  it('a missing file: cannot read it, on stderr, exit 2, nothing posted', async () => {
    const c = capture();
    const missing = join(dir, 'nosuch.json');
    expect(await runSubmit(missing, config('--source', 'kubernetes'), 't', c.io)).toBe(2);
    expect(c.err).toEqual([`aaps: cannot read ${missing}: ENOENT`]);
    expect(c.out).toEqual([]);
    expect(c.fetch).not.toHaveBeenCalled();
  });

  it('the aaps command writes that line to stderr', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const argv = ['submit', join(dir, 'nosuch.json'), '--source', 'kubernetes', '--api-token', TOKEN];
      expect(await run(argv, {})).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(written).toEqual([`aaps: cannot read ${join(dir, 'nosuch.json')}: ENOENT\n`]);
  });

  it('bad JSON for --source github names the file, exit 2, nothing posted', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"workflow_run": 1, nope}');
    const c = capture();
    const cfg = config('--source', 'github', '--github-webhook-secret', 's3cret-for-tests');
    expect(await runSubmit(bad, cfg, 't', c.io)).toBe(2);
    expect(c.err).toHaveLength(1);
    expect(c.err[0]).toMatch(new RegExp(`^aaps: ${bad} is not JSON: \\S`));
    expect(c.fetch).not.toHaveBeenCalled();
  });

  it('a refusal from the gateway goes to stderr, exit 1', async () => {
    const c = capture(() =>
      Response.json(
        { error: { code: 'INVALID_ARGUMENT', message: 'items: expected a list' } },
        { status: 400 },
      ),
    );
    expect(await runSubmit(file, config('--source', 'kubernetes'), 't', c.io)).toBe(1);
    expect(c.err).toEqual(['aaps: rejected: HTTP 400 INVALID_ARGUMENT items: expected a list']);
    expect(c.out).toEqual([]);
  });
});

describe('aaps submit following an incident', () => {
  it('prints why it waits: a step tried again, evidence not sealed yet; then the end', async () => {
    const sse = (event: string, data: unknown, id?: number) =>
      `event: ${event}\ndata: ${JSON.stringify(data)}\n${id === undefined ? '' : `id: ${id}\n`}\n`;
    const entry = (state: string, event: string, detail?: Record<string, unknown>) => ({
      incident_id: 'inc-1',
      at: '2026-11-25T14:00:00Z',
      state,
      event,
      actor: 'gateway',
      ...(detail === undefined ? {} : { detail }),
    });
    const why = { code: 'UNAVAILABLE', message: 'strategy is unreachable (agent.step)' };
    const body = [
      sse('state', entry('proposed', 'proposed'), 0),
      sse('state', entry('proposed', 'step.retrying', { ...why, attempt: 1, next_in_ms: 250 }), 1),
      sse('state', entry('resolved', 'verification_passed'), 2),
      sse(
        'state',
        entry('resolved', 'evidence.retrying', {
          code: 'UNAVAILABLE',
          message: 'audit is unreachable (agent.step)',
          attempt: 1,
          next_in_ms: 1000,
        }),
        3,
      ),
      sse('end', { incident_id: 'inc-1', state: 'resolved', evidence_id: 'ab' }),
    ].join('');
    const c = capture(() => new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    expect(await follow('http://gw.test', 't', 'inc-1', c.io)).toBe('resolved');
    expect(c.out).toEqual([
      'inc-1  proposed          proposed by gateway',
      `inc-1  proposed          step.retrying by gateway ${JSON.stringify({ ...why, attempt: 1, next_in_ms: 250 })}`,
      'inc-1  waiting: strategy is unreachable (agent.step) (UNAVAILABLE); trying again in 0.3 s',
      'inc-1  resolved          verification_passed by gateway',
      'inc-1  resolved          evidence.retrying by gateway {"code":"UNAVAILABLE","message":"audit is unreachable (agent.step)","attempt":1,"next_in_ms":1000}',
      'inc-1  evidence not sealed yet: audit is unreachable (agent.step) (UNAVAILABLE); the gateway tries again in 1.0 s, until it is sealed',
      'inc-1  ended resolved; evidence ab (GET http://gw.test/v1/evidence/ab)',
    ]);
  });
});

describe('aaps submit of a file with a key given twice', () => {
  it('the gateway refuses it naming the key: one line on stderr, exit 1, no incident', async () => {
    const gw = await makeGateway();
    try {
      const { out, err, io } = appIo(gw);
      const twice = join(dir, 'twice.json');
      // A quota event as kubectl prints it, with a decoy namespace first: JSON.parse keeps "shop".
      const event = fixtureText('kubernetes/events-v1-quota-exceeded.json');
      writeFileSync(twice, event.replace('"metadata": {', '"metadata": {\n    "namespace": "kube-system",'));
      expect(await runSubmit(twice, config('--source', 'kubernetes'), TOKENS.submit, io)).toBe(1);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/^aaps: rejected: HTTP 400 DECODE_FAILED .*metadata\.namespace is given twice/);
      expect(out).toEqual([]);
      expect((await gw.store.listIncidents({ limit: 10 })).incidents).toEqual([]);
    } finally {
      await gw.cleanup();
    }
  });
});

describe('aaps submit with a token that may submit but not read', () => {
  it('says the incident is open and how to follow it, not that the gateway is unavailable; exit 1', async () => {
    const gw = await makeGateway();
    try {
      const { out, err, io } = appIo(gw);
      const file = new URL('../../test-fixtures/kubernetes/events-v1-quota-exceeded.json', import.meta.url)
        .pathname;
      const code = await runSubmit(file, config('--source', 'kubernetes'), TOKENS.submit, io);
      expect(out).toHaveLength(1);
      const id = /^(inc-\S+) {2}opened$/.exec(out[0]!)?.[1];
      expect(id, out[0]).toBeDefined();
      // The incident was opened: the gateway holds it.
      expect((await gw.store.getIncident(id!))?.id).toBe(id);
      expect(err).toEqual([
        `aaps: ${id} is open, but this token cannot follow it (HTTP 403 FORBIDDEN this token lacks the read scope): aaps submit follows with the read scope; follow it with a token that has read: GET http://gw.test/v1/incidents/${id}/events`,
      ]);
      // Its end is unknown: not the 0 of an incident seen resolved.
      expect(code).toBe(1);
    } finally {
      await gw.cleanup();
    }
  });
});

describe('aaps submit when an incident waits for a person (user-journey review)', () => {
  const sse = (event: string, data: unknown, id?: number) =>
    `event: ${event}\ndata: ${JSON.stringify(data)}\n${id === undefined ? '' : `id: ${id}\n`}\n`;
  const waiting = (actor: string, detail: Record<string, unknown>) =>
    sse(
      'state',
      {
        incident_id: 'inc-1',
        at: '2026-11-25T14:00:00Z',
        state: 'awaiting_human',
        event: 'human_required',
        actor,
        detail,
      },
      0,
    );
  const stream = (body: string) => () =>
    new Response(body, { headers: { 'content-type': 'text/event-stream' } });

  it('a proposal to approve: the last line names the aaps approve command, not only the HTTP route', async () => {
    const c = capture(stream(waiting('gateway', { decision: 'auto', routed_to_human: 'recurrence' })));
    expect(await follow('http://gw.test', 't', 'inc-1', c.io)).toBe('awaiting_human');
    expect(c.out.at(-1)).toBe(
      'inc-1  waiting for a signed human approval: aaps approve inc-1 (it shows the proposal and asks; --reject --reason TEXT refuses it), or POST http://gw.test/v1/approvals/inc-1',
    );
  });

  it('an escalation (no proposal): the last line says what a person does next and how the incident ends', async () => {
    const c = capture(stream(waiting('problem-solver', { escalations: ['pull_cause_unknown'] })));
    expect(await follow('http://gw.test', 't', 'inc-1', c.io)).toBe('awaiting_human');
    expect(c.out.at(-1)).toBe(
      'inc-1  handed to a person (pull_cause_unknown): no fix was proposed, so nothing will be changed automatically; a person fixes it by hand (docs/api.md, "Triage and fixes", says what each escalation needs), then ends it with aaps approve inc-1 --reject --reason TEXT (or its source reports it resolved)',
    );
  });

  it('an escalation: the cause found and what each escalation needs follow, a line each, as the problem solver said them', async () => {
    const c = capture(
      stream(
        waiting('problem-solver', {
          escalations: ['pull_cause_unknown'],
          root_cause: 'image pull failed for deployment://shop/web',
          details: [{ kind: 'pull_cause_unknown', detail: "a person reads the pull's error\u001b[31m" }],
        }),
      ),
    );
    expect(await follow('http://gw.test', 't', 'inc-1', c.io)).toBe('awaiting_human');
    expect(c.out.slice(-3, -1)).toEqual([
      expect.stringMatching(/^inc-1 {2}handed to a person \(pull_cause_unknown\)/),
      'inc-1  cause found: image pull failed for deployment://shop/web',
    ]);
    const last = c.out.at(-1)!;
    expect(last.startsWith("inc-1  pull_cause_unknown: a person reads the pull's error")).toBe(true);
    // Control characters from the server are shown, never sent to the terminal.
    expect(last.includes('\u001b')).toBe(false);
  });

  it('a recurrence whose run is then escalated: the opened line does not promise a proposal to approve', async () => {
    const answers = [
      () =>
        Response.json({ incidents: [{ incident_id: 'inc-1', duplicate: false, recurrence_of: 'inc-0' }] }),
      stream(waiting('problem-solver', { escalations: ['pull_cause_unknown'] })),
    ];
    const c = capture(() => answers.shift()!());
    const file = join(dir, 'alert.json');
    writeFileSync(file, '{}');
    expect(await runSubmit(file, config('--source', 'alertmanager'), 't', c.io)).toBe(0);
    expect(c.out[0]).toBe("inc-1  opened (the same failure recurred after inc-0's fix: it goes to a person)");
  });
});
