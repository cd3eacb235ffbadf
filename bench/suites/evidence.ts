/**
 * Evidence: offline bundle verification (ours, and @sigstore/verify on the same bundles exported
 * to Sigstore, in the same run), log appends and log proofs on LevelDB.
 *
 * `evidence.verify.offline` verifies a realistic bundle: a 6-envelope transcript, so 7 Ed25519
 * signatures per bundle (DSSE + 6 identity signatures; the shared checkpoint is verified once and
 * cached). `evidence.verify.offline.1env` has a 1-envelope transcript: the same signature count as
 * what @sigstore/verify checks (DSSE + checkpoint), the comparable bundle. Every op starts from
 * JSON text, for both verifiers.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  attachLogEntry,
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
const BUNDLES = 64;

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
  return TransparencyLog.open(
    { get: (k) => db.get(k), getMany: (ks) => db.getMany(ks), batch: (ops) => db.batch(ops) },
    { origin: ORIGIN, cacheSize: 1024 },
  );
}

async function makeBundles(transcriptLength: number) {
  const group = groupKey();
  const parties = Array.from({ length: 5 }, (_, i) => ({ id: `party-${i + 1}`, key: generateIdentityKey() }));
  const gateway = generateIdentityKey();
  const roster = {
    parties: parties.map((p) => ({ id: p.id, identity_key: Buffer.from(p.key.publicKey).toString('hex') })),
    approvers: [],
    gateway_key: Buffer.from(gateway.publicKey).toString('hex'),
  };
  const log = await TransparencyLog.open(memoryStore(), { origin: ORIGIN });
  const unlogged: EvidenceBundle[] = [];
  for (let n = 0; n < BUNDLES; n++) {
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
          action: { kind: 'configmap_reload' },
          humanApprovals: [],
          verification: { healthy: true },
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
  const logKey: NoteKey = { name: ORIGIN, type: 'ed25519', publicKey: group.publicKey };
  await log.signCheckpoint(logKey, group.sign);
  const bundles = await Promise.all(
    unlogged.map(async (b, i) => attachLogEntry(b, await log.position(indexes[i]!))),
  );
  return { group, logKey, bundles };
}

export async function register(ctx: SuiteContext): Promise<void> {
  const { add, ratio } = ctx;

  for (const [name, length] of [
    ['evidence.verify.offline', 6],
    ['evidence.verify.offline.1env', 1],
  ] as const) {
    const { group, logKey, bundles } = await makeBundles(length);
    const texts = bundles.map((b) => JSON.stringify(b));
    const verifier = createBundleVerifier({ groupPublicKey: group.publicKey, logKeys: [logKey] });
    let i = 0;
    add(name, 'mpc-core', () => verifier.verify(JSON.parse(texts[i++ % texts.length]!)), { time: 1500 });

    if (length === 1) {
      const root = JSON.parse(
        JSON.stringify(
          buildTrustedRoot({
            groupPublicKey: group.publicKey,
            threshold: { min: 3, max: 5 },
            logKey,
            origin: ORIGIN,
            validFrom: '2026-01-01T00:00:00Z',
          }),
        ),
      );
      const trust = toTrustMaterial(TrustedRoot.fromJSON(root), {
        [root.aaps.groupKey.hint]: PublicKey.fromJSON(root.aaps.groupKey.publicKey),
      });
      const sigstore = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 });
      const exported = bundles.map((b) => JSON.stringify(toSigstoreBundle(b, logKey)));
      let j = 0;
      add(
        'evidence.verify.sigstore',
        'sigstore',
        () => sigstore.verify(toSignedEntity(bundleFromJSON(JSON.parse(exported[j++ % exported.length]!)))),
        { time: 1500 },
      );
    }
  }

  ratio({
    label: 'evidence.verify.offline.1env vs @sigstore/verify, same signature count (goal: 2x faster)',
    numerator: { name: 'evidence.verify.offline.1env', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore', impl: 'sigstore' },
    goal: 0.5,
  });
  ratio({
    label: 'evidence.verify.offline (6-envelope transcript) vs @sigstore/verify',
    numerator: { name: 'evidence.verify.offline', impl: 'mpc-core' },
    denominator: { name: 'evidence.verify.sigstore', impl: 'sigstore' },
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
