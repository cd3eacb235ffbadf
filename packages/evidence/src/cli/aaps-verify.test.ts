import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachLogEntry, buildBundle, bundleLogLeaf } from '../bundle/build.js';
import { encodeBundleCbor } from '../bundle/codec.js';
import type { EvidenceBundle } from '../bundle/types.js';
import { ED25519_SUITE, ed25519Pem, SECP256K1_TR_SUITE } from '../keys.js';
import { TransparencyLog } from '../log.js';
import { CLI, ensureBuilt } from '../test-helpers/build-dist.js';
import {
  frostSigner,
  type LoggedFixture,
  logBundles,
  MemoryStore,
  makeApprovedInput,
  makeEd25519Key,
  makeInput,
  makeLoggedBundles,
  makeRoster,
  noteKeyFor,
  ORIGIN,
  trustedRootFor,
} from '../test-helpers/fixtures.js';
import { splitJsonValues } from './json-stream.js';

let dir: string;
let fx: LoggedFixture;
let keyHex: string;

function run(args: string[], input?: string): { code: number | null; out: string[]; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout.split('\n').filter((l) => l.length > 0), err: r.stderr };
}

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function tamper(bundle: EvidenceBundle, edit: (b: EvidenceBundle) => void): EvidenceBundle {
  const copy = structuredClone(bundle);
  edit(copy);
  return copy;
}

