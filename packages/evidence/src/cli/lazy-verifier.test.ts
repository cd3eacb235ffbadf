/**
 * aaps-verify loads mpc-core's aggregation re-check (its groups, commitments and range proofs:
 * most of the package) only when a bundle calls for it: a worker thread, and the CLI given one
 * BUNDLE, start from `@aaps/mpc-core/verifier` alone. A bundle with an aggregation record is still
 * held to the re-check in full, wherever it is verified.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../statement.js';
import { CLI, DIST, ensureBuilt } from '../test-helpers/build-dist.js';
import { makeEd25519Key, makeLoggedBundles } from '../test-helpers/fixtures.js';
import { aggregationRecord, refFor } from '../test-helpers/pooled.js';
import { LazyVerifier } from './lazy-verifier.js';
import { MIN_FOR_WORKERS, type Outcome, setUpWorkers } from './verify-pool.js';
import { verifyStream } from './verify-stream.js';

/** mpc-core's protocol modules: none is needed to verify a bundle with no aggregation record. */
const PROTOCOL_MODULE =
  /\/mpc-core\/(dist|src)\/(aggregation|keygen|sign|sealing)\/|\/mpc-core\/dist\/index\.js$/;

const group = makeEd25519Key();
const record = aggregationRecord({ sessionId: 'inc-0.risk', values: [0, 10, 20, 30, 40] });
/** The same record with every output changed: its digest is what the quorum signed, its opening does not hold. */
const broken: JsonObject = {
  ...record,
  outputs: (record.outputs as JsonObject[]).map((o) => ({ ...o, value: '999' })),
};
let plain: string[];
let pooled: string;
let forged: string;
let dir: string;
let hook: string;

beforeAll(async () => {
  ensureBuilt();
  plain = (await makeLoggedBundles(MIN_FOR_WORKERS + 8, { group })).bundles.map((b) => JSON.stringify(b));
  pooled = JSON.stringify(
    (await makeLoggedBundles(1, { group, pooled: { record, ref: refFor(record, 16) } })).bundle,
  );
  // Two entries in its log, so its checkpoint is not another root for the pooled one's size.
  forged = JSON.stringify(
    (await makeLoggedBundles(2, { group, pooled: { record: broken, ref: refFor(broken, 100) } })).bundle,
  );
  dir = mkdtempSync(join(tmpdir(), 'aaps-lazy-'));
  // A module hook that writes each URL the process loads to the file named by AAPS_TEST_MODULES.
  writeFileSync(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function load(url, context, next) {\n' +
      "  appendFileSync(process.env.AAPS_TEST_MODULES, url + '\\n');\n" +
      '  return next(url, context);\n' +
      '}\n',
  );
  hook = join(dir, 'register.mjs');
  writeFileSync(
    hook,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
  );
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyHex = () => Buffer.from(group.publicKey).toString('hex');

/** aaps-verify on one bundle file: its exit code, stdout, and the modules it loaded. */
function verifyFile(name: string, text: string, extra: string[] = []) {
  const file = join(dir, `${name}.json`);
  const modules = join(dir, `${name}.modules`);
  writeFileSync(file, text);
  writeFileSync(modules, '');
  const r = spawnSync(process.execPath, ['--import', hook, CLI, file, '--key', keyHex(), ...extra], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, AAPS_TEST_MODULES: modules },
  });
  const loaded = readFileSync(modules, 'utf8').split('\n').filter(Boolean);
  return { code: r.status, out: r.stdout, err: r.stderr, loaded };
}

describe('aaps-verify BUNDLE', () => {
  it("verifies a bundle with no aggregation record without loading mpc-core's protocol modules", () => {
    const r = verifyFile('plain', plain[0]!);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.loaded.some((u) => u.endsWith('/mpc-core/dist/verifier.js'))).toBe(true);
    expect(r.loaded.filter((u) => PROTOCOL_MODULE.test(u))).toEqual([]);
  });

  it('loads the re-check for a bundle with a record, and passes one that holds', () => {
    const r = verifyFile('pooled', pooled, ['--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { checks: { check: string; status: string }[] };
    expect(report.checks.find((c) => c.check === 'aggregation')).toEqual({
      check: 'aggregation',
      status: 'pass',
    });
    expect(r.loaded.some((u) => /\/mpc-core\/dist\/aggregation\//.test(u))).toBe(true);
  });

  it('refuses a record whose digest was signed but whose opening does not hold', () => {
    const r = verifyFile('forged', forged, ['--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { failure: { check: string; message: string } };
    expect(report.failure.check).toBe('aggregation');
    expect(report.failure.message).toMatch(/^aggregation record does not re-check: /);
    expect(report.failure.message).not.toMatch(/not loaded/);
  });
});

describe('LazyVerifier', () => {
  it('gives the report of a verifier built with the re-check, before and after loading it', async () => {
    const lazy = new LazyVerifier({ groupPublicKey: group.publicKey });
    const first = await lazy.with((v) => v.verifier.report(JSON.parse(plain[1]!)));
    expect(first.valid).toBe(true);
    expect(lazy.loaded).toBe(false);
    const bad = await lazy.with((v) => v.verifier.report(JSON.parse(forged)));
    expect(lazy.loaded).toBe(true);
    expect(bad.failure?.check).toBe('aggregation');
    expect(bad.failure?.message).toMatch(/^aggregation record does not re-check: /);
    const good = await lazy.with((v) => v.verifier.report(JSON.parse(pooled)));
    expect(good.valid).toBe(true);
  });
});

describe('verify workers', () => {
  it('re-check each aggregation record they meet, loading the re-check on the first', async () => {
    // Plain bundles, then a forged record and a sound one, far enough in to reach the workers.
    const texts = [...plain, forged, pooled];
    const setup = { options: { groupPublicKey: group.publicKey }, detail: 'brief' as const };
    const started = Array.from({ length: 2 }, () => new Worker(`${DIST}cli/verify-worker.js`));
    setUpWorkers(started, setup);
    const seen: Array<string | null> = [];
    const emit = (o: Outcome | null) => {
      seen.push(
        o === null
          ? null
          : 'report' in o
            ? `${o.report.failure?.check}: ${o.report.failure?.message}`
            : o.unreadable,
      );
    };
    async function* chunks() {
      yield Buffer.from(`${texts.join('\n')}\n`);
    }
    const end = await verifyStream(setup.options, chunks(), emit, { jobs: 2, detail: 'brief', started });
    expect(end).toEqual({ count: texts.length });
    expect(seen.slice(0, plain.length)).toEqual(plain.map(() => null));
    expect(seen[plain.length]).toMatch(/^aggregation: aggregation record does not re-check: /);
    expect(seen[plain.length + 1]).toBeNull();
  }, 60_000);
});
