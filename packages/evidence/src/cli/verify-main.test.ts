/**
 * aaps-verify's CLI driven in-process (`main` / `runCli` from source, on one thread), for the
 * behaviour at its edges: duplicate keys, a closed stdout, unfinished stream items, malformed
 * checkpoint files, empty input, the `--jobs` cap and the trusted root's log origin.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { generateIdentityKey, scanCbor } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBundleCbor } from '../bundle/codec.js';
import type { EvidenceBundle } from '../bundle/types.js';
import { ED25519_SUITE, SECP256K1_TR_SUITE } from '../keys.js';
import { type LoggedFixture, makeLoggedBundles, ORIGIN, trustedRootFor } from '../test-helpers/fixtures.js';
import { jobsOf, MAX_JOBS, prestartCount } from './args.js';
import { splitJsonValues } from './json-stream.js';
import { main, runCli } from './verify-main.js';

let dir: string;
let fx: LoggedFixture;
let keyHex: string;

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** `data` as a stream delivers it: one chunk. */
async function* chunks(data: string | Uint8Array): AsyncGenerator<Uint8Array> {
  yield typeof data === 'string' ? Buffer.from(data) : data;
}

async function run(args: string[], stdin = '', jobs: string[] = ['--jobs', '1']): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, ...jobs], { out: (l) => out.push(l), err: (l) => err.push(l) }, () =>
    chunks(stdin),
  );
  return { code, out, err };
}

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-verify-main-'));
  fx = await makeLoggedBundles(3);
  keyHex = Buffer.from(fx.group.publicKey).toString('hex');
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The bundle's JSON with a second `mediaType` member first: `JSON.parse` keeps the last. */
function withDuplicateKey(bundle: EvidenceBundle): string {
  const text = JSON.stringify(bundle);
  return text.replace('{"mediaType":', '{"mediaType":"application/x-other","mediaType":');
}

describe('splitJsonValues resynchronises after an unfinished object', () => {
  const split = (text: string) => {
    const bytes = Buffer.from(text);
    return [...splitJsonValues(bytes)].map((r) =>
      'error' in r ? r.error.replace(/ at offset \d+.*$/, '') : bytes.subarray(r.start, r.end).toString(),
    );
  };

  it('starts a new object at a line that starts with {, and ends a string at a raw newline', () => {
    expect(split('{"a":1}\n{"b":{"c":2}\n{"d":3}\n')).toEqual(['{"a":1}', 'unfinished bundle', '{"d":3}']);
    expect(split('{"a":"cut\n{"d":3}\n{"e":"}"}')).toEqual(['unfinished bundle', '{"d":3}', '{"e":"}"}']);
    expect(split('{"a":"cut\n  "x": 1}\n{"d":3}')).toEqual(['unfinished bundle', '{"d":3}']);
    expect(split('{"a":1}\n{"b":"cut')).toEqual(['{"a":1}', 'truncated bundle at end of input']);
    expect(split('{\n  "a": {\n    "b": [\n      {"c": 1}\n    ]\n  }\n}\n{"d":1}')).toEqual([
      '{\n  "a": {\n    "b": [\n      {"c": 1}\n    ]\n  }\n}',
      '{"d":1}',
    ]);
    // The split the CLI tests check (aaps-verify.test.ts), unchanged.
    expect(split('{"a":"}{"}\n{\n "b": [1, {"c": "\\"}"}]\n}\nxx\n{"d":1')).toEqual([
      '{"a":"}{"}',
      '{\n "b": [1, {"c": "\\"}"}]\n}',
      'stray text',
      'truncated bundle at end of input',
    ]);
    expect(split('\ufeff{"a":"x\\\\"}{"b":"\\\\\\"}"}\t{"ü":"{é}"}')).toEqual([
      '{"a":"x\\\\"}',
      '{"b":"\\\\\\"}"}',
      '{"ü":"{é}"}',
    ]);
  });
});

