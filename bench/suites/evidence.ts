/**
 * Evidence: offline bundle verification (ours, and @sigstore/verify on the same bundles exported
 * to Sigstore, in the same run), log appends and log proofs on LevelDB.
 *
 * Bundles are written as the gateway writes them: a checkpoint signed after every 64 appends, so
 * 64 bundles share each checkpoint note. The comparable bundle has a 1-envelope transcript: 3
 * Ed25519 signatures (DSSE, the envelope's identity signature, the checkpoint), of which
 * @sigstore/verify checks the 2 it knows (DSSE, checkpoint). The real one has 6 envelopes.
 * Every verification starts from JSON text, for both verifiers, and no bundle is verified twice by
 * one verifier: only checkpoint signatures are memoized (once per 64 bundles).
 *
 * - `evidence.verify.offline` (the goal row): the default CLI path, `aaps-verify -` in its
 *   own process on a stream of STREAM comparable bundles with the default `--jobs`
 *   (os.availableParallelism() worker threads; the main thread reads and hands out), at the rate it prints: from
 *   the start of reading stdin (workers start meanwhile) to the last verdict.
 *   `evidence.verify.offline.wall` is the same runs timed from spawn to exit (node start and module
 *   loading included, about 0.15-0.2 s per run here); `evidence.verify.offline.cli-run` is one run.
 * - `evidence.verify.offline.1env.1thread`, `evidence.verify.offline.6env.1thread`: one thread,
 *   one bundle per op, a fresh verifier every 64 bundles (one checkpoint verification each).
 * - `evidence.verify.sigstore.1thread`: @sigstore/verify's `Verifier`, one thread, on the same
 *   comparable bundles exported to Sigstore bundles v0.3.
 * - `evidence.verify.sigstore.jobs<N>` and `evidence.verify.offline.lib.jobs<N>`: each verifier
 *   as a library on N warm worker threads (N = the default --jobs; started and warmed up before
 *   timing), the bundles split evenly: the like-for-like comparison on equal threads. The goal row
 *   pays what these do not: a fresh process, worker start-up, reading and splitting stdin.
 *   `*.workers-run` is one pass of those workers.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  attachLogEntry,
  type BundleVerifier,
  buildBundle,
  buildTrustedRoot,
  bundleLogLeaf,
  createBundleVerifier,
  ED25519_SUITE,
  type EvidenceBundle,
  type LogStore,
  type NoteKey,
  type TranscriptEnvelope,
  TransparencyLog,
  toSigstoreBundle,
} from '@aaps/evidence';
import { type Envelope, generateIdentityKey, signEnvelope } from '@aaps/mpc-core';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKey, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { Level } from 'level';
import type { SuiteContext } from '../harness.js';

const ORIGIN = 'aaps.bench/log';
/** Bundles per checkpoint (the writer coalesces checkpoints) and per fresh single-thread verifier. */
const GROUP = 64;
/** Comparable bundles in the stream the goal row verifies. */
const STREAM = 8192;
const REAL_BUNDLES = 1024;

function groupKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    sign: async (m: Uint8Array) => new Uint8Array(nodeSign(null, m, privateKey)),
  };
}

function memoryStore(): LogStore {
  const data = new Map<string, Uint8Array>();
  return {
    get: async (k) => data.get(k),
    batch: async (ops) => {
      for (const op of ops) {
        if (op.type === 'put') data.set(op.key, op.value);
        else data.delete(op.key);
      }
    },
  };
}

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function levelLog(): Promise<TransparencyLog> {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-bench-log-'));
  dirs.push(dir);
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  await db.open();
  // Synced batches, as the gateway's log store writes them (a power loss must not take back a tail
  // the parties witnessed).
  return TransparencyLog.open(
    {
      get: (k) => db.get(k),
      getMany: (ks) => db.getMany(ks),
      batch: (ops) => db.batch(ops, { sync: true }),
    },
    { origin: ORIGIN, cacheSize: 1024 },
  );
}

/**
 * `count` bundles with `transcriptLength`-envelope transcripts, logged and checkpointed in groups of
 * GROUP, as the gateway writes them. Exported for `test/bench-fixtures.test.ts`: each must be a
 * bundle `aaps-verify` accepts, or a row would time a verifier's refusal.
 */
