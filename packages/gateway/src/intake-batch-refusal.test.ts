/**
 * From the intake review: docs/api.md "Native webhooks": "A body that fails its schema is refused whole
 * with 400 ... and nothing of it is recorded"; "Errors": "A rejected request writes nothing."
 * The signing check (no `__proto__` member, no lone surrogate: canonical.ts) runs per item inside
 * `IntakeService.ingest`, after the items before it were created and their runs started. An
 * Alertmanager group whose second alert has such a label or annotation is answered 400, and the
 * first alert's incident exists anyway (Alertmanager drops a notification it got a 4xx for, so the
 * sender believes nothing was taken).
 * Since: ingest checks every signal is signable before it writes anything, and the 400 names the
 * alert in the body (`alerts[1]`).
 *
 * Sealing at intake, likewise: who the fields are sealed to (the parties' keys and k) was asked item
 * by item, so a 5xx from the second item's sealing (the parties' keys unreadable) kept the first
 * item's incident. Since: asked once per body, before any write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  delegating,
  fixtureText,
  json,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

it.each([
  [
    'a label named __proto__ on the second alert',
    (raw: string) =>
      raw.replace('"resource": "limits.memory",', '"resource": "limits.memory", "__proto__": "x",'),
  ],
  [
    'a lone surrogate in the second alert summary',
    (raw: string) =>
      raw.replace(
        '"summary": "Namespace quota is fully used."',
        '"summary": "Namespace quota \\ud800 is fully used."',
      ),
  ],
])('%s: the 400 writes nothing', async (_what, edit) => {
  const gw = await makeGateway();
  open.push(gw);
  await gw.runner.close(); // intake only
  const raw = edit(fixtureText('alertmanager/firing-group.json'));
  expect(raw).not.toBe(fixtureText('alertmanager/firing-group.json'));
  const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw });
  expect(res.status).toBe(400);
  const error = (await json(res))['error'] as { fields: string[]; message: string };
  expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
  // The field is the alert in the body, not a path in the envelope made of it.
  expect(error.fields).toEqual(['alerts[1]']);
  expect(error.message).toMatch(
    /^refused, nothing recorded: alerts\[1\]: its signal cannot be signed: payload\.metadata\./,
  );
  // Before the fix: the first alert's incident was created (and its run started) before the 400.
  expect((await gw.store.listIncidents({ limit: 10 })).incidents).toEqual([]);
});

it('a POST /v1/incidents envelope that cannot be signed is refused naming its path in the body', async () => {
  const gw = await makeGateway();
  open.push(gw);
  await gw.runner.close(); // intake only
  const raw = fixtureText('envelope/incident-signal.json').replace(
    '"metadata": {',
    '"metadata": { "__proto__": "x",',
  );
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, raw });
  expect(res.status).toBe(400);
  // The body is the envelope, so the path in it is the body's path.
  expect((await json(res))['error']).toMatchObject({
    code: 'INVALID_ARGUMENT',
    fields: ['payload.metadata["__proto__"]'],
  });
  expect((await gw.store.listIncidents({ limit: 10 })).incidents).toEqual([]);
});

describe('sealing at intake: its recipients are asked once, before any write', () => {
  const body = () => fixtureText('alertmanager/firing-group.json');

  it('a body whose sealing cannot start is a 5xx that created nothing', async () => {
    const gw = await makeGateway({
      config: { sealing: {} },
      wrap: (c) =>
        delegating(c, {
          keys: async () => {
            throw new Error('parties unreachable');
          },
        }),
    });
    open.push(gw);
    await gw.runner.close(); // intake only
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw: body() });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect((await gw.store.listIncidents({ limit: 10 })).incidents).toEqual([]);
  });

  it('one body is sealed to one recipient set: a failure after the first ask does not cut it in half', async () => {
    let asked = 0;
    const gw = await makeGateway({
      config: { sealing: {} },
      wrap: (c) =>
        delegating(c, {
          keys: async () => {
            asked += 1;
            if (asked > 1) throw new Error('parties unreachable');
            return c.keys();
          },
        }),
    });
    open.push(gw);
    await gw.runner.close(); // intake only
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw: body() });
    // Before: the second alert's sealing asked again, got the error, and the answer was a 5xx
    // after the first alert's incident was written.
    expect(res.status).toBe(202);
    const { incidents } = await gw.store.listIncidents({ limit: 10 });
    expect(incidents).toHaveLength(2);
    expect(asked).toBe(1);
  });
});
