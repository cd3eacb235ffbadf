/**
 * `aaps keys`, `aaps keys refresh` and `aaps keys repair` against answers that are not what the gateway sends: a 200
 * whose body is no keys document (or no refresh result) is one line naming the fields, exit 1,
 * never a TypeError; text from the answer is escaped for the terminal.
 */
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runKeys } from './keys.js';

const config = (() => {
  const parsed = parseGatewayConfig(['--url', 'http://gw.test'], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
})();

async function keys(body: unknown, args: string[] = [], reason?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: { url: string; body: unknown }[] = [];
  const fetch = (async (url: string, init?: RequestInit) => {
    sent.push({
      url: String(url),
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
    });
    return Response.json(body);
  }) as unknown as typeof globalThis.fetch;
  const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
  const code = await runKeys(args, config, 't', io, reason);
  return { code, out, err, sent };
}

const party = { id: 'monitoring', url: 'http://127.0.0.1:7101', verifying_share: 'ab'.repeat(32) };
const good = {
  ciphersuite: 'FROST-ED25519-SHA512-v1',
  group_public_key: 'cd'.repeat(32),
  threshold: { min: 3, max: 5 },
  parties: [party],
};

describe('aaps keys: the answer is checked before it is printed', () => {
  it('a keys document prints; its text is escaped for the terminal', async () => {
    const r = await keys({ ...good, parties: [{ ...party, id: 'evil\u001b]0;x\u0007' }] });
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out[0]).toBe(`group key ${'cd'.repeat(32)} (FROST-ED25519-SHA512-v1, 3-of-5)`);
    expect(r.out[1]).toContain('evil\\u001b]0;x\\u0007');
    expect(r.out.join('\n')).not.toContain('\u001b');
  });

  it.each([
    [{}, 'group_public_key, ciphersuite, threshold, parties'],
    [[], '(the whole answer)'],
    [{ ...good, threshold: { min: '3', max: 5 } }, 'threshold'],
    [{ ...good, parties: [party, { id: 'x' }] }, 'parties[1].url, parties[1].verifying_share'],
    [{ ...good, parties: [null] }, 'parties[0]'],
  ])('a 200 answer %j: exit 1, one line naming %s', async (body, fields) => {
    const r = await keys(body);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([
      `aaps: cannot read the keys: the gateway's answer is not a keys document: ${fields}`,
    ]);
  });

  it('refresh: an answer that is no refresh result is one line naming its fields, exit 1', async () => {
    const r = await keys({ group_public_key: 'cd'.repeat(32), parties: 'all' }, ['refresh'], 'rotation');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      "aaps: refresh failed: the gateway's answer is not a key refresh result: took_ms, steps, repaired, parties",
    ]);
  });
});

describe('aaps keys repair', () => {
  const result = {
    group_public_key: 'cd'.repeat(32),
    repaired: ['strategy'],
    up_to_date: ['monitoring'],
    steps: ['repair: requested (disk replaced)', 'repair: strategy holds no key: repairing its share'],
    took_ms: 1250,
  };

  it('posts the reason and the parties named, prints the steps and one line of what it did', async () => {
    const r = await keys(result, ['repair', 'strategy', 'monitoring'], 'disk replaced');
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.sent).toEqual([
      {
        url: 'http://gw.test/v1/keys/repair',
        body: { reason: 'disk replaced', parties: ['strategy', 'monitoring'] },
      },
    ]);
    expect(r.out).toContain('  repair: strategy holds no key: repairing its share');
    expect(r.out.at(-1)).toBe(
      `repaired strategy in 1.3 s; already on the package: monitoring; group key and verifying shares unchanged ${'cd'.repeat(32)}`,
    );
  });

  it('with no party named, asks the gateway to find those behind (no parties field)', async () => {
    const r = await keys({ ...result, repaired: [], up_to_date: [] }, ['repair'], 'after restores');
    expect(r.code).toBe(0);
    expect(r.sent[0]!.body).toEqual({ reason: 'after restores' });
    expect(r.out.at(-1)).toMatch(/^nothing to repair in 1\.3 s; group key/);
  });

  it('needs --reason, and takes no unknown flag (usage errors, nothing sent)', async () => {
    await expect(keys(result, ['repair', 'strategy'])).rejects.toThrow(
      'keys repair: --reason TEXT is required',
    );
    await expect(keys(result, ['repair', '--force'], 'x')).rejects.toThrow(
      'keys repair: unknown flag --force',
    );
  });

  it('an answer that is no repair result is one line naming its fields, exit 1', async () => {
    const r = await keys({ group_public_key: 'cd'.repeat(32), repaired: 'all' }, ['repair'], 'disk');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      "aaps: repair failed: the gateway's answer is not a key repair result: took_ms, steps, repaired, up_to_date",
    ]);
  });

  it("the gateway's refusal is one line, exit 1", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const fetch = (async () =>
      Response.json(
        {
          error: { code: 'INVALID_ARGUMENT', message: 'not in the roster: nobody (the parties are a, b, c)' },
        },
        { status: 400 },
      )) as unknown as typeof globalThis.fetch;
    const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
    expect(await runKeys(['repair', 'nobody'], config, 't', io, 'disk')).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain('repair failed');
    expect(err[0]).toContain('not in the roster: nobody');
  });
});