export async function makeBundles(transcriptLength: number, count: number) {
  const group = groupKey();
  const parties = Array.from({ length: 5 }, (_, i) => ({ id: `party-${i + 1}`, key: generateIdentityKey() }));
  const gateway = generateIdentityKey();
  const roster = {
    parties: parties.map((p) => ({ id: p.id, identity_key: Buffer.from(p.key.publicKey).toString('hex') })),
    approvers: [],
    gateway_key: Buffer.from(gateway.publicKey).toString('hex'),
  };
  const log = await TransparencyLog.open(memoryStore(), { origin: ORIGIN });
  const logKey: NoteKey = { name: ORIGIN, type: 'ed25519', publicKey: group.publicKey };
  const bundles: EvidenceBundle[] = [];
  for (let base = 0; base < count; base += GROUP) {
    const unlogged: EvidenceBundle[] = [];
    for (let n = base; n < Math.min(count, base + GROUP); n++) {
      const transcript: TranscriptEnvelope[] = [];
      for (let i = 0; i < transcriptLength; i++) {
        const p = parties[i % parties.length]!;
        const env: Envelope = {
          meta: {
            trace_id: `trace-${n}`,
            span_id: `span-${i}`,
            timestamp: '2026-11-25T15:00:00Z',
            source_agent: p.id,
            target_agent: 'gateway',
            message_type: 'RCAReport',
            schema_version: 'v1.0.0',
            idempotency_key: `idem-${n}-${i}`,
          },
          context: { namespace: 'payments', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy/v1' },
          payload: { finding: 'configmap key missing', confidence: 0.92, step: i },
        };
        transcript.push(signEnvelope(env, p.key.secretKey));
      }
      unlogged.push(
        await buildBundle(
          {
            incident: { id: `inc-${n}`, type: 'config_validation_failed' },
            decision: { outcome: 'approved' },
            // Decided, not executed: no action (the predicate's action is what executed, and
            // `transcript.outcome` holds it to the transcript's ExecutionResult), and no
            // verification (or any step of an execution), which would need the ExecutionOrder
            // that approved it (approval.signature).
            action: null,
            humanApprovals: [],
            verification: null,
            times: { received: '2026-11-25T15:00:00Z', signed: '2026-11-25T15:02:00Z' },
            transcript,
            ciphersuite: ED25519_SUITE,
            groupPublicKey: group.publicKey,
            threshold: { min: 3, max: 5 },
            signers: parties.slice(0, 3).map((p) => p.id),
            roster,
          },
          group.sign,
        ),
      );
    }
    const indexes = await Promise.all(unlogged.map((b) => log.append(bundleLogLeaf(b))));
    await log.signCheckpoint(logKey, group.sign);
    for (const [i, b] of unlogged.entries()) bundles.push(attachLogEntry(b, await log.position(indexes[i]!)));
  }
  return { group, logKey, bundles, texts: bundles.map((b) => JSON.stringify(b)) };
}

type Fixture = Awaited<ReturnType<typeof makeBundles>>;

/** Build each fixture once, on first use (only when one of its rows is selected). */
function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make();
    return made;
  };
}

function sigstoreParts(fx: Fixture) {
  const root = JSON.parse(
    JSON.stringify(
      buildTrustedRoot({
        groupPublicKey: fx.group.publicKey,
        threshold: { min: 3, max: 5 },
        logKey: fx.logKey,
        origin: ORIGIN,
        validFrom: '2026-01-01T00:00:00Z',
      }),
    ),
  );
  return { root, exported: fx.bundles.map((b) => JSON.stringify(toSigstoreBundle(b, fx.logKey))) };
}

// biome-ignore lint/suspicious/noExplicitAny: the trusted root is plain JSON handed to sigstore's decoders
function sigstoreVerifier(root: any): (text: string) => unknown {
  const trust = toTrustMaterial(TrustedRoot.fromJSON(root), {
    [root.aaps.groupKey.hint]: PublicKey.fromJSON(root.aaps.groupKey.publicKey),
  });
  const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 });
  return (text) => verifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(text))));
}

// This module is also the bench's verify worker (ours or @sigstore/verify's): each time it is
// told to, it verifies its share of the bundles (ours with one fresh verifier a pass, as each
// aaps-verify thread has one a stream) and says when it is done.
const VERIFY_WORKER = 'aaps-bench-verify-worker';
interface WorkerSetup {
  role: typeof VERIFY_WORKER;
  impl: 'ours' | 'sigstore';
  texts: string[];
  root?: unknown;
  groupPublicKey?: Uint8Array;
}
if (!isMainThread && (workerData as { role?: string } | null)?.role === VERIFY_WORKER) {
  const setup = workerData as WorkerSetup;
  let pass: () => void;
  if (setup.impl === 'sigstore') {
    const verify = sigstoreVerifier(setup.root);
    pass = () => {
      for (const t of setup.texts) verify(t);
    };
  } else {
    pass = () => {
      const verifier = createBundleVerifier({ groupPublicKey: setup.groupPublicKey! });
      for (const t of setup.texts)
        if (!verifier.report(JSON.parse(t)).valid) throw new Error('invalid bundle');
    };
  }
  parentPort?.on('message', () => {
    pass();
    parentPort?.postMessage('done');
  });
}

