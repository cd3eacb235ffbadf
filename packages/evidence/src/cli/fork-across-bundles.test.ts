/**
 * `aaps-verify DIR` and `aaps-verify -` look for a fork across the bundles they verify: two
 * checkpoints of one origin and tree size with different roots, both signed by the log key, fail
 * `log.consistency` for every later bundle under the second root, naming the bundle where the
 * first was seen, the origin and the size; exit 1, and the same lines for every `--jobs`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachLogEntry, buildBundle, bundleLogLeaf } from '../bundle/build.js';
import type { EvidenceBundle } from '../bundle/types.js';
import { parseCheckpoint, parseSignedNote } from '../checkpoint.js';
import { TransparencyLog } from '../log.js';
import { CLI, ensureBuilt } from '../test-helpers/build-dist.js';
import {
  logBundles,
  MemoryStore,
  makeEd25519Key,
  makeInput,
  makeRoster,
  noteKeyFor,
  ORIGIN,
  type TestKey,
  trustedRootFor,
} from '../test-helpers/fixtures.js';
import { MIN_FOR_WORKERS } from './verify-pool.js';

let dir: string;
let group: TestKey;
let keyHex: string;
let trustedRoot: string;
/** Two views of one log at tree size 2: the same first leaf, another second leaf. */
let viewA: EvidenceBundle[];
let viewB: EvidenceBundle[];
let rootA: string;
let rootB: string;
let first: EvidenceBundle;
let bundle: (id: string) => Promise<EvidenceBundle>;

function run(args: string[], input?: string): { code: number | null; out: string[] } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout.split('\n').filter((l) => l.length > 0) };
}

/** A fresh directory under the test's, holding `files` as JSON. */
function directory(name: string, files: Record<string, EvidenceBundle>): string {
  const path = join(dir, name);
  mkdirSync(path);
  for (const [file, b] of Object.entries(files)) writeFileSync(join(path, file), JSON.stringify(b));
  return path;
}

const rootOf = (b: EvidenceBundle) =>
  Buffer.from(parseCheckpoint(parseSignedNote(b.transparencyLog!.checkpoint).text).rootHash).toString('hex');

const forkLine = (name: string, firstSeen: string) =>
  `${name}: invalid: log.consistency: a fork: ${firstSeen} holds a checkpoint of ${ORIGIN} at tree size 2 with root ${rootA}, this one with root ${rootB}`;

