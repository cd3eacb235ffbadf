/**
 * `aaps up` (real party processes) keeps the group key of record, `<data-dir>/public-package.json`:
 * everything signed so far verifies against it. When every party lost its store, or holds another
 * group's key, a restart refuses with one line (never a silent new DKG that overwrites the record);
 * a restart with another threshold, or on another deployment's data directory, is refused before
 * anything is written; a first DKG cut short (fewer than k shares, no record) is replaced.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { run } from './aaps.js';
import { runUp } from './up.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-up-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PARTIES = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];

async function start(
  dataDir: string,
  extra: string[] = [],
): Promise<{ groupKey?: string; error?: string; lines: string[]; stop: () => Promise<unknown> }> {
  const parsed = parseGatewayConfig(['--data-dir', dataDir, '--port', '0', ...extra], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const lines: string[] = [];
  let stop!: (why: string) => void;
  let ready!: (key: string) => void;
  const readyKey = new Promise<string>((r) => {
    ready = r;
  });
  const done = runUp(parsed.config, {
    print: (l) => {
      lines.push(l);
      const m = /^aaps: ready at \S+ \(group key ([0-9a-f]{64})/.exec(l);
      if (m) ready(m[1] ?? '');
    },
    stopSignal: new Promise((r) => {
      stop = r;
    }),
  });
  const out = await Promise.race([
    readyKey.then((groupKey) => ({ groupKey })),
    done.then(
      () => ({ error: 'exited' }),
      (e: Error) => ({ error: e.message }),
    ),
  ]);
  return {
    ...out,
    lines,
    stop: async () => {
      stop('SIGTERM');
      return done.catch(() => undefined);
    },
  };
}

const savedKey = (d: string) =>
  (JSON.parse(readFileSync(join(d, 'public-package.json'), 'utf8')) as { body: { groupPublicKey: string } })
    .body.groupPublicKey;

describe('aaps up keeps the group key of record', () => {
  it('refuses a new DKG when every party lost its store, naming the record and the remedy', async () => {
    const d = join(dir, 'a');
    const first = await start(d);
    await first.stop();
    expect(first.groupKey).toMatch(/^[0-9a-f]{64}$/);
    for (const p of PARTIES) rmSync(join(d, 'parties', p, 'db'), { recursive: true, force: true });
    const second = await start(d);
    await second.stop();
    expect(second.groupKey).toBeUndefined();
    expect(second.error).toContain(join(d, 'public-package.json'));
    expect(second.error).toContain(first.groupKey);
    expect(second.error).toMatch(/no party holds a key/);
    expect(second.error).toMatch(/restore the parties' stores.*move .* away/);
    expect(savedKey(d)).toBe(first.groupKey);
  }, 120_000);

  it('repairs the parties that lost their share when k still hold the key of record', async () => {
    const d = join(dir, 'r');
    const first = await start(d);
    await first.stop();
    for (const p of ['strategy', 'audit'])
      rmSync(join(d, 'parties', p, 'db'), { recursive: true, force: true });
    const second = await start(d);
    await second.stop();
    expect(second.error).toBeUndefined();
    expect(second.groupKey).toBe(first.groupKey);
    expect(second.lines).toContain('keys: audit holds no key: repairing its share');
    expect(savedKey(d)).toBe(first.groupKey);
  }, 120_000);

  it("refuses parties holding another group's key than the one of record", async () => {
    const d = join(dir, 'b');
    const first = await start(d);
    await first.stop();
    cpSync(join(d, 'parties'), join(dir, 'b-parties-old'), { recursive: true });
    // A deliberate re-key (the record moved away, every store gone), then the old stores come back.
    for (const p of PARTIES) rmSync(join(d, 'parties', p, 'db'), { recursive: true, force: true });
    rmSync(join(d, 'public-package.json'));
    const second = await start(d);
    await second.stop();
    const ofRecord = savedKey(d);
    expect(second.groupKey).toBe(ofRecord);
    expect(ofRecord).not.toBe(first.groupKey);
    rmSync(join(d, 'parties'), { recursive: true, force: true });
    cpSync(join(dir, 'b-parties-old'), join(d, 'parties'), { recursive: true });
    const third = await start(d);
    await third.stop();
    expect(third.groupKey).toBeUndefined();
    expect(third.error).toContain(`hold another group key ${first.groupKey}`);
    expect(savedKey(d)).toBe(ofRecord);
  }, 180_000);

  it('a second start with another --threshold is refused up front, naming the flag, and leaves roster.json alone', async () => {
    const d = join(dir, 'c');
    const first = await start(d);
    await first.stop();
    const roster = readFileSync(join(d, 'roster.json'), 'utf8');
    const second = await start(d, ['--threshold', '4']);
    await second.stop();
    expect(second.groupKey).toBeUndefined();
    expect(second.error).toBe(
      `${d} holds a 3-of-5 FROST-ED25519-SHA512-v1 key; start it with --threshold 3, or use a new --data-dir`,
    );
    expect(readFileSync(join(d, 'roster.json'), 'utf8')).toBe(roster);
    // As a command: one line, exit 2.
    const said: string[] = [];
    expect(
      await run(['up', '--data-dir', d, '--port', '0', '--threshold', '4'], {}, (l) => said.push(l)),
    ).toBe(2);
    expect(said).toEqual([`aaps: ${second.error}`]);
  }, 120_000);

  it('a first start cut short in DKG round 3 (fewer than k shares, no record): the next start re-keys', async () => {
    const d = join(dir, 'e');
    const first = await start(d);
    await first.stop();
    // What a kill -9 of `aaps up` in round 3 leaves when only 2 of 5 parties stored their share:
    // no public-package.json (the gateway never finished), 3 parties without a key.
    rmSync(join(d, 'public-package.json'));
    for (const p of ['strategy', 'quality-assurance', 'audit'])
      rmSync(join(d, 'parties', p, 'db'), { recursive: true, force: true });
    const second = await start(d);
    await second.stop();
    expect(second.error).toBeUndefined();
    expect(second.groupKey).toMatch(/^[0-9a-f]{64}$/);
    expect(second.groupKey).not.toBe(first.groupKey);
    expect(second.lines.join('\n')).toMatch(/only monitoring, problem-solver hold a key share.*replaces it/);
    expect(second.lines).toContain('keys: restarting monitoring, problem-solver with allow_key_replace off');
    expect(savedKey(d)).toBe(second.groupKey);
    // Nothing written lets the coordinator replace a key later: the next start keeps this one.
    for (const p of PARTIES)
      expect(readFileSync(join(d, 'parties', p, 'party.json'), 'utf8')).not.toContain('allow_key_replace');
    const third = await start(d);
    await third.stop();
    expect(third.groupKey).toBe(second.groupKey);
  }, 180_000);

  it("refuses a data dir that holds another deployment's roster (an `aaps gateway` data dir)", async () => {
    const src = join(dir, 'f-src');
    const first = await start(src);
    await first.stop();
    // A separate-hosts gateway's data dir: its roster (remote parties, other ids) and public package.
    const d = join(dir, 'f');
    mkdirSync(d, { recursive: true });
    const roster = JSON.parse(readFileSync(join(src, 'roster.json'), 'utf8')) as {
      parties: { id: string; url: string }[];
    };
    roster.parties.forEach((p, i) => {
      p.id = `dept-${i + 1}`;
      p.url = `http://party-${i + 1}.example.internal:8080`;
    });
    const rosterText = `${JSON.stringify(roster, null, 2)}\n`;
    writeFileSync(join(d, 'roster.json'), rosterText);
    cpSync(join(src, 'public-package.json'), join(d, 'public-package.json'));
    cpSync(join(src, 'gateway'), join(d, 'gateway'), { recursive: true });
    const second = await start(d);
    await second.stop();
    expect(second.groupKey).toBeUndefined();
    expect(second.error).toMatch(
      /roster\.json is not a roster aaps up wrote \(party dept-1 at http:\/\/party-1\.example\.internal:8080\)/,
    );
    expect(second.error).toContain(`aaps gateway --data-dir ${d}`);
    expect(readFileSync(join(d, 'roster.json'), 'utf8')).toBe(rosterText);
    expect(savedKey(d)).toBe(first.groupKey);
    expect(existsSync(join(d, 'parties'))).toBe(false);
  }, 120_000);

  it('keeps party data directories and their stores owner-only (0700)', async () => {
    const d = join(dir, 'g');
    const first = await start(d);
    await first.stop();
    for (const p of PARTIES) {
      expect(statSync(join(d, 'parties', p)).mode & 0o777).toBe(0o700);
      expect(statSync(join(d, 'parties', p, 'db')).mode & 0o777).toBe(0o700);
    }
  }, 120_000);

  it('--data-dir naming a file is a usage error', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const said: string[] = [];
    expect(await run(['up', '--data-dir', file], {}, (l) => said.push(l))).toBe(2);
    expect(said).toEqual([`aaps: --data-dir: ${file} is not a directory`]);
  });
});