/** Rows that verify the STREAM bundles on `jobs` warm worker threads, one pass per op. */
function addWorkerRows(
  ctx: SuiteContext,
  impl: 'ours' | 'sigstore',
  jobs: number,
  texts: () => Promise<{ texts: string[]; root?: unknown; groupPublicKey?: Uint8Array }>,
): void {
  const msPerBundle: number[] = [];
  let workers: Worker[] = [];
  const [name, tag] =
    impl === 'sigstore'
      ? ['evidence.verify.sigstore', 'sigstore' as const]
      : ['evidence.verify.offline.lib', 'mpc-core' as const];
  ctx.add(
    `${name}.workers-run`,
    tag,
    async () => {
      const started = performance.now();
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', () => resolve());
              w.once('error', reject);
              w.postMessage('run');
            }),
        ),
      );
      msPerBundle.push((performance.now() - started) / STREAM);
    },
    {
      iterations: 4,
      time: 1,
      unitsPerOp: STREAM,
      setup: async () => {
        const input = await texts();
        const share = Math.ceil(input.texts.length / jobs);
        workers = Array.from({ length: jobs }, (_, w) => {
          const setup: WorkerSetup = {
            role: VERIFY_WORKER,
            impl,
            texts: input.texts.slice(w * share, (w + 1) * share),
          };
          if (input.root !== undefined) setup.root = input.root;
          if (input.groupPublicKey !== undefined) setup.groupPublicKey = input.groupPublicKey;
          return new Worker(new URL(import.meta.url), { workerData: setup });
        });
        await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
      },
      teardown: async () => {
        await Promise.all(workers.map((w) => w.terminate()));
        workers = [];
      },
    },
  );
  // tinybench's two warm-up runs are in the samples too: keep the last four (the measured ones).
  ctx.measured(`${name}.jobs${jobs}`, tag, () => msPerBundle.slice(-4));
}

/** The aaps-verify executable, as npm links it (the package's `bin`). */
function aapsVerifyPath(): string {
  const pkg = fileURLToPath(import.meta.resolve('@aaps/evidence/package.json'));
  return join(dirname(pkg), 'dist', 'cli', 'aaps-verify.js');
}

/** Run `aaps-verify - --key HEX` on `input`; resolves with its exit code and what it printed. */
function runAapsVerify(cli: string, keyHex: string, input: Buffer): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, '-', '--key', keyHex], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(chunks).toString() }));
    child.stdin.end(input);
  });
}