const flipB64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  b[3]! ^= 0x10;
  return b.toString('base64');
};

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'aaps-verify-'));
  fx = await makeLoggedBundles(3);
  keyHex = Buffer.from(fx.group.publicKey).toString('hex');
  for (const [i, b] of fx.bundles.entries()) write(`bundle-${i}.json`, JSON.stringify(b, null, 2));
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aaps-verify', () => {
  it('exits 0 for a valid bundle with --key as hex, hex file or PEM file', () => {
    const bundle = join(dir, 'bundle-0.json');
    const hexFile = write('key.hex', `${keyHex}\n`);
    const pemFile = write('key.pem', ed25519Pem(fx.group.publicKey));
    for (const key of [keyHex, hexFile, pemFile]) {
      const r = run([bundle, '--key', key]);
      expect(r.code).toBe(0);
      expect(r.out).toEqual(['valid: incident/inc-0 (log index 0), outcome: not stated']);
    }
  });

  it('runs through a symlink, as node_modules/.bin/aaps-verify', () => {
    const link = join(dir, 'aaps-verify');
    symlinkSync(CLI, link);
    const r = spawnSync(process.execPath, [link, join(dir, 'bundle-0.json'), '--key', keyHex], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('valid: incident/inc-0 (log index 0), outcome: not stated');
  });

  it('takes the key, log key and roster from --trusted-root', () => {
    const root = trustedRootFor(fx);
    const path = write('trusted_root.json', JSON.stringify(root));
    expect(run([join(dir, 'bundle-1.json'), '--trusted-root', path]).code).toBe(0);
    expect(run([join(dir, 'bundle-1.json'), '--trusted-root', path, '--key', keyHex]).code).toBe(0);
    const other = Buffer.from(makeEd25519Key().publicKey).toString('hex');
    expect(run([join(dir, 'bundle-1.json'), '--trusted-root', path, '--key', other]).code).toBe(2);
  });

  it('exits 1 with one line naming the failed check', () => {
    const cases: Array<[string, (b: EvidenceBundle) => void]> = [
      [
        'dsse.signature',
        (b) => (b.dsseEnvelope.signatures[0]!.sig = flipB64(b.dsseEnvelope.signatures[0]!.sig)),
      ],
      ['dsse.signature', (b) => (b.dsseEnvelope.payload = flipB64(b.dsseEnvelope.payload))],
      ['statement.subject', (b) => ((b.transcript[1]!.payload as { step: number }).step = 99)],
      ['signers.threshold', (b) => b.verificationMaterial.signers.reverse()],
      [
        'log.checkpoint',
        (b) => (b.transparencyLog!.checkpoint = b.transparencyLog!.checkpoint.replace('\n3\n', '\n4\n')),
      ],
      ['log.inclusion', (b) => (b.transparencyLog!.logIndex = 2)],
      ['bundle.format', (b) => ((b as { mediaType: string }).mediaType = 'application/json')],
    ];
    for (const [check, edit] of cases) {
      const path = write(`tampered-${check}.json`, JSON.stringify(tamper(fx.bundle, edit)));
      const r = run([path, '--key', keyHex]);
      expect({ check, code: r.code }).toEqual({ check, code: 1 });
      expect(r.out).toHaveLength(1);
      expect(r.out[0]!.startsWith(`invalid: ${check}: `)).toBe(true);
    }
    const other = Buffer.from(makeEd25519Key().publicKey).toString('hex');
    const r = run([join(dir, 'bundle-0.json'), '--key', other]);
    expect(r.code).toBe(1);
    expect(r.out[0]!.startsWith('invalid: dsse.keyid: ')).toBe(true);
  });

  it('prints every check with --json', () => {
    const r = run([join(dir, 'bundle-2.json'), '--key', keyHex, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out.join('\n'));
    expect(report.valid).toBe(true);
    expect(report.checks.map((c: { check: string; status: string }) => `${c.check}:${c.status}`)).toEqual([
      'bundle.format:pass',
      'dsse.keyid:pass',
      'dsse.signature:pass',
      'statement.format:pass',
      'statement.subject:pass',
      'transcript.signature:pass',
      'approval.signature:skip',
      'transcript.authority:pass',
      'transcript.outcome:pass',
      'signers.threshold:pass',
      'aggregation:skip',
      'log.checkpoint:pass',
      'log.inclusion:pass',
      'log.consistency:skip',
    ]);
    const bad = write('bad.json', JSON.stringify(tamper(fx.bundle, (b) => b.transcript.pop())));
    const failed = run([bad, '--key', keyHex, '--json']);
    expect(failed.code).toBe(1);
    const failedReport = JSON.parse(failed.out.join('\n'));
    expect(failedReport.failure.check).toBe('statement.subject');
    expect(failedReport.checks.find((c: { check: string }) => c.check === 'log.inclusion').status).toBe(
      'not_run',
    );
  });

  it('exits 2 for usage errors and unreadable input', () => {
    const bundle = join(dir, 'bundle-0.json');
    expect(run([bundle]).code).toBe(2);
    expect(run([]).code).toBe(2);
    expect(run([bundle, '--key', keyHex, '--frobnicate']).code).toBe(2);
    expect(run([join(dir, 'missing.json'), '--key', keyHex]).code).toBe(2);
    expect(run([write('garbage.json', '{ not json'), '--key', keyHex]).code).toBe(2);
    expect(run([bundle, '--key', 'not-a-key']).code).toBe(2);
    expect(run([bundle, '--key', keyHex, '--trusted-root', join(dir, 'nope.json')]).code).toBe(2);
    // A stream or a directory starts its worker threads before the arguments are checked: a usage
    // error still ends the process at once, with the usage line.
    for (const target of ['-', dir]) {
      const out = run([target, '--jobs', '3']);
      expect(out.code).toBe(2);
      expect(out.err).toMatch(/a trusted group key is required/);
    }
  });

  it('verifies a FROST secp256k1-TR bundle given its 33-byte key', async () => {
    const group = frostSigner(SECP256K1_TR_SUITE, 2, 3);
    const r3 = makeRoster(3);
    const input = makeInput(group, r3, {
      ciphersuite: SECP256K1_TR_SUITE,
      threshold: { min: 2, max: 3 },
      signers: r3.roster.parties.slice(0, 2).map((p) => p.id),
    });
    const bundle = await buildBundle(input, group.sign);
    const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
    const index = await log.append(bundleLogLeaf(bundle));
    await log.signCheckpoint({ name: ORIGIN, type: 'bip340', publicKey: group.publicKey }, group.sign);
    const path = write('tr.json', JSON.stringify(attachLogEntry(bundle, await log.position(index))));
    const trKey = Buffer.from(group.publicKey).toString('hex');
    expect(trKey).toHaveLength(66);
    const r = run([path, '--key', trKey]);
    expect(r.code).toBe(0);
    expect(run([path, '--key', keyHex]).out[0]!.startsWith('invalid: dsse.keyid: ')).toBe(true);
  });

  it("checks the executed action's k-of-n approval, naming approval.signature in the line and in --json", async () => {
    const group = frostSigner(ED25519_SUITE, 3, 5);
    const r5 = makeRoster(5);
    const approvedBundle = async (edit?: (o: { approval: Record<string, unknown> }) => void) => {
      const input = await makeApprovedInput(group, r5, edit === undefined ? {} : { editOrder: edit });
      const [logged] = await logBundles([await buildBundle(input, group.sign)], group);
      return logged!;
    };
    const key = Buffer.from(group.publicKey).toString('hex');
    const good = write('approved.json', JSON.stringify(await approvedBundle()));
    expect(run([good, '--key', key])).toMatchObject({
      code: 0,
      out: ['valid: incident/inc-approved (log index 0), outcome: not stated'],
    });
    const pass = JSON.parse(run([good, '--key', key, '--json']).out.join('\n'));
    expect(pass.checks.find((c: { check: string }) => c.check === 'approval.signature')).toEqual({
      check: 'approval.signature',
      status: 'pass',
    });
    const forged = write(
      'approved-forged.json',
      JSON.stringify(
        await approvedBundle((o) => {
          o.approval.signature = '07'.repeat(64);
        }),
      ),
    );
    const bad = run([forged, '--key', key]);
    expect(bad.code).toBe(1);
    expect(bad.out).toEqual([
      'invalid: approval.signature: ExecutionOrder transcript[5]: the approval signature does not verify under the group key over {domain: aaps.approval.v1, proposal}',
    ]);
    const json = JSON.parse(run([forged, '--key', key, '--json']).out.join('\n'));
    expect(json.failure).toEqual({
      check: 'approval.signature',
      message: expect.stringContaining('does not verify'),
      details: { index: 5 },
    });
    expect(json.checks.find((c: { check: string }) => c.check === 'signers.threshold').status).toBe(
      'not_run',
    );
  });

  it('reads CBOR bundles', () => {
    const path = write('bundle.cbor', encodeBundleCbor(fx.bundle));
    expect(run([path, '--key', keyHex]).code).toBe(0);
  });

  it('checks consistency with an older checkpoint file (bare note or with a proof)', async () => {
    const older = (await fx.log.latestCheckpoint())!;
    await fx.log.append(new TextEncoder().encode('later leaf'));
    const newer = await fx.log.signCheckpoint(noteKeyFor(fx.group), fx.group.sign);
    const refreshed = attachLogEntry(fx.bundles[0]!, await fx.log.position(0));
    const bundle = write('refreshed.json', JSON.stringify(refreshed));
    const proof = (await fx.log.consistencyProof(older.size, newer.size)).map((h) =>
      Buffer.from(h).toString('hex'),
    );
    const withProof = write(
      'older.json',
      JSON.stringify({
        checkpoint: older.note,
        consistency: { first: older.size, second: newer.size, hashes: proof },
      }),
    );
    expect(run([bundle, '--key', keyHex, '--checkpoint', withProof]).code).toBe(0);
    const bare = write('older.note', older.note);
    const r = run([bundle, '--key', keyHex, '--checkpoint', bare]);
    expect(r.code).toBe(1);
    expect(r.out[0]!.startsWith('invalid: log.consistency: ')).toBe(true);
    expect(run([join(dir, 'bundle-0.json'), '--key', keyHex, '--checkpoint', bare]).code).toBe(0);
    // A list of proofs serves bundles under several checkpoints (here: the older and the newer).
    const sub = join(dir, 'two-checkpoints');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.json'), JSON.stringify(refreshed));
    writeFileSync(join(sub, 'b.json'), JSON.stringify(fx.bundles[0]));
    const listed = write(
      'older-list.json',
      JSON.stringify({
        checkpoint: older.note,
        consistency: [{ first: older.size, second: newer.size, hashes: proof }],
      }),
    );
    expect(run([sub, '--key', keyHex, '--checkpoint', listed]).code).toBe(0);
    const wrongSizes = write(
      'older-wrong.json',
      JSON.stringify({
        checkpoint: older.note,
        consistency: [{ first: older.size, second: newer.size + 1, hashes: proof }],
      }),
    );
    const w = run([sub, '--key', keyHex, '--checkpoint', wrongSizes]);
    expect(w.code).toBe(1);
    expect(w.out[0]).toMatch(/^a\.json: invalid: log\.consistency: no consistency proof from tree size/);
    const empty = write('older-empty.json', JSON.stringify({ checkpoint: older.note, consistency: [] }));
    expect(run([sub, '--key', keyHex, '--checkpoint', empty]).code).toBe(2);
  });

  it('verifies a directory and ends with the count and the rate', () => {
    const sub = join(dir, 'many');
    mkdirSync(sub);
    for (const [i, b] of fx.bundles.entries()) writeFileSync(join(sub, `b${i}.json`), JSON.stringify(b));
    let r = run([sub, '--key', keyHex]);
    expect(r.code).toBe(0);
    expect(r.out.at(-1)).toMatch(/^3 bundles: 3 valid, 0 invalid in [\d.]+ s \(\d+ bundles\/s\)$/);
    writeFileSync(join(sub, 'z-bad.json'), JSON.stringify(tamper(fx.bundle, (b) => b.transcript.reverse())));
    r = run([sub, '--key', keyHex]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^z-bad\.json: invalid: statement\.subject: /);
    writeFileSync(join(sub, 'zz-garbage.json'), 'nope');
    r = run([sub, '--key', keyHex, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out.at(-1)!).summary).toMatchObject({
      count: 5,
      valid: 3,
      invalid: 1,
      unreadable: 1,
    });
  });

  it('spreads a large directory over worker threads and reports in input order', () => {
    const sub = join(dir, 'large');
    mkdirSync(sub);
    for (let i = 0; i < 96; i++) {
      writeFileSync(join(sub, `b${String(i).padStart(3, '0')}.json`), JSON.stringify(fx.bundles[i % 3]));
    }
    const bad = (b: EvidenceBundle) =>
      (b.dsseEnvelope.signatures[0]!.sig = flipB64(b.dsseEnvelope.signatures[0]!.sig));
    writeFileSync(join(sub, 'b010.json'), JSON.stringify(tamper(fx.bundle, bad)));
    writeFileSync(join(sub, 'b070.json'), JSON.stringify(tamper(fx.bundle, bad)));
    for (const jobs of ['1', '2']) {
      const r = run([sub, '--key', keyHex, '--jobs', jobs]);
      expect(r.code).toBe(1);
      expect(r.out.slice(0, 2).map((l) => l.split(':')[0])).toEqual(['b010.json', 'b070.json']);
      expect(r.out.at(-1)).toMatch(/^96 bundles: 94 valid, 2 invalid in /);
    }
    expect(run([sub, '--key', keyHex, '--jobs', '0']).code).toBe(2);
  });

  it('verifies a stream of bundles on stdin', () => {
    const ndjson = fx.bundles.map((b) => JSON.stringify(b)).join('\n');
    let r = run(['-', '--key', keyHex], ndjson);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^3 bundles: 3 valid, 0 invalid in /);
    const pretty = fx.bundles.map((b) => JSON.stringify(b, null, 2)).join('\n\n');
    expect(run(['-', '--key', keyHex], pretty).code).toBe(0);
    const bad = JSON.stringify(
      tamper(fx.bundle, (b) => (b.dsseEnvelope.payload = flipB64(b.dsseEnvelope.payload))),
    );
    r = run(['-', '--key', keyHex], `${ndjson}\n${bad}\n`);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^stdin#4: invalid: dsse\.signature: /);
  });
});