describe('aaps-verify in-process', () => {
  it('fails a bundle with a duplicate key with bundle.format (exit 1), in a file and in a stream', async () => {
    const good = JSON.stringify(fx.bundles[0]);
    const dup = withDuplicateKey(fx.bundles[1]!);
    expect(JSON.parse(dup).mediaType).toBe(fx.bundles[1]!.mediaType);
    expect((await run([write('good.json', good), '--key', keyHex])).code).toBe(0);
    const file = await run([write('dup.json', dup), '--key', keyHex]);
    expect(file.code).toBe(1);
    expect(file.out).toHaveLength(1);
    expect(file.out[0]).toMatch(/^invalid: bundle\.format: duplicate key "mediaType"/);
    const stream = await run(['-', '--key', keyHex], `${good}\n${dup}\n${JSON.stringify(fx.bundles[2])}\n`);
    expect(stream.code).toBe(1);
    expect(stream.out[0]).toMatch(/^stdin#2: invalid: bundle\.format: duplicate key/);
    expect(stream.out.at(-1)).toMatch(/^3 bundles: 2 valid, 1 invalid in /);
  });

  it("names a bundle's duplicated key that holds control or bidirectional characters escaped, never raw", async () => {
    const key = '\\u001b[31m\\u202ex';
    const dup = JSON.stringify(fx.bundles[1]).replace('{', `{"${key}":1,"${key}":2,`);
    const file = await run([write('esc-dup.json', dup), '--key', keyHex]);
    expect(file.code).toBe(1);
    expect(file.out[0]).toMatch(
      /^invalid: bundle\.format: duplicate key "\\u001b\[31m\\u202ex" in one JSON object/,
    );
    for (const raw of ['\u001b', '\u202e']) expect(file.out.join('\n')).not.toContain(raw);
  });

  it('fails CBOR nested deeper than the decoder recurses with bundle.format (exit 1), as the same JSON', async () => {
    const depth = 200_000;
    const key = Buffer.from('transcript');
    // {"transcript": [[[...0...]]]}: well-formed, only far too deep.
    const cbor = Buffer.concat([
      Buffer.from([0xa1, 0x60 + key.length]),
      key,
      Buffer.alloc(depth, 0x81),
      Buffer.from([0x00]),
    ]);
    const json = `{"transcript":${'['.repeat(depth)}0${']'.repeat(depth)}}`;
    for (const [name, bytes] of [
      ['deep.cbor', cbor],
      ['deep.json', Buffer.from(json)],
    ] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const r = await run([path, '--key', keyHex]);
      expect(r.code, name).toBe(1);
      expect(r.out, name).toHaveLength(1);
      expect(r.out[0], name).toMatch(/^invalid: bundle\.format: /);
      expect(r.out[0], name).not.toMatch(/call stack/);
    }
  });

  it('fails a CBOR bundle with a duplicate map key with bundle.format (exit 1)', async () => {
    const good = Buffer.from(encodeBundleCbor(fx.bundle));
    expect(scanCbor(good).duplicateKey).toBeUndefined();
    const path = join(dir, 'good.cbor');
    writeFileSync(path, good);
    expect((await run([path, '--key', keyHex])).code).toBe(0);
    // One more top-level entry, "mediaType" again, first: the decoder keeps the last value.
    expect(good[0]! & 0xe0).toBe(0xa0);
    const extra = Buffer.from(encodeBundleCbor({ mediaType: 'x' } as unknown as EvidenceBundle)).subarray(1);
    const dup = Buffer.concat([Buffer.from([good[0]! + 1]), extra, good.subarray(1)]);
    expect(scanCbor(dup).duplicateKey).toBe('mediaType');
    const dupPath = join(dir, 'dup.cbor');
    writeFileSync(dupPath, dup);
    const r = await run([dupPath, '--key', keyHex]);
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^invalid: bundle\.format: duplicate key "mediaType" in one CBOR map/);
    // Indefinite-length maps and chunked text keys are read too.
    expect(scanCbor(Buffer.from('bf6161017f616160ff02ff', 'hex')).duplicateKey).toBe('a');
    expect(scanCbor(Buffer.from('a2616101616202', 'hex')).duplicateKey).toBeUndefined();
  });

  it('fails a CBOR bundle holding any CBOR tag with bundle.format (exit 1), before decoding it', async () => {
    const good = Buffer.from(encodeBundleCbor(fx.bundle));
    // "mediaType": "<text>" becomes "mediaType": 28(<text>) (a cbor-x shareable value), then
    // 29(0) (a shared reference), then 1(<text>) (a date): each a bundle of the wrong format.
    const key = Buffer.concat([Buffer.of(0x69), Buffer.from('mediaType')]);
    const at = good.indexOf(key) + key.length;
    for (const [tagHead, number] of [
      [[0xd8, 0x1c], 28],
      [[0xc1], 1],
    ] as const) {
      const tagged = Buffer.concat([good.subarray(0, at), Buffer.from(tagHead), good.subarray(at)]);
      const path = join(dir, `tag-${number}.cbor`);
      writeFileSync(path, tagged);
      const r = await run([path, '--key', keyHex]);
      expect(r.code, `tag ${number}`).toBe(1);
      expect(r.out).toEqual([
        expect.stringMatching(
          new RegExp(
            `^invalid: bundle\\.format: CBOR tag ${number} at byte ${at}: a bundle has no CBOR tags`,
          ),
        ),
      ]);
    }
  });

  it('verifies the bundles after an unfinished one in a stream, and reports that one unreadable', async () => {
    const [a, b, c] = fx.bundles.map((x) => JSON.stringify(x));
    const cut = b!.slice(0, 1000); // ends inside a string
    const open = b!.slice(0, b!.indexOf('"dsseEnvelope"')); // ends between members
    for (const bad of [cut, open]) {
      const r = await run(['-', '--key', keyHex], `${a}\n${bad}\n${c}\n`);
      expect(r.code).toBe(2);
      expect(r.out[0]).toMatch(/^stdin#2: unreadable: unfinished bundle/);
      expect(r.out.at(-1)).toMatch(/^3 bundles: 2 valid, 0 invalid, 1 unreadable in /);
    }
  });

  it('refuses a --checkpoint file that is no checkpoint note up front (exit 2, one line)', async () => {
    const bundle = write('cp-bundle.json', JSON.stringify(fx.bundle));
    for (const content of ['null', '[1]', 'not a note\n', '{"checkpoint":"x\\n"}']) {
      const r = await run([bundle, '--key', keyHex, '--checkpoint', write('bad.note', content)]);
      expect({ content, code: r.code }).toEqual({ content, code: 2 });
      expect(r.out).toEqual([]);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/^aaps-verify: checkpoint .* is not a signed checkpoint note/);
    }
    const good = write('good.note', (await fx.log.latestCheckpoint())!.note);
    expect((await run([bundle, '--key', keyHex, '--checkpoint', good])).code).toBe(0);
  });

  it('refuses a --trusted-root, --roster or JSON --checkpoint file that gives a key twice (exit 2, one line naming the file and the key)', async () => {
    const bundle = write('dup-bundle.json', JSON.stringify(fx.bundle));
    const twice = 'is given twice in one object (JSON parsers differ on which one counts)';
    // A second group key first: JSON.parse keeps the last (the real one), a first-wins reader the other.
    const root = write(
      'dup-root.json',
      JSON.stringify(trustedRootFor(fx)).replace(
        '"publicKeyHex":',
        `"publicKeyHex":"${'11'.repeat(32)}","publicKeyHex":`,
      ),
    );
    expect(await run([bundle, '--trusted-root', root])).toEqual({
      code: 2,
      out: [],
      err: [`aaps-verify: trusted root ${root}: aaps.groupKey.publicKeyHex ${twice}`],
    });
    const roster = write(
      'dup-roster.json',
      JSON.stringify(systemRoster()).replace(
        '"identity_key":',
        `"identity_key":"${'22'.repeat(32)}","identity_key":`,
      ),
    );
    expect(await run([bundle, '--key', keyHex, '--roster', roster])).toEqual({
      code: 2,
      out: [],
      err: [`aaps-verify: roster ${roster}: parties.0.identity_key ${twice}`],
    });
    const note = (await fx.log.latestCheckpoint())!.note;
    const checkpoint = write(
      'dup-checkpoint.json',
      JSON.stringify({ checkpoint: note }).replace('{', `{"checkpoint":${JSON.stringify(note)},`),
    );
    expect(await run([bundle, '--key', keyHex, '--checkpoint', checkpoint])).toEqual({
      code: 2,
      out: [],
      err: [`aaps-verify: checkpoint ${checkpoint}: checkpoint ${twice}`],
    });
  });

  it('names a duplicated key that holds control characters escaped, never raw on the terminal', async () => {
    const bundle = write('esc-bundle.json', JSON.stringify(fx.bundle));
    const key = '\\u001b]0;owned\\u0007x';
    const root = write('esc-root.json', `{"${key}":1,"${key}":2}`);
    const r = await run([bundle, '--trusted-root', root]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([
      `aaps-verify: trusted root ${root}: \\u001b]0;owned\\u0007x is given twice in one object (JSON parsers differ on which one counts)`,
    ]);
  });

  it('exits 2 with one line when there are no bundles', async () => {
    for (const stdin of ['', ' \n\n']) {
      const r = await run(['-', '--key', keyHex], stdin);
      expect(r.code).toBe(2);
      expect(r.err).toEqual(['aaps-verify: no bundles in stdin']);
      expect(r.out).toEqual([]);
    }
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'not a bundle');
    const r = await run([empty, '--key', keyHex]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^aaps-verify: no bundles in /);
  });

  it('caps --jobs, and the launcher starts no more workers than the cap', async () => {
    expect(MAX_JOBS).toBeGreaterThanOrEqual(64);
    expect(jobsOf(String(MAX_JOBS))).toBe(MAX_JOBS);
    expect(jobsOf(String(MAX_JOBS + 1))).toBeUndefined();
    expect(jobsOf('1000000')).toBeUndefined();
    // Decimal digits only: no exponent, hex, sign, padding or leading zero.
    for (const odd of ['1e1', '0x2', ' 2', '2 ', '+2', '02', '2.0', '0', '-1', ''])
      expect(jobsOf(odd), JSON.stringify(odd)).toBeUndefined();
    expect(jobsOf('2')).toBe(2);
    expect(jobsOf(undefined)).toBeLessThanOrEqual(MAX_JOBS);
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['-', '--key', keyHex, '--jobs', '1000000'],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      () => chunks(JSON.stringify(fx.bundle)),
    );
    expect(code).toBe(2);
    expect(err[0]).toMatch(/--jobs must be an integer from 1 to \d+/);
    expect(prestartCount(['-', '--key', keyHex, '--jobs', '1000000'])).toBe(0);
    expect(prestartCount(['-', '--key', keyHex, '--jobs', String(MAX_JOBS)])).toBe(MAX_JOBS);
    expect(prestartCount(['-', '--key', keyHex, '--jobs', '3'])).toBe(3);
    expect(prestartCount([dir, '--key', keyHex, '--jobs', '3'])).toBe(2);
    expect(prestartCount([join(dir, 'good.json'), '--jobs', '3'])).toBe(0);
  });

  it("fails a checkpoint whose origin is not the trusted root's log (log.checkpoint)", async () => {
    const rootFor = (origin: string) =>
      write(`root-${origin.replace(/\W/g, '_')}.json`, JSON.stringify(trustedRootFor(fx, { origin })));
    const bundle = write('origin-bundle.json', JSON.stringify(fx.bundle));
    expect((await run([bundle, '--trusted-root', rootFor(ORIGIN)])).code).toBe(0);
    const r = await run([bundle, '--trusted-root', rootFor('other.test/log')]);
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(
      /^invalid: log\.checkpoint: checkpoint origin aaps\.test\/log is not the trusted/,
    );
  });
});

