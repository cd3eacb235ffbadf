import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectSensitivePaths, SEALED_MARKER } from './detect.js';
import { formatPointer, isPointerPrefix, setAtPointer } from './pointer.js';
import { CANARY, ORDINARY_VALUES } from './test-helpers/payloads.js';

const ORDINARY_KEYS = [
  'name',
  'namespace',
  'image',
  'digest',
  'labels',
  'app',
  'uid',
  'reason',
  'message',
  'secretName',
  'serviceAccountName',
  'tokenUrl',
  'replicas',
  'status',
];

/** Ordinary incident-like JSON: objects keyed by ordinary keys holding ordinary values. */
const ordinaryJson = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constantFrom(...ORDINARY_VALUES), fc.integer(), fc.boolean(), fc.constant(null)),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...ORDINARY_KEYS), tie('node'), { maxKeys: 4 }),
  ),
})).node;

/** Ways a secret appears: a raw token, inside a log line, as an env value, in a Secret, under a key. */
const planted = fc
  .constantFrom(...Object.values(CANARY))
  .chain((c) =>
    fc.constantFrom<[string, unknown]>(
      ['raw', `token=${c}`],
      ['line', `2026-11-25T10:00:00Z ERROR auth failed password=${c} retry=1`],
      ['env', { env: [{ name: 'SOME_VAR', value: c }] }],
      ['secret', { kind: 'Secret', metadata: { name: 'n' }, data: { k: c } }],
      ['key', { client_secret: c }],
      ['pattern', `see ${CANARY.github} and ${CANARY.jwt}`],
      ['json', JSON.stringify({ password: c })],
    ),
  );

function pointersWithCanary(doc: unknown): string[] {
  const needles = Object.values(CANARY);
  const out: string[] = [];
  const go = (node: unknown, segs: (string | number)[]) => {
    if (typeof node === 'string' && needles.some((n) => node.includes(n))) out.push(formatPointer(segs));
    else if (Array.isArray(node))
      node.forEach((x, i) => {
        go(x, [...segs, i]);
      });
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) go(v, [...segs, k]);
  };
  go(doc, []);
  return out;
}

describe('detector laws', () => {
  it('ordinary incident data is never flagged', () => {
    fc.assert(
      fc.property(ordinaryJson, (doc) => {
        expect(detectSensitivePaths(doc)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a planted secret is found wherever it is put', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...ORDINARY_KEYS), ordinaryJson, { minKeys: 1, maxKeys: 4 }),
        fc.array(fc.constantFrom(...ORDINARY_KEYS, 'items'), { minLength: 1, maxLength: 3 }),
        planted,
        (doc, where, [, secret]) => {
          const copy = structuredClone(doc) as Record<string, unknown>;
          let node = copy;
          for (const seg of where.slice(0, -1)) {
            const next: Record<string, unknown> = {};
            node[seg] = next;
            node = next;
          }
          node[where[where.length - 1]!] = secret;
          const paths = detectSensitivePaths(copy);
          for (const p of pointersWithCanary(copy))
            expect(
              paths.some((d) => isPointerPrefix(d, p)),
              p,
            ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('detection is idempotent: once each path is replaced by a marker nothing is left', () => {
    fc.assert(
      fc.property(ordinaryJson, planted, (doc, [, secret]) => {
        const wrapped = { doc, secret, more: [secret] };
        const copy = structuredClone(wrapped);
        for (const p of detectSensitivePaths(copy)) setAtPointer(copy, p, { [SEALED_MARKER]: 'f' });
        expect(detectSensitivePaths(copy)).toEqual([]);
        expect(pointersWithCanary(copy)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
