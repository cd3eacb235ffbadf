/**
 * `aaps log audit` on a log holding entries appended after its latest checkpoint (checkpoint
 * signing fails, the parties refuse or are down, while incidents go on being appended): the audit
 * says how many entries no signed checkpoint covers yet, so an auditor can tell a stalled signer
 * from a healthy log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AapsError } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import type { Coordinator } from '../coordinator.js';
import { makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { pinServedRoot } from '../test-helpers/log-audit.js';
import { runLogAudit } from './log-audit.js';

let gw: TestGateway;
let failing = false;
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-audit-tail-'));

async function submitOne(): Promise<void> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  await gw.runner.idle();
}

beforeAll(async () => {
  gw = await makeGateway({
    wrap: (c) =>
      new Proxy(c, {
        get(target, prop) {
          if (prop === 'signCheckpoint' && failing)
            return async () => {
              throw new AapsError('UNAVAILABLE', 'the parties are down');
            };
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as unknown as Coordinator,
  });
  await submitOne();
  failing = true;
  // An incident whose bundle is appended but whose checkpoint cannot be signed (it keeps retrying).
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  for (let i = 0; i < 200; i++) {
    const page = (await (
      await request(gw, 'GET', '/v1/log/entries?start=0&count=1', { token: TOKENS.read })
    ).json()) as { log_size: number };
    const cp = (await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text()).split(
      '\n',
    )[1];
    if (page.log_size > Number(cp)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await pinServedRoot(gw, dir);
});
afterAll(async () => {
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('aaps log audit and entries after the checkpoint', () => {
  it('says how many entries the latest checkpoint does not cover', async () => {
    const cpSize = Number(
      (await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text()).split('\n')[1],
    );
    const page = (await (
      await request(gw, 'GET', `/v1/log/entries?start=${cpSize}`, { token: TOKENS.read })
    ).json()) as { log_size: number };
    // The premise: the log holds entries past its checkpoint.
    expect(page.log_size).toBeGreaterThan(cpSize);

    const parsed = parseGatewayConfig(['--data-dir', dir, '--url', 'http://gw.test'], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const out: string[] = [];
    const err: string[] = [];
    const fetch = (async (url: string | URL | Request, init?: RequestInit) =>
      gw.app.request(String(url).slice('http://gw.test'.length), init)) as typeof globalThis.fetch;
    const code = await runLogAudit(
      ['audit'],
      parsed.config,
      TOKENS.read,
      {
        print: (l) => void out.push(l),
        error: (l) => void err.push(l),
        fetch,
      },
      {},
    );
    expect(code).toBe(0);
    const uncovered = page.log_size - cpSize;
    expect(out.join('\n')).toMatch(
      new RegExp(`\\b${uncovered} entr(y|ies)\\b.*(after|not covered|no checkpoint)`),
    );
  });
});