describe('aaps-verify input and usage errors', () => {
  it('reports a bad option in one stderr line pointing at --help (exit 2); --help prints usage', async () => {
    const bundle = write('usage-bundle.json', JSON.stringify(fx.bundle));
    for (const args of [
      [bundle, '--key', keyHex, '--frobnicate'],
      [bundle, '--key', keyHex, '--jobs', 'x'],
      [bundle, '--key', keyHex, '--jobs', '1e1'],
      ['--key', keyHex],
      [bundle, '--key', '--json'],
      [bundle, '--key', keyHex, '--roster'],
    ]) {
      const r = await run(args, '', []);
      expect(r.code).toBe(2);
      expect(r.out).toEqual([]);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).not.toContain('\n');
      expect(r.err[0]).toMatch(/^aaps-verify: .+ \(aaps-verify --help shows usage\)$/);
    }
    expect((await run([bundle, '--key', keyHex, '--frobnicate'])).err[0]).toBe(
      "aaps-verify: Unknown option '--frobnicate' (aaps-verify --help shows usage)",
    );
    expect((await run([bundle, '--trusted-root', '--json'])).err).toEqual([
      'aaps-verify: --trusted-root needs a value, and the flag after it is none (a value starting with a dash is given as --trusted-root=-VALUE) (aaps-verify --help shows usage)',
    ]);
    expect((await run([bundle, '--key', keyHex, '--roster'], '', [])).err).toEqual([
      'aaps-verify: --roster needs a value (aaps-verify --help shows usage)',
    ]);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toHaveLength(1);
    expect(help.out[0]).toMatch(/^usage: aaps-verify /);
    expect(help.err).toEqual([]);
    // One line per flag, and the exit codes.
    const lines = help.out[0]!.split('\n');
    for (const flag of [
      '--key',
      '--trusted-root',
      '--checkpoint',
      '--roster',
      '--ciphersuite',
      '--jobs',
      '--json',
      '--help',
    ])
      expect(lines.filter((l) => new RegExp(`^  (-h, )?${flag} `).test(l))).toHaveLength(1);
    for (const code of ['0', '1', '2']) expect(lines.some((l) => l.startsWith(`  ${code}  `))).toBe(true);
  });

  it('says a --key that is no key and no file is not a valid key', async () => {
    const bundle = write('key-bundle.json', JSON.stringify(fx.bundle));
    for (const [key, why] of [
      [
        '00',
        'hex of the wrong length (2 hex digits; a group key is 64, or 66 for secp256k1-TR), and no file of that name',
      ],
      [
        keyHex.slice(2),
        'hex of the wrong length (62 hex digits; a group key is 64, or 66 for secp256k1-TR), and no file of that name',
      ],
      [join(dir, 'no-such-key'), 'not 32/33-byte hex, and no such file'],
    ] as const) {
      const r = await run([bundle, '--key', key]);
      expect(r).toEqual({ code: 2, out: [], err: [`aaps-verify: --key ${key}: not a valid key: ${why}`] });
    }
  });

  it('ends a stream whose reading fails with what was read: its lines, the summary, one error line, exit 2', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(`${JSON.stringify(fx.bundles[0])}\n${withDuplicateKey(fx.bundles[1]!)}\n{"cut`);
      throw Object.assign(new Error('i/o error'), { code: 'EIO' });
    }
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['-', '--key', keyHex, '--jobs', '1'],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      failing,
    );
    expect(code).toBe(2);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^stdin#2: invalid: bundle\.format: duplicate key/);
    expect(out[1]).toMatch(/^2 bundles: 1 valid, 1 invalid in /);
    expect(err).toEqual(['aaps-verify: cannot read stdin: EIO']);
  });

  it('refuses CBOR on stdin in one line, and calls a truncated CBOR file truncated', async () => {
    const cbor = Buffer.from(encodeBundleCbor(fx.bundle));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['-', '--key', keyHex, '--jobs', '1'],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      () => chunks(Buffer.concat([cbor, cbor])),
    );
    expect({ code, out, err }).toEqual({
      code: 2,
      out: [],
      err: [
        'aaps-verify: stdin looks like CBOR: stdin takes JSON bundles only; give a CBOR bundle as a file',
      ],
    });
    const cut = join(dir, 'cut.cbor');
    writeFileSync(cut, cbor.subarray(0, cbor.length - 40));
    expect((await run([cut, '--key', keyHex])).err).toEqual([
      `aaps-verify: ${cut}: truncated CBOR: the data ends inside the bundle`,
    ]);
    const sub = join(dir, 'cut-dir');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.cbor'), cbor);
    writeFileSync(join(sub, 'b.cbor'), cbor.subarray(0, 100));
    const d = await run([sub, '--key', keyHex]);
    expect(d.code).toBe(2);
    expect(d.out[0]).toBe('b.cbor: unreadable: truncated CBOR: the data ends inside the bundle');
  });

  it('says "1 bundle" for a run over one, and exits 2 over 1 when items are unreadable and invalid', async () => {
    const one = await run(['-', '--key', keyHex], JSON.stringify(fx.bundle));
    expect(one.code).toBe(0);
    expect(one.out.at(-1)).toMatch(/^1 bundle: 1 valid, 0 invalid in [\d.]+ s \(\d+ bundles\/s\)$/);
    const bad = structuredClone(fx.bundles[1]!);
    bad.verificationMaterial.signers.reverse();
    const mixed = await run(['-', '--key', keyHex], `${JSON.stringify(bad)}\nnot json\n`);
    expect(mixed.code).toBe(2);
    expect(mixed.out.at(-1)).toMatch(/^2 bundles: 0 valid, 1 invalid, 1 unreadable in /);
  });

  it('refuses a trusted root whose aaps group key is not the key of its Sigstore fields (exit 2)', async () => {
    const bundle = write('root-key-bundle.json', JSON.stringify(fx.bundle));
    const root = trustedRootFor(fx);
    const other = '11'.repeat(32);
    const mixed = write(
      'root-mixed.json',
      JSON.stringify({
        ...root,
        aaps: { ...root.aaps, groupKey: { ...root.aaps.groupKey, publicKeyHex: other } },
      }),
    );
    const r = await run([bundle, '--trusted-root', mixed]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([
      `aaps-verify: trusted root ${mixed}: trusted root names two group keys: aaps.groupKey.publicKeyHex ${other} and aaps.groupKey.publicKey (Sigstore) ${keyHex}`,
    ]);
  });

  it('JSON that is no object reads fine and is no bundle: exit 1 naming bundle.format, as {} is', async () => {
    for (const [text, kind] of [
      ['null', 'null'],
      ['[1, 2]', 'an array'],
      ['3', 'a number'],
      ['"x"', 'a string'],
    ] as const) {
      const r = await run([write(`not-object-${kind.replace(' ', '-')}.json`, `${text}\n`), '--key', keyHex]);
      expect(r.code).toBe(1);
      expect(r.out[0]).toBe(`invalid: bundle.format: the JSON is ${kind}, not a bundle (a JSON object)`);
    }
  });

  it('names an unreadable item once, and marks it valid: false in --json (stream, dir, file)', async () => {
    const good = JSON.stringify(fx.bundle);
    const r = await run(['-', '--key', keyHex], `${good}\n{"a":1,}\n`);
    expect(r.code).toBe(2);
    expect(r.out[0]).toBe('stdin#2: unreadable: not JSON');
    const j = await run(['-', '--key', keyHex, '--json'], `${good}\n{"a":1,}\n`);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out[1]!)).toEqual({
      bundle: 'stdin#2',
      readable: false,
      valid: false,
      error: 'not JSON',
    });
    const sub = join(dir, 'unreadable-dir');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.json'), good);
    writeFileSync(join(sub, 'b.cbor'), 'nope');
    const d = await run([sub, '--key', keyHex]);
    expect(d.out[0]).toBe('b.cbor: unreadable: neither JSON nor CBOR');
    const file = write('garbage-file.json', '{ not json');
    const f = await run([file, '--key', keyHex, '--json']);
    expect(f.code).toBe(2);
    expect(f.out.map((l) => JSON.parse(l))).toEqual([
      { bundle: file, readable: false, valid: false, error: 'not JSON' },
    ]);
    expect(f.err).toEqual([`aaps-verify: ${file}: not JSON`]);
    const missing = join(dir, 'missing.json');
    const m = await run([missing, '--key', keyHex, '--json']);
    expect(m.code).toBe(2);
    expect(JSON.parse(m.out[0]!)).toEqual({
      bundle: missing,
      readable: false,
      valid: false,
      error: 'cannot read: ENOENT',
    });
  });

  it('keeps why a file cannot be read, and skips directory entries that are not regular files', async () => {
    const sub = join(dir, 'odd-entries');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.json'), JSON.stringify(fx.bundle));
    mkdirSync(join(sub, 'b.json'));
    // A FIFO would block the run if it were opened (no writer ever comes).
    const fifo = spawnSync('mkfifo', [join(sub, 'c.json')]).status === 0;
    const r = await run([sub, '--key', keyHex]);
    expect(r.code).toBe(2);
    expect(r.out[0]).toBe('b.json: unreadable: not a regular file');
    if (fifo) expect(r.out[1]).toBe('c.json: unreadable: not a regular file');
    expect(r.out.at(-1)).toMatch(
      fifo ? /^3 bundles: 1 valid, 0 invalid, 2 unreadable/ : /^2 bundles: 1 valid, 0 invalid, 1 unreadable/,
    );
    // A socket passes stat but cannot be opened (ENXIO), even by root.
    const socketPath = join(dir, 'sock.json');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const s = await run([socketPath, '--key', keyHex]);
      expect(s.code).toBe(2);
      expect(s.err).toEqual([`aaps-verify: cannot read ${socketPath}: ENXIO`]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // A file this process may not read (unless it runs as root, which reads anything).
    const locked = write('locked.json', JSON.stringify(fx.bundle));
    chmodSync(locked, 0);
    const l = await run([locked, '--key', keyHex]);
    if (process.getuid?.() !== 0) {
      expect(l.code).toBe(2);
      expect(l.err).toEqual([`aaps-verify: cannot read ${locked}: EACCES`]);
    }
  });

  it('refuses --ciphersuite that differs from the trusted root, or is unknown (exit 2)', async () => {
    const root = write('suite-root.json', JSON.stringify(trustedRootFor(fx)));
    const bundle = write('suite-bundle.json', JSON.stringify(fx.bundle));
    expect((await run([bundle, '--trusted-root', root, '--ciphersuite', ED25519_SUITE])).code).toBe(0);
    const differs = await run([bundle, '--trusted-root', root, '--ciphersuite', SECP256K1_TR_SUITE]);
    expect(differs.code).toBe(2);
    expect(differs.err).toHaveLength(1);
    expect(differs.err[0]).toMatch(/^aaps-verify: --ciphersuite .* differs from the trusted root's/);
    for (const args of [
      ['--trusted-root', root],
      ['--key', keyHex],
    ]) {
      const r = await run([bundle, ...args, '--ciphersuite', 'FROST-NOPE']);
      expect(r.code).toBe(2);
      expect(r.err).toEqual(['aaps-verify: --ciphersuite: unknown FROST-NOPE']);
    }
  });

  it('skips a byte-order mark at the start of a bundle file, as on stdin', async () => {
    const text = `\ufeff${JSON.stringify(fx.bundle)}`;
    expect((await run(['-', '--key', keyHex], text)).code).toBe(0);
    expect((await run([write('bom.json', text), '--key', keyHex])).code).toBe(0);
    const sub = join(dir, 'bom-dir');
    mkdirSync(sub);
    writeFileSync(join(sub, 'bom.json'), text);
    expect((await run([sub, '--key', keyHex])).code).toBe(0);
  });
});

