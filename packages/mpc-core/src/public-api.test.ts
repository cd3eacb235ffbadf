/**
 * The public API answers bad arguments with typed errors. For every function `index.ts` exports
 * (found by walking the module, so a new export without a case fails here), each argument in turn
 * is replaced by `undefined`, `null` and values of other types than it should have; the call must
 * then throw an `AapsError` (a `ValidationError` for bad input), never a `TypeError` or any other
 * foreign error, and must not quietly succeed unless the case says the argument is optional or
 * takes any value. A bad ciphersuite argument is named (`fields` holds `suite`). An empty object
 * where an object belongs may be fine (options bags); it must still never give a foreign error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as mpc from './index.js';
import { AapsError, SecretBytes } from './index.js';
import { type ApiCase, apiCases } from './test-helpers/api-cases.js';

/** Exports that take anything by design (or nothing at all), and why. */
const ANY_ARGUMENTS: Readonly<Record<string, string>> = {
  displayValue: 'formats any value for an error message',
  firstMessageLine: 'reads any thrown value',
  innermostCause: 'reads any thrown value',
  isCiphersuiteId: 'a type guard: anything that is not a suite id answers false',
  isAapsError: 'a type guard',
  loadFastBackends: 'takes no arguments',
  'new AapsError': 'error classes carry whatever message and details they are given',
  'new ValidationError': 'error class',
  'new ProtocolError': 'error class',
  'new VerificationError': 'error class',
  'new PolicyRefusal': 'error class',
  'new VectorDealingPad': 'minted by prepareVectorPad only: every other call is refused (tested below)',
};

const isClass = (f: unknown) =>
  typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));

/** The name of every case the exports require: functions, members of exported objects, classes. */
function requiredCases(): string[] {
  const exported = new Set(Object.values(mpc).filter((v) => typeof v === 'function'));
  const out: string[] = [];
  for (const [name, value] of Object.entries(mpc)) {
    if (isClass(value)) {
      out.push(`new ${name}`);
      const proto = (value as { prototype: object }).prototype;
      for (const m of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, m)!;
        if (m !== 'constructor' && typeof d.value === 'function' && d.value.length > 0)
          out.push(`${name}#${m}`);
      }
    } else if (typeof value === 'function') {
      out.push(name);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        // A namespace re-exporting named functions (`dkg.round1` is `dkgRound1`) is covered by them.
        if (typeof v === 'function' && !exported.has(v)) out.push(`${name}.${k}`);
      }
    }
  }
  return out;
}

/** `undefined`, `null`, and values of other types than the valid argument `v`. */
function badValues(v: unknown): unknown[] {
  const out: unknown[] = [undefined, null];
  if (typeof v === 'string') out.push(7, {});
  else if (typeof v === 'number') out.push('7', {});
  else if (typeof v === 'bigint') out.push(7, '7', {});
  else if (typeof v === 'boolean') out.push(1, 'true');
  else if (typeof v === 'function') out.push(7, {});
  else if (v instanceof Uint8Array) out.push('0102', 7, [1, 2]);
  else if (v instanceof SecretBytes) out.push('00', Uint8Array.from(v.expose()));
  else if (Array.isArray(v)) out.push('x', 7, {});
  else if (v instanceof Map) out.push('x', {});
  else out.push(7, 'x', []);
  return out;
}

/** Values of the right type but the wrong shape: any outcome but a foreign error is fine. */
const EMPTY = Object.freeze({});
function oddValues(v: unknown): unknown[] {
  const plain =
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof SecretBytes) &&
    !(v instanceof Map);
  return plain ? [EMPTY] : [];
}

const isSuite = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  (mpc.CIPHERSUITE_IDS as readonly unknown[]).includes((v as { id?: unknown }).id);

const show = (v: unknown) =>
  v instanceof Uint8Array
    ? 'Uint8Array'
    : v instanceof SecretBytes
      ? 'SecretBytes'
      : (JSON.stringify(v) ?? String(v));

async function run(c: ApiCase, args: unknown[]): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await c.call(...args);
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

let cases: ApiCase[];
beforeAll(async () => {
  cases = await apiCases();
}, 120_000);

describe('the public API', () => {
  it('has a case for every exported function, member and class (or says why it takes anything)', () => {
    const have = new Set(cases.map((c) => c.name));
    const missing = requiredCases().filter((n) => !have.has(n) && !(n in ANY_ARGUMENTS));
    expect(missing).toEqual([]);
  });

  it('every case runs with its valid arguments', async () => {
    for (const c of cases) {
      const r = await run(c, await c.args());
      expect(r, c.name).toEqual({ ok: true });
    }
  });

  it('answers undefined, null or a wrong-typed argument in any position with an AapsError', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const template = await c.args();
      for (let i = 0; i < template.length; i++) {
        for (const bad of [...badValues(template[i]), ...oddValues(template[i])]) {
          const args = await c.args();
          args[i] = bad;
          const r = await run(c, args);
          const where = `${c.name} argument ${i} = ${show(bad)}`;
          if (r.ok && bad === EMPTY) continue;
          if (!r.ok && r.error instanceof AapsError && isSuite(template[i]) && bad !== EMPTY) {
            const fields = (r.error as mpc.ValidationError).fields ?? [];
            if (!fields.some((f) => f === 'suite' || f.endsWith('.suite'))) {
              failures.push(`${where}: ${r.error.code} does not name the suite (${fields.join(', ')})`);
            }
          }
          if (r.ok) {
            const fine =
              c.anyValue?.includes(i) ||
              (bad === undefined && c.optional?.includes(i)) ||
              (bad instanceof Uint8Array && c.rawSecret?.includes(i));
            if (!fine) failures.push(`${where}: accepted`);
          } else if (!(r.error instanceof AapsError)) {
            const e = r.error as Error;
            failures.push(`${where}: ${e?.name}: ${e?.message}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('a VectorDealingPad cannot be made outside prepareVectorPad, whatever the arguments', () => {
    for (const args of [[], [undefined], [Symbol('x'), 'FROST-ED25519-SHA512-v1', 2, 2, {}]]) {
      expect(() => new (mpc.VectorDealingPad as never as new (...a: unknown[]) => unknown)(...args)).toThrow(
        mpc.ValidationError,
      );
    }
  });
});
