import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregationRef } from './aggregation-binding.js';
import { buildBundle } from './bundle/build.js';
import { createBundleVerifier } from './bundle/verify.js';
import { checkEvidenceForSigning } from './signing-check.js';
import type { JsonObject, JsonValue } from './statement.js';
import { makeEd25519Key, makeRoster } from './test-helpers/fixtures.js';
import {
  aggregationRecord,
  evidenceOffer,
  makePooledInput,
  type PooledOptions,
  refFor,
} from './test-helpers/pooled.js';

const group = makeEd25519Key();
const r = makeRoster();
const real = aggregationRecord({ sessionId: 'risk-real', values: [80, 80, 80, 80, 80] });
const ref = refFor(real, 80);
const verifier = createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false });
const sameRef = (x: AggregationRef) =>
  x.circuit === ref.circuit &&
  x.session_id === ref.session_id &&
  x.output_digest === ref.output_digest &&
  x.value === ref.value;

async function outcome(o: PooledOptions) {
  const input = await makePooledInput(group, r, o);
  const offered = checkEvidenceForSigning(evidenceOffer(input, group, r, sameRef));
  return {
    verifier: verifier.report(await buildBundle(input, group.sign)).failure?.check ?? 'valid',
    party: offered.ok ? 'ok' : offered.rule,
  };
}

type Path = (string | number)[];

/** Every scalar leaf of a JSON value, with its path. */
function leaves(value: JsonValue, path: Path = []): { path: Path; value: JsonValue }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [{ path, value }];
}

function setAt(root: JsonObject, path: Path, value: JsonValue): JsonObject {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy as JsonObject;
}

const recordLeaves = leaves(real);

describe('the aggregation binding', () => {
  it('control: the true record and reference hold', async () => {
    expect(await outcome({ ref, record: real })).toEqual({ verifier: 'valid', party: 'ok' });
  });

  it('any change to the carried record fails aggregation (and the party refuses)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null)),
        async (which, replacement) => {
          const leaf = recordLeaves[which % recordLeaves.length]!;
          fc.pre(replacement !== leaf.value);
          const record = setAt(real, leaf.path, replacement);
          expect(await outcome({ ref, record })).toEqual({
            verifier: 'aggregation',
            party: 'evidence.aggregation',
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('any change to the cited reference fails aggregation (and the party refuses)', async () => {
    const changed = fc.oneof(
      fc.string({ minLength: 1, maxLength: 16 }).map((s) => ({ ...ref, session_id: s })),
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((b) => ({ ...ref, output_digest: Buffer.from(b).toString('hex') })),
      fc.integer({ min: 0, max: 100 }).map((value) => ({ ...ref, value })),
      fc
        .constantFrom('approval-tally', 'cost-total', 'weighted-risk2')
        .map((circuit) => ({ ...ref, circuit })),
    );
    await fc.assert(
      fc.asyncProperty(changed, async (cited) => {
        fc.pre(!sameRef(cited));
        expect(await outcome({ ref: cited, record: real })).toEqual({
          verifier: 'aggregation',
          party: 'evidence.aggregation',
        });
      }),
      { numRuns: 60 },
    );
  });
});