/** The system's roster.json (packages/agents `Roster`) for the fixture's keys. */
function systemRoster(): Record<string, unknown> {
  const { roster } = fx.r;
  return {
    version: 1,
    ciphersuite: ED25519_SUITE,
    threshold: { min: 3, max: roster.parties.length },
    parties: roster.parties.map((p, i) => ({
      id: p.id,
      role: 'triage',
      department: 'sre',
      url: `http://127.0.0.1:${9001 + i}`,
      identity_key: p.identity_key,
      index: i + 1,
    })),
    gateway: { id: 'gateway', identity_key: roster.gateway_key },
    approvers: roster.approvers,
  };
}

/** `runCli` with `args`, its stdout and stderr lines. */
async function cli(args: string[]): Promise<Run> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await runCli([...args, '--jobs', '1'], [], {
    stdout,
    stderr,
    stdin: () => chunks(''),
  });
  const lines = (s: Sink) =>
    s.text
      .join('')
      .split('\n')
      .filter((l) => l !== '');
  return { code, out: lines(stdout), err: lines(stderr) };
}

describe('aaps-verify --roster', () => {
  it("accepts the system's roster.json as well as the predicate's roster", async () => {
    const bundle = write('roster-bundle.json', JSON.stringify(fx.bundle));
    const system = write('roster-system.json', JSON.stringify(systemRoster()));
    const r = await cli([bundle, '--key', keyHex, '--roster', system]);
    expect(r).toEqual({
      code: 0,
      out: ['valid: incident/inc-0 (log index 0), outcome: not stated'],
      err: [],
    });
    const predicate = write('roster-predicate.json', JSON.stringify(fx.r.roster));
    expect((await cli([bundle, '--key', keyHex, '--roster', predicate])).code).toBe(0);
  });

  it("holds each party to its roster.json role's outputs: a role that signs none of them fails transcript.authority", async () => {
    const bundle = write('roster-bundle.json', JSON.stringify(fx.bundle));
    // Every party as audit: their reports and decisions are not the audit role's output.
    const audit = systemRoster();
    audit.parties = (audit.parties as Record<string, unknown>[]).map((p) => ({ ...p, role: 'audit' }));
    const r = await cli([
      bundle,
      '--key',
      keyHex,
      '--roster',
      write('roster-audit.json', JSON.stringify(audit)),
    ]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(
      /^invalid: transcript\.authority: envelope 1 is a RCAReport signed by party .*, whose role audit signs EvidenceBundleRef only/,
    );
  });

  it("holds each party to the role a trusted root names (aaps.partyRoles); a --roster's roles replace them", async () => {
    const bundle = write('roles-bundle.json', JSON.stringify(fx.bundle));
    const roles = (role: string) => Object.fromEntries(fx.r.roster.parties.map((p) => [p.id, role]));
    const rooted = (name: string, role: string) =>
      write(name, JSON.stringify(trustedRootFor(fx, { partyRoles: roles(role) })));
    const asAudit = await cli([bundle, '--trusted-root', rooted('root-audit.json', 'audit')]);
    expect(asAudit.code).toBe(1);
    expect(asAudit.out[0]).toMatch(
      /^invalid: transcript\.authority: envelope 1 is a RCAReport signed by party .*, whose role audit signs EvidenceBundleRef only/,
    );
    // A root without roles, or a roster.json naming none the rules know, holds each party to one
    // role's outputs only, which this bundle keeps.
    expect(
      (await cli([bundle, '--trusted-root', write('root-plain.json', JSON.stringify(trustedRootFor(fx)))]))
        .code,
    ).toBe(0);
    const system = write('roles-system.json', JSON.stringify(systemRoster()));
    const replaced = await cli([
      bundle,
      '--trusted-root',
      rooted('root-audit2.json', 'audit'),
      '--roster',
      system,
    ]);
    expect(replaced).toEqual({
      code: 0,
      out: ['valid: incident/inc-0 (log index 0), outcome: not stated'],
      err: [],
    });
  });

  it("trusts the roster.json's keys: another gateway key fails transcript.signature", async () => {
    const other = systemRoster();
    other.gateway = {
      id: 'gateway',
      identity_key: Buffer.from(generateIdentityKey().publicKey).toString('hex'),
    };
    const bundle = write('roster-bundle.json', JSON.stringify(fx.bundle));
    const r = await cli([
      bundle,
      '--key',
      keyHex,
      '--roster',
      write('roster-other.json', JSON.stringify(other)),
    ]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^invalid: transcript\.signature: /);
  });

  it('refuses a malformed roster naming the field as the file spells it (exit 2)', async () => {
    const bundle = write('roster-bundle.json', JSON.stringify(fx.bundle));
    const refused = async (name: string, roster: unknown) => {
      const path = write(name, JSON.stringify(roster));
      const r = await cli([bundle, '--key', keyHex, '--roster', path]);
      expect(r.code).toBe(2);
      expect(r.out).toEqual([]);
      expect(r.err).toHaveLength(1);
      return r.err[0]!.replace(path, 'F');
    };
    const badKey = { ...systemRoster(), gateway: { id: 'gateway', identity_key: 'zz' } };
    expect(await refused('r1.json', badKey)).toBe(
      'aaps-verify: roster F: malformed roster.gateway.identity_key',
    );
    const noId = { ...systemRoster(), gateway: { identity_key: fx.r.roster.gateway_key } };
    expect(await refused('r2.json', noId)).toBe('aaps-verify: roster F: malformed roster.gateway.id');
    const badParty = systemRoster();
    (badParty.parties as Array<Record<string, unknown>>)[1]!.identity_key = 42;
    expect(await refused('r3.json', badParty)).toBe(
      'aaps-verify: roster F: malformed roster.parties[1].identity_key',
    );
    expect(await refused('r4.json', { ...systemRoster(), gateway: 'gw' })).toBe(
      'aaps-verify: roster F: malformed roster.gateway',
    );
    const { gateway: _, ...neither } = systemRoster();
    expect(await refused('r5.json', neither)).toBe(
      "aaps-verify: roster F: malformed roster: neither gateway_key (a predicate's roster) nor gateway (a roster.json)",
    );
    expect(await refused('r6.json', { ...fx.r.roster, gateway_key: 'zz' })).toBe(
      'aaps-verify: roster F: malformed roster.gateway_key',
    );
  });
});

/**
 * A stdout whose reader goes away after `keep` writes: later writes fail with EPIPE (or, given
 * another code, a stdout whose writes fail for another reason: ENOSPC, a full disk).
 */
class ClosingPipe extends Writable {
  readonly lines: string[] = [];
  constructor(
    private readonly keep: number,
    private readonly code = 'EPIPE',
  ) {
    super();
  }
  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void): void {
    if (this.lines.length >= this.keep) {
      callback(Object.assign(new Error(`write ${this.code}`), { code: this.code, syscall: 'write' }));
      return;
    }
    this.lines.push(chunk.toString());
    callback();
  }
}

