import { isDeepStrictEqual } from 'node:util';
import { VerificationError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvidenceCheck } from '../errors.js';
import {
  type LoggedFixture,
  makeApprovedInput,
  makeEd25519Key,
  makeLoggedBundles,
  makeRoster,
} from '../test-helpers/fixtures.js';
import { aggregationRecord, refFor } from '../test-helpers/pooled.js';
import { buildBundle } from './build.js';
import type { EvidenceBundle } from './types.js';
import { createBundleVerifier, verifyBundle } from './verify.js';

type Path = Array<string | number>;
type Leaf = { path: Path; value: string | number | boolean };

function leaves(value: unknown, path: Path = []): Leaf[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return [{ path, value }];
  return [];
}

const HEX_FIELDS =
  /^(verificationMaterial\.groupPublicKey|dsseEnvelope\.signatures\.0\.keyid|transparencyLog\.inclusionProof\.\d+)$/;
const B64_FIELDS = /^(dsseEnvelope\.payload|dsseEnvelope\.signatures\.0\.sig)$/;

/** The check a change to the field at `path` must fail. */
function expectedCheck(path: Path): EvidenceCheck {
  const p = path.join('.');
  if (p === 'mediaType' || p === 'verificationMaterial.ciphersuite') return 'bundle.format';
  if (p === 'verificationMaterial.groupPublicKey' || p === 'dsseEnvelope.signatures.0.keyid')
    return 'dsse.keyid';
  if (p.startsWith('dsseEnvelope.')) return 'dsse.signature';
  if (p.startsWith('verificationMaterial.')) return 'signers.threshold';
  if (p.startsWith('transcript.')) return 'statement.subject';
  if (p.startsWith('aggregation.')) return 'aggregation';
  if (p === 'transparencyLog.checkpoint') return 'log.checkpoint';
  if (p.startsWith('transparencyLog.')) return 'log.inclusion';
  throw new Error(`no expectation for ${p}`);
}

/** Flip one bit of the field's bytes (decoded bytes for hex/base64, UTF-16 unit otherwise). */
function mutate(leaf: Leaf, pos: number, bit: number): string | number | boolean {
  const p = leaf.path.join('.');
  const v = leaf.value;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v ^ (1 << (bit % 4));
  if (HEX_FIELDS.test(p) || B64_FIELDS.test(p)) {
    const enc = HEX_FIELDS.test(p) ? 'hex' : 'base64';
    const bytes = Buffer.from(v, enc);
    bytes[pos % bytes.length]! ^= 1 << (bit % 8);
    return bytes.toString(enc);
  }
  const i = pos % v.length;
  let c = v.charCodeAt(i) ^ (1 << (bit % 5));
  // Keep JSON-friendly printable text: fold controls back into the printable range.
  if (c < 0x20 || c === 0x7f) c = c === 0x21 ? 0x22 : 0x21;
  if (c === v.charCodeAt(i)) c = c === 0x21 ? 0x22 : 0x21;
  return v.slice(0, i) + String.fromCharCode(c) + v.slice(i + 1);
}

function getAt(root: unknown, path: Path): unknown {
  let node = root as Record<string | number, unknown>;
  for (const key of path) node = node[key] as Record<string | number, unknown>;
  return node;
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy;
}