describe('aaps-verify on many threads', () => {
  it('gives a stream the same lines, verdicts and exit code on any number of threads', () => {
    const bad = (b: EvidenceBundle) =>
      (b.dsseEnvelope.signatures[0]!.sig = flipB64(b.dsseEnvelope.signatures[0]!.sig));
    // Longer than the head a stream splits before its workers start (256), with failures on
    // both sides of it.
    const tampered = new Set([17, 140, 300, 590]);
    const items = Array.from({ length: 600 }, (_, i) => ({
      text: tampered.has(i)
        ? JSON.stringify(tamper(fx.bundles[i % 3]!, bad))
        : JSON.stringify(fx.bundles[i % 3]),
      fails: tampered.has(i),
    }));
    items.splice(90, 0, { text: 'not json', fails: true });
    items.splice(400, 0, { text: 'not json', fails: true });
    const input = `${items.map((x) => x.text).join('\n')}\n`;
    const failing = items.flatMap((x, i) => (x.fails ? [`stdin#${i + 1}`] : []));
    // With 4 threads the head (four batches) leaves the third worker nothing until the rest is split.
    // The default (one thread a core) is one of the four listed on a machine of four cores or fewer.
    const runs = [
      ['--jobs', '1'],
      ['--jobs', '2'],
      ['--jobs', '3'],
      ['--jobs', '4'],
    ];
    if (availableParallelism() > 4) runs.push([]);
    const outputs = runs.map((jobs) => {
      const text = run(['-', '--key', keyHex, ...jobs], input);
      const json = run(['-', '--key', keyHex, '--json', ...jobs], input);
      const lines = json.out.map((l) => JSON.parse(l) as { summary?: Record<string, unknown> });
      const summary = lines.pop()!.summary!;
      return { code: [text.code, json.code], text: text.out.slice(0, -1), lines, count: summary.count };
    });
    expect(outputs[0]!.code).toEqual([2, 2]);
    expect(failing).toHaveLength(6);
    expect(outputs[0]!.text.map((l) => l.split(':')[0])).toEqual(failing);
    expect(outputs[0]!.lines).toHaveLength(602);
    expect(outputs[0]!.count).toBe(602);
    for (const o of outputs.slice(1)) expect(o).toEqual(outputs[0]);
  });
});