/** Of `count` items, every fourth (3, 7, ...) is under view B, the rest under view A. */
const underB = (i: number) => i % 4 === 3;
const nthItem = (i: number) => (underB(i) ? viewB : viewA)[i % 2]!;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'aaps-fork-'));
  group = makeEd25519Key();
  keyHex = Buffer.from(group.publicKey).toString('hex');
  const r = makeRoster();
  bundle = (id) =>
    buildBundle(makeInput(group, r, { incident: { id, type: 'config_validation_failed' } }), group.sign);
  first = await bundle('inc-0');
  viewA = await logBundles([first, await bundle('inc-a')], group);
  viewB = await logBundles([first, await bundle('inc-b')], group);
  rootA = rootOf(viewA[0]!);
  rootB = rootOf(viewB[0]!);
  trustedRoot = join(dir, 'trusted_root.json');
  writeFileSync(trustedRoot, JSON.stringify(trustedRootFor({ group, r })));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aaps-verify: a fork across the bundles of one run', () => {
  it('fails log.consistency for the bundle whose checkpoint has another root at one size', () => {
    expect(rootA).not.toBe(rootB);
    const d = directory('two', { 'a.json': viewA[1]!, 'b.json': viewB[1]! });
    const r = run([d, '--trusted-root', trustedRoot]);
    expect(r.out[0]).toBe(forkLine('b.json', 'a.json'));
    expect(r.out[1]).toMatch(/^2 bundles: 1 valid, 1 invalid in /);
    expect(r.code).toBe(1);
  });

  it('reports the same lines in a directory for every --jobs, on workers too', () => {
    const count = MIN_FOR_WORKERS + 16;
    const files: Record<string, EvidenceBundle> = {};
    for (let i = 0; i < count; i++) files[`x-${String(i).padStart(3, '0')}.json`] = nthItem(i);
    const d = directory('many', files);
    const expected = Array.from({ length: count }, (_, i) => i)
      .filter(underB)
      .map((i) => forkLine(`x-${String(i).padStart(3, '0')}.json`, 'x-000.json'));
    for (const jobs of ['1', '2', '3']) {
      const r = run([d, '--key', keyHex, '--jobs', jobs]);
      expect(r.out.slice(0, -1)).toEqual(expected);
      expect(r.out.at(-1)).toMatch(
        new RegExp(`^${count} bundles: ${count - expected.length} valid, ${expected.length} invalid in `),
      );
      expect(r.code).toBe(1);
    }
  }, 120_000);

  it('finds it in a stream, on workers too, naming stream positions', () => {
    const count = MIN_FOR_WORKERS + 16;
    const input = Array.from({ length: count }, (_, i) => `${JSON.stringify(nthItem(i))}\n`).join('');
    const expected = Array.from({ length: count }, (_, i) => i)
      .filter(underB)
      .map((i) => forkLine(`stdin#${i + 1}`, 'stdin#1'));
    for (const jobs of ['1', '2']) {
      const r = run(['-', '--key', keyHex, '--jobs', jobs], input);
      expect(r.out.slice(0, -1)).toEqual(expected);
      expect(r.code).toBe(1);
    }
  }, 120_000);

  it('shows the check and both bundles in --json', () => {
    const d = directory('json', { 'a.json': viewA[0]!, 'b.json': viewB[0]! });
    const r = run([d, '--key', keyHex, '--json']);
    const [a, b] = r.out.map((l) => JSON.parse(l));
    expect(a.valid).toBe(true);
    expect(b.bundle).toBe('b.json');
    expect(b.valid).toBe(false);
    expect(b.checks.find((c: { check: string }) => c.check === 'log.consistency').status).toBe('fail');
    expect(b.checks.filter((c: { status: string }) => c.status === 'fail')).toHaveLength(1);
    expect(b.failure.check).toBe('log.consistency');
    expect(b.failure.details).toEqual({
      origin: ORIGIN,
      size: 2,
      root: rootB,
      other: { bundle: 'a.json', root: rootA },
    });
    expect(r.code).toBe(1);
  });

  it('reports no outcome for the forked bundle in --json: its Statement vouches for nothing', async () => {
    const r = makeRoster();
    // Statements that state how the incident ended (nothing executed: rejected).
    const stated = (id: string) =>
      buildBundle(
        makeInput(group, r, { incident: { id, type: 'config_validation_failed', state: 'rejected' } }),
        group.sign,
      );
    const start = await stated('inc-s0');
    const [a] = await logBundles([start, await stated('inc-sa')], group);
    const [b] = await logBundles([start, await stated('inc-sb')], group);
    const d = directory('json-outcome', { 'a.json': a!, 'b.json': b! });
    const out = run([d, '--key', keyHex, '--json']);
    const [ra, rb] = out.out.map((l) => JSON.parse(l));
    expect(ra).toMatchObject({ bundle: 'a.json', valid: true, outcome: 'rejected' });
    expect(rb).toMatchObject({ bundle: 'b.json', valid: false });
    expect(rb.failure.check).toBe('log.consistency');
    expect(rb).not.toHaveProperty('outcome');
    expect(out.code).toBe(1);
  });

  it("counts the checkpoint of a bundle that fails a later check: it is still the log's signed word", () => {
    const broken = structuredClone(viewA[1]!);
    const proof = broken.transparencyLog!.inclusionProof;
    proof[0] = `${proof[0]!.slice(0, -1)}${proof[0]!.endsWith('0') ? '1' : '0'}`;
    const d = directory('broken-first', { 'a.json': broken, 'b.json': viewB[1]! });
    const r = run([d, '--key', keyHex]);
    expect(r.out[0]).toMatch(/^a\.json: invalid: log\.inclusion: /);
    expect(r.out[1]).toBe(forkLine('b.json', 'a.json'));
    expect(r.code).toBe(1);
  });

  it('takes checkpoints of a growing log, and of another origin at the same size, as no fork', async () => {
    const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
    const second = await bundle('inc-c');
    await log.append(bundleLogLeaf(first));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const atOne = attachLogEntry(first, await log.position(0));
    await log.append(bundleLogLeaf(second));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const atTwo = [
      attachLogEntry(first, await log.position(0)),
      attachLogEntry(second, await log.position(1)),
    ];
    // Another log (origin) of the same size, signed by the same group key under its own name.
    const other = 'aaps.test/other';
    const elsewhere = await TransparencyLog.open(new MemoryStore(), { origin: other });
    await elsewhere.append(bundleLogLeaf(first));
    await elsewhere.append(bundleLogLeaf(viewB[1]!));
    await elsewhere.signCheckpoint(noteKeyFor(group, other), group.sign);
    const there = attachLogEntry(first, await elsewhere.position(0));
    expect(rootOf(atTwo[0]!)).not.toBe(rootOf(there));
    const d = directory('no-fork', {
      '1.json': atOne,
      '2.json': atTwo[0]!,
      '3.json': atTwo[1]!,
      '4.json': there,
    });
    const r = run([d, '--key', keyHex]);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^4 bundles: 4 valid, 0 invalid in /);
    expect(r.code).toBe(0);
  });
});