class Sink extends Writable {
  readonly text: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.text.push(chunk.toString());
    callback();
  }
}

describe('runCli with a closed stdout', () => {
  it('stops quietly on EPIPE and keeps the verification exit code (`... --json | head -1`)', async () => {
    const ndjson = `${fx.bundles.map((b) => JSON.stringify(b)).join('\n')}\n`;
    for (const keep of [0, 1, 2]) {
      const stdout = new ClosingPipe(keep);
      const stderr = new Sink();
      const code = await runCli(['-', '--key', keyHex, '--json', '--jobs', '1'], [], {
        stdout,
        stderr,
        stdin: () => chunks(ndjson),
      });
      // Let the stream's error events (emitted on a later tick) arrive before the test ends.
      await new Promise((resolve) => setImmediate(resolve));
      expect(code).toBe(0);
      expect(stdout.lines).toHaveLength(keep);
      expect(stderr.text).toEqual([]);
    }
  });

  it('a write error that is no reader leaving (ENOSPC, EIO): one line on stderr, exit 2, whatever the bundles were', async () => {
    const ndjson = `${fx.bundles.map((b) => JSON.stringify(b)).join('\n')}\n`;
    for (const [code, keep] of [
      ['ENOSPC', 0],
      ['EIO', 1],
    ] as const) {
      const stdout = new ClosingPipe(keep, code);
      const stderr = new Sink();
      const exit = await runCli(['-', '--key', keyHex, '--json', '--jobs', '1'], [], {
        stdout,
        stderr,
        stdin: () => chunks(ndjson),
      });
      expect(exit).toBe(2);
      expect(stdout.lines).toHaveLength(keep);
      expect(stderr.text).toEqual([`aaps-verify: cannot write to stdout: ${code}\n`]);
    }
  });

  it('ends when stdout goes while the writer on stdin is silent (`tail -f ... | aaps-verify - | head -1`)', async () => {
    const bundles = `${fx.bundles.map((b) => JSON.stringify(b)).join('\n')}\n`;
    const state = { released: false };
    // A Readable, as process.stdin is: the run releases it at the end.
    const silent = new Readable({ read() {} });
    silent.push(Buffer.from(bundles));
    silent.on('close', () => {
      state.released = true;
    });
    const stdout = new ClosingPipe(1);
    const stderr = new Sink();
    // --json writes a line per bundle: the second write fails, and then nothing more comes in.
    const code = await runCli(['-', '--key', keyHex, '--json', '--jobs', '1'], [], {
      stdout,
      stderr,
      stdin: () => silent,
    });
    expect(code).toBe(0);
    expect(stdout.lines).toHaveLength(1);
    expect(stderr.text).toEqual([]);
    expect(silent.destroyed).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.released).toBe(true);
  });
});