describe('aaps-verify - as the stream arrives', () => {
  it("prints an invalid bundle's line while the writer still holds stdin open, on workers", async () => {
    const child = spawn(process.execPath, [CLI, '-', '--key', keyHex, '--jobs', '2'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let seen: () => void = () => {};
    const invalidLine = new Promise<void>((resolve) => {
      seen = resolve;
    });
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (/^stdin#81: invalid: dsse\.signature/m.test(out)) seen();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const valid = fx.bundles.map((b) => JSON.stringify(b));
    const bad = JSON.stringify(
      tamper(fx.bundles[0]!, (b) => {
        b.dsseEnvelope.signatures[0]!.sig = flipB64(b.dsseEnvelope.signatures[0]!.sig);
      }),
    );
    // 80 valid bundles (workers start from 64), then an invalid one; stdin stays open.
    child.stdin.write(
      `${Array.from({ length: 80 }, (_, i) => valid[i % valid.length]).join('\n')}\n${bad}\n`,
    );
    await invalidLine;
    child.stdin.end(`${valid[0]}\n`);
    expect(await exited).toBe(1);
    expect(out.trim().split('\n').at(-1)).toMatch(/^82 bundles: 81 valid, 1 invalid in /);
  }, 60_000);
});

describe('splitJsonValues', () => {
  const split = (text: string) => {
    const bytes = Buffer.from(text);
    return [...splitJsonValues(bytes)].map((r) =>
      'error' in r ? r : { text: bytes.subarray(r.start, r.end).toString() },
    );
  };

  it('splits NDJSON and pretty JSON, strings with braces included, and reports stray text', () => {
    expect(split('{"a":"}{"}\n{\n "b": [1, {"c": "\\"}"}]\n}\nxx\n{"d":1')).toEqual([
      { text: '{"a":"}{"}' },
      { text: '{\n "b": [1, {"c": "\\"}"}]\n}' },
      { error: 'stray text at offset 39' },
      { error: 'truncated bundle at end of input' },
    ]);
  });

  it('ends a string only at a quote after an even run of backslashes, and passes UTF-8 through', () => {
    expect(split('\ufeff{"a":"x\\\\"}{"b":"\\\\\\"}"}\t{"ü":"{é}"}')).toEqual([
      { text: '{"a":"x\\\\"}' },
      { text: '{"b":"\\\\\\"}"}' },
      { text: '{"ü":"{é}"}' },
    ]);
    expect(split('{"a":"never closed}')).toEqual([{ error: 'truncated bundle at end of input' }]);
  });
});