export async function register(ctx: SuiteContext): Promise<void> {
  const { add, ratio, measured } = ctx;
  const jobs = availableParallelism();
  const comparable = lazy(() => makeBundles(1, STREAM));
  const real = lazy(() => makeBundles(6, REAL_BUNDLES));
  // The comparable bundles exported to Sigstore, and its trusted root: made once for both rows.
  const sigstore = lazy(async () => sigstoreParts(await comparable()));

  for (const [name, fixture] of [
    ['evidence.verify.offline.1env.1thread', comparable],
    ['evidence.verify.offline.6env.1thread', real],
  ] as const) {
    let fx: Fixture | undefined;
    let verifier: BundleVerifier | undefined;
    let i = 0;
    add(
      name,
      'mpc-core',
      () => {
        const k = i++ % fx!.texts.length;
        if (k % GROUP === 0) verifier = createBundleVerifier({ groupPublicKey: fx!.group.publicKey });
        const report = verifier!.report(JSON.parse(fx!.texts[k]!));
        if (!report.valid)
          throw new Error(
            `${name}: bundle ${k} did not verify: ${report.failure?.check}: ${report.failure?.message}`,
          );
      },
      {
        time: 1500,
        setup: async () => {
          fx = await fixture();
          i = 0;
        },
      },
    );
  }

  let sigstoreOne: ((text: string) => unknown) | undefined;
  let exported: string[] = [];
  let j = 0;
  add('evidence.verify.sigstore.1thread', 'sigstore', () => sigstoreOne!(exported[j++ % exported.length]!), {
    time: 1500,
    setup: async () => {
      const parts = await sigstore();
      sigstoreOne = sigstoreVerifier(parts.root);
      exported = parts.exported;
    },
  });

  // The goal row: the default CLI path, one process per run. It reports the time aaps-verify
  // prints (from reading stdin to the last verdict); `.wall` adds process start and module loading.
  const printedMsPerBundle: number[] = [];
  const wallMsPerBundle: number[] = [];
  let stream: Buffer | undefined;
  let keyHex = '';
  const cli = aapsVerifyPath();
  add(
    'evidence.verify.offline.cli-run',
    'mpc-core',
    async () => {
      const started = performance.now();
      const { code, out } = await runAapsVerify(cli, keyHex, stream!);
      const wall = performance.now() - started;
      const summary = /^(\d+) bundles: \1 valid, 0 invalid in ([\d.]+) s /m.exec(out);
      if (code !== 0 || summary === null || Number(summary[1]) !== STREAM) {
        throw new Error(`aaps-verify exited ${code}: ${out.slice(-200)}`);
      }
      printedMsPerBundle.push((Number(summary[2]) * 1000) / STREAM);
      wallMsPerBundle.push(wall / STREAM);
    },
    {
      iterations: 4,
      time: 1,
      unitsPerOp: STREAM,
      setup: async () => {
        const fx = await comparable();
        stream = Buffer.from(`${fx.texts.join('\n')}\n`);
        keyHex = Buffer.from(fx.group.publicKey).toString('hex');
      },
    },
  );
  // tinybench's two warm-up runs are in the samples too: keep the last four (the measured ones).
  measured('evidence.verify.offline', 'mpc-core', () => printedMsPerBundle.slice(-4));
  measured('evidence.verify.offline.wall', 'mpc-core', () => wallMsPerBundle.slice(-4));

  addWorkerRows(ctx, 'ours', jobs, async () => {
    const fx = await comparable();
    return { texts: fx.texts, groupPublicKey: fx.group.publicKey };
  });
  addWorkerRows(ctx, 'sigstore', jobs, async () => {
    const parts = await sigstore();
    return { texts: parts.exported, root: parts.root };
  });

  ratio({
    label: `evidence.verify.offline (aaps-verify stream, ${jobs} threads) vs @sigstore/verify 1 thread (goal: 2x faster)`,
    numerator: { name: 'evidence.verify.offline', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore.1thread', impl: 'sigstore' },
    goal: 0.5,
  });
  ratio({
    label: `evidence.verify.offline.wall (whole aaps-verify process, ${jobs} threads) vs @sigstore/verify 1 thread`,
    numerator: { name: 'evidence.verify.offline.wall', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore.1thread', impl: 'sigstore' },
  });
  ratio({
    label: `evidence.verify.offline (${jobs} threads) vs @sigstore/verify on ${jobs} workers`,
    numerator: { name: 'evidence.verify.offline', impl: 'mpc-core' },
    denominator: { name: `evidence.verify.sigstore.jobs${jobs}`, impl: 'sigstore' },
  });
  ratio({
    label: `evidence.verify.offline.lib on ${jobs} warm workers vs @sigstore/verify on ${jobs} warm workers`,
    numerator: { name: `evidence.verify.offline.lib.jobs${jobs}`, impl: 'mpc-core' },
    denominator: { name: `evidence.verify.sigstore.jobs${jobs}`, impl: 'sigstore' },
  });
  ratio({
    label: 'evidence.verify.offline.1env.1thread vs @sigstore/verify 1 thread',
    numerator: { name: 'evidence.verify.offline.1env.1thread', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore.1thread', impl: 'sigstore' },
  });
  ratio({
    label: 'evidence.verify.offline.6env.1thread vs @sigstore/verify 1 thread (on the 1-envelope export)',
    numerator: { name: 'evidence.verify.offline.6env.1thread', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore.1thread', impl: 'sigstore' },
  });

  const leaf = new TextEncoder().encode(
    JSON.stringify({ apiVersion: '0.0.1', kind: 'dsse', spec: { pad: 'x'.repeat(200) } }),
  );
  let appendLog: TransparencyLog | undefined;
  add('evidence.log.append', 'mpc-core', () => appendLog!.append(leaf), {
    setup: async () => {
      appendLog = await levelLog();
    },
  });
  add(
    'evidence.log.append.x64',
    'mpc-core',
    () => Promise.all(Array.from({ length: 64 }, () => appendLog!.append(leaf))),
    {
      setup: async () => {
        appendLog = await levelLog();
      },
    },
  );

  let proofLog: TransparencyLog | undefined;
  const PROOF_SIZE = 1 << 16;
  add(
    'evidence.log.proof',
    'mpc-core',
    () => proofLog!.inclusionProof(Math.floor(Math.random() * PROOF_SIZE)),
    {
      setup: async () => {
        proofLog = await levelLog();
        for (let done = 0; done < PROOF_SIZE; done += 1024) {
          await Promise.all(Array.from({ length: 1024 }, () => proofLog!.append(leaf)));
        }
      },
    },
  );
}
