/**
 * From the library review: wrong LENGTHS, not wrong types. public-api.test.ts swaps each argument
 * for undefined/null/other types; this sweep keeps the type and changes the length of every byte
 * or secret argument (and of every byte or secret field one level down in an object argument).
 * The call must fail with an AapsError (or succeed where the bytes are free-form), never with a
 * foreign error (RangeError/TypeError/Error from noble or node:crypto).
 */
import { beforeAll, expect, it } from 'vitest';
import {
  AapsError,
  openFields,
  SecretBytes,
  type ValidationError,
  x25519FromIdentitySecretKey,
} from './index.js';
import { type ApiCase, apiCases } from './test-helpers/api-cases.js';

let cases: ApiCase[];
beforeAll(async () => {
  cases = await apiCases();
}, 120_000);

const resized = (v: Uint8Array | SecretBytes): (Uint8Array | SecretBytes)[] => {
  const raw = v instanceof SecretBytes ? v.expose() : v;
  const lens = [0, 5, raw.length + 1].filter((n) => n !== raw.length);
  return lens.map((n) => {
    const b = new Uint8Array(n);
    b.set(raw.subarray(0, Math.min(n, raw.length)));
    if (n > raw.length) b[n - 1] = 7;
    return v instanceof SecretBytes ? new SecretBytes(b) : b;
  });
};
const isBytes = (v: unknown): v is Uint8Array | SecretBytes =>
  v instanceof Uint8Array || v instanceof SecretBytes;

async function run(c: ApiCase, args: unknown[]): Promise<unknown> {
  try {
    await c.call(...args);
    return undefined;
  } catch (e) {
    return e;
  }
}

it('wrong-length bytes and secrets give AapsErrors, never foreign errors', async () => {
  const failures: string[] = [];
  for (const c of cases) {
    const template = await c.args();
    for (let i = 0; i < template.length; i++) {
      const t = template[i];
      const variants: { where: string; patch: (args: unknown[]) => void }[] = [];
      if (isBytes(t)) {
        resized(t).forEach((v) => {
          variants.push({
            where: `arg ${i} length ${v.length}`,
            patch: (a) => {
              a[i] = v;
            },
          });
        });
      } else if (
        t &&
        typeof t === 'object' &&
        !Array.isArray(t) &&
        Object.getPrototypeOf(t) === Object.prototype
      ) {
        for (const [k, fv] of Object.entries(t)) {
          if (!isBytes(fv)) continue;
          resized(fv).forEach((v) => {
            variants.push({
              where: `arg ${i}.${k} length ${v.length}`,
              patch: (a) => {
                a[i] = { ...(a[i] as object), [k]: v };
              },
            });
          });
        }
      }
      for (const { where, patch } of variants) {
        const args = await c.args();
        patch(args);
        const e = await run(c, args);
        if (e !== undefined && !(e instanceof AapsError)) {
          failures.push(`${c.name} ${where}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
      }
    }
  }
  expect(failures).toEqual([]);
}, 300_000);

it('an X25519 secret of the wrong length is INVALID_LENGTH naming the argument', async () => {
  const short = () => new SecretBytes(new Uint8Array(31));
  const refusal = (field: string) => ({ name: 'ValidationError', code: 'INVALID_LENGTH', fields: [field] });
  const caught = async (f: () => unknown) => {
    try {
      await f();
    } catch (e) {
      const v = e as ValidationError;
      return { name: v.name, code: v.code, fields: v.fields };
    }
    return 'accepted';
  };
  expect(await caught(() => x25519FromIdentitySecretKey(short()))).toEqual(refusal('identitySecretKey'));
  expect(
    await caught(() =>
      openFields([], [], short(), { requestId: 'r', incidentId: 'i', requester: 'a', partyKeys: new Map() }),
    ),
  ).toEqual(refusal('requesterX25519SecretKey'));
});