describe('tampering with any field of a real bundle', () => {
  let fx: LoggedFixture;
  let bundle: EvidenceBundle;
  let all: Leaf[];

  beforeAll(async () => {
    const record = aggregationRecord();
    fx = await makeLoggedBundles(3, { pooled: { record, ref: refFor(record, 80) } });
    bundle = fx.bundles[1]!;
    all = leaves(bundle);
  });

  it('covers every field kind of the bundle', () => {
    const kinds = new Set(all.map((l) => expectedCheck(l.path)));
    expect([...kinds].sort()).toEqual(
      [
        'aggregation',
        'bundle.format',
        'dsse.keyid',
        'dsse.signature',
        'log.checkpoint',
        'log.inclusion',
        'signers.threshold',
        'statement.subject',
      ].sort(),
    );
  });

  it('fails verification naming the check that guards the field', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (which, pos, bit) => {
        const leaf = all[which % all.length]!;
        const changed = mutate(leaf, pos, bit);
        fc.pre(changed !== leaf.value);
        const tampered = JSON.parse(JSON.stringify(setAt(bundle, leaf.path, changed)));
        let check: string | undefined;
        try {
          verifyBundle(tampered, { groupPublicKey: fx.group.publicKey });
        } catch (e) {
          if (!(e instanceof VerificationError)) throw e;
          check = e.check;
        }
        expect({ path: leaf.path.join('.'), check }).toEqual({
          path: leaf.path.join('.'),
          check: expectedCheck(leaf.path),
        });
      }),
      { numRuns: 1500 },
    );
  });

  it('turns any structural damage into a VerificationError, never a crash', () => {
    const nodes = (value: unknown, path: Path = []): Path[] => {
      const here = [path];
      if (Array.isArray(value)) return here.concat(value.flatMap((v, i) => nodes(v, [...path, i])));
      if (value !== null && typeof value === 'object') {
        return here.concat(Object.entries(value).flatMap(([k, v]) => nodes(v, [...path, k])));
      }
      return here;
    };
    const paths = nodes(bundle).filter((p) => p.length > 0);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
        (which, replacement) => {
          const path = paths[which % paths.length]!;
          const before = getAt(bundle, path);
          // Damage changes something: a replacement equal to what was there is no damage.
          fc.pre(!isDeepStrictEqual(before, replacement));
          const damaged = setAt(bundle, path, replacement);
          // Nor is -0 where 0 was (fc.jsonValue draws -0 now and then): JSON has one zero, so the
          // bundle is the same JSON and verifies (tested on its own below); such a run is skipped.
          if (replacement !== undefined && JSON.stringify(replacement) === JSON.stringify(before)) {
            expect(() => verifyBundle(damaged, { groupPublicKey: fx.group.publicKey })).not.toThrow();
            fc.pre(false);
          }
          let thrown: unknown;
          try {
            verifyBundle(damaged, { groupPublicKey: fx.group.publicKey });
          } catch (e) {
            thrown = e;
          }
          expect(thrown, `damage at ${path.join('.')} was accepted`).toBeInstanceOf(VerificationError);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('takes -0 for 0 anywhere (the same JSON value), and no other number for it', () => {
    const zeros = all.filter((l) => l.value === 0);
    expect(zeros.length).toBeGreaterThan(0);
    for (const leaf of zeros) {
      expect(() =>
        verifyBundle(setAt(bundle, leaf.path, -0), { groupPublicKey: fx.group.publicKey }),
      ).not.toThrow();
      expect(() => verifyBundle(setAt(bundle, leaf.path, 1), { groupPublicKey: fx.group.publicKey })).toThrow(
        VerificationError,
      );
    }
  });

  it('fails every single field at least once (exhaustive first byte)', () => {
    for (const leaf of all) {
      const tampered = setAt(bundle, leaf.path, mutate(leaf, 0, 0));
      let check: string | undefined;
      try {
        verifyBundle(tampered, { groupPublicKey: fx.group.publicKey });
      } catch (e) {
        check = (e as VerificationError).check;
      }
      expect({ path: leaf.path.join('.'), check }).toEqual({
        path: leaf.path.join('.'),
        check: expectedCheck(leaf.path),
      });
    }
  });
});

describe('one verifier over a stream (its checkpoint cache)', () => {
  let fx: LoggedFixture;
  let all: Leaf[][];

  beforeAll(async () => {
    fx = await makeLoggedBundles(3);
    all = fx.bundles.map((b) => leaves(b));
  });

  /** Flip one character of a note (keeping it a string the parser reaches). */
  const flipNote = (note: string, pos: number, bit: number) =>
    mutate({ path: ['transparencyLog', 'checkpoint'], value: note }, pos, bit) as string;

  it('a cached-good checkpoint and a tampered copy of it in one stream: valid, then invalid', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(2), (pos, bit, which) => {
        const verifier = createBundleVerifier({ groupPublicKey: fx.group.publicKey });
        const good = fx.bundles[which]!;
        const note = good.transparencyLog!.checkpoint;
        const changed = flipNote(note, pos, bit);
        fc.pre(changed !== note);
        const bad = setAt(good, ['transparencyLog', 'checkpoint'], changed);
        expect(verifier.report(structuredClone(good)).valid).toBe(true);
        expect(verifier.report(bad).failure?.check).toBe('log.checkpoint');
        expect(verifier.report(structuredClone(good)).valid).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('gives every bundle of a mixed stream the verdict a fresh verifier gives it (report and check)', () => {
    const item = fc.record({
      which: fc.nat(2),
      tamper: fc.option(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { freq: 2 }),
    });
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 12 }), (stream) => {
        const verifier = createBundleVerifier({ groupPublicKey: fx.group.publicKey });
        for (const { which, tamper } of stream) {
          let value: unknown = structuredClone(fx.bundles[which]!);
          let expected: string | undefined;
          if (tamper !== null) {
            const [field, pos, bit] = tamper;
            const leaf = all[which]![field % all[which]!.length]!;
            const changed = mutate(leaf, pos, bit);
            if (changed !== leaf.value) {
              value = JSON.parse(JSON.stringify(setAt(value, leaf.path, changed)));
              expected = expectedCheck(leaf.path);
            }
          }
          // `check` (nothing recorded) agrees, before and after `report` saw the same bundle.
          const checked = verifier.check(value);
          expect(verifier.report(value).failure?.check).toBe(expected);
          expect(checked).toBe(expected === undefined);
          expect(verifier.check(value)).toBe(expected === undefined);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("tampering with an executed action's approval, the transcript and Statement re-signed around it", () => {
  // What a gateway that signs its own envelopes, and a quorum that signs evidence without looking,
  // could still write: only the approval itself stands in the way.
  const group = makeEd25519Key();
  const r = makeRoster();
  type Order = { incident_id: string; proposal: Record<string, unknown>; approval: Record<string, unknown> };
  let orderLeaves: Leaf[];

  beforeAll(async () => {
    const input = await makeApprovedInput(group, r);
    orderLeaves = leaves(input.transcript[5]!.payload);
  });

  /** The check the bundle fails when the order's field at `path` is changed to `value`. */
  async function checkAfter(path: Path, value: unknown): Promise<string | undefined> {
    const input = await makeApprovedInput(group, r, {
      editOrder: (o) => {
        const edited = setAt(o, path, value) as Order;
        Object.assign(o, edited);
      },
    });
    const report = createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false }).report(
      await buildBundle(input, group.sign),
    );
    return report.failure?.check;
  }

  it('fails approval.signature for any change to what the approval binds or to its signers; its executor is not signed', async () => {
    // The signed proposal, the signature, the key and suite it names, and the incident it is for;
    // the signers are not signed, but held to the roster (a changed id is no roster party).
    const bound = (path: Path) => path[0] !== 'executor';
    expect(orderLeaves.filter((l) => !bound(l.path)).map((l) => l.path.join('.'))).toEqual(['executor']);
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), fc.nat(), async (which, pos, bit) => {
        const leaf = orderLeaves[which % orderLeaves.length]!;
        const changed = mutate(leaf, pos, bit);
        fc.pre(changed !== leaf.value);
        const check = await checkAfter(leaf.path, changed);
        expect({ path: leaf.path.join('.'), check }).toEqual({
          path: leaf.path.join('.'),
          check: bound(leaf.path) ? 'approval.signature' : undefined,
        });
      }),
      { numRuns: 150 },
    );
  });
});
