/**
 * The department-signed input statement (`signed-input.ts`): its signing bytes, and what a party
 * deals or refuses with and without `aggregation.input_signers`.
 */
import {
  AapsError,
  bytesToHex,
  canonicalize,
  generateIdentityKey,
  hexToBytes,
  signBytes,
  utf8,
  VerificationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import type { InputSigner } from '../policy/schema.js';
import {
  type InputBinding,
  type InputStatement,
  inputStatementBytes,
  readInputBox,
  SIGNED_INPUT_TYPE,
  signInputStatement,
} from './signed-input.js';

const BINDING: InputBinding = {
  session: 'cost-2026-q3',
  party: 'audit-agent',
  roster: 'aa'.repeat(32),
  circuit: 'cc'.repeat(32),
};
const finance = generateIdentityKey();
const other = generateIdentityKey();
const SIGNERS: InputSigner[] = [
  { id: 'finance-1', public_key: bytesToHex(finance.publicKey) },
  { id: 'finance-2', public_key: bytesToHex(other.publicKey) },
];

const statement = (over: Partial<InputStatement> = {}): InputStatement => ({
  type: SIGNED_INPUT_TYPE,
  ...BINDING,
  signer: 'finance-1',
  values: { 'cost.audit': '1234500' },
  ...over,
});

function refusal(f: () => unknown): VerificationError {
  try {
    f();
  } catch (e) {
    if (e instanceof VerificationError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function errorOf(f: () => unknown): AapsError {
  try {
    f();
  } catch (e) {
    if (e instanceof AapsError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('the signed input statement', () => {
  it('signs "AAPS-AGG-INPUT-v1\\0" || the canonical JSON of the statement (member order aside)', () => {
    const s = statement();
    const bytes = inputStatementBytes(s);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('AAPS-AGG-INPUT-v1\0{')).toBe(true);
    expect(text.slice('AAPS-AGG-INPUT-v1\0'.length)).toBe(canonicalize(s));
    const reordered = Object.fromEntries(Object.entries(s).reverse()) as unknown as InputStatement;
    expect(bytesToHex(inputStatementBytes(reordered))).toBe(bytesToHex(bytes));
    // The wire format, pinned (a regression vector of this implementation): any change to the tag,
    // the domain or the canonical form changes these bytes, and every department's signer with it.
    expect(bytesToHex(sha256(bytes))).toBe(
      bytesToHex(
        sha256(
          utf8(
            'AAPS-AGG-INPUT-v1\0{"circuit":"' +
              'cc'.repeat(32) +
              '","party":"audit-agent","roster":"' +
              'aa'.repeat(32) +
              '","session":"cost-2026-q3","signer":"finance-1","type":"aaps-agg-signed-input/v1","values":{"cost.audit":"1234500"}}',
          ),
        ),
      ),
    );
  });

  it('is an Ed25519 signature any verifier checks with the signer key (deterministic, RFC 8032)', () => {
    const seed = hexToBytes('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const signed = signInputStatement(statement(), seed);
    expect(Buffer.from(signed.sig, 'base64')).toEqual(
      Buffer.from(signBytes(seed, inputStatementBytes(statement()))),
    );
    const rfcKey = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    const opened = readInputBox(signed, BINDING, [{ id: 'finance-1', public_key: rfcKey }]);
    expect(opened).toEqual({ values: { 'cost.audit': '1234500' }, signer: 'finance-1' });
  });
});

describe('readInputBox', () => {
  it('deals a box signed by a listed key for this round, naming its signer', () => {
    const signed = signInputStatement(statement({ signer: 'finance-2' }), other.secretKey);
    expect(readInputBox(JSON.parse(JSON.stringify(signed)), BINDING, SIGNERS)).toEqual({
      values: { 'cost.audit': '1234500' },
      signer: 'finance-2',
    });
  });

  it('without input_signers: deals a plain box, and a signed one, unauthenticated', () => {
    expect(readInputBox({ values: { 'cost.audit': '5' } }, BINDING, undefined)).toEqual({
      values: { 'cost.audit': '5' },
    });
    const signed = signInputStatement(statement(), other.secretKey); // not even the right key
    expect(readInputBox(signed, BINDING, undefined)).toEqual({ values: { 'cost.audit': '1234500' } });
  });

  it('with input_signers: refuses a plain (coordinator-sealed) box', () => {
    const e = refusal(() => readInputBox({ values: { 'cost.audit': '0' } }, BINDING, SIGNERS));
    expect(e.code).toBe('INPUT_UNAUTHENTICATED');
    expect(e.check).toBe('aggregation.input_unsigned');
    expect(e.details['fields']).toEqual(['body.input']);
    expect(e.details['party']).toBe('audit-agent');
    // An empty list refuses every sealed input.
    expect(refusal(() => readInputBox({ values: {} }, BINDING, [])).check).toBe('aggregation.input_unsigned');
    const signed = signInputStatement(statement(), finance.secretKey);
    expect(refusal(() => readInputBox(signed, BINDING, [])).check).toBe('aggregation.input_signer');
  });

  it('refuses a signer it does not list, and a listed id whose key did not sign', () => {
    const stranger = generateIdentityKey();
    const unlisted = signInputStatement(statement({ signer: 'gateway' }), stranger.secretKey);
    const e = refusal(() => readInputBox(unlisted, BINDING, SIGNERS));
    expect([e.code, e.check]).toEqual(['INPUT_UNAUTHENTICATED', 'aggregation.input_signer']);
    // The refusal goes back to the coordinator: it does not echo what the box says.
    expect(e.message).not.toContain('gateway');
    const impostor = signInputStatement(statement({ signer: 'finance-1' }), stranger.secretKey);
    const f = refusal(() => readInputBox(impostor, BINDING, SIGNERS));
    expect([f.code, f.check, f.details['signer']]).toEqual([
      'INPUT_UNAUTHENTICATED',
      'aggregation.input_signature',
      'finance-1',
    ]);
  });

  it('refuses values changed after signing', () => {
    const signed = signInputStatement(statement(), finance.secretKey);
    const changed = { ...signed, statement: { ...signed.statement, values: { 'cost.audit': '0' } } };
    expect(refusal(() => readInputBox(changed, BINDING, SIGNERS)).check).toBe('aggregation.input_signature');
  });

  it.each([
    ['session', 'cost-2026-q2'],
    ['party', 'strategy-agent'],
    ['roster', 'ab'.repeat(32)],
    ['circuit', 'cd'.repeat(32)],
  ] as const)('refuses a statement signed for another %s, with or without input_signers', (key, value) => {
    const signed = signInputStatement(statement({ [key]: value }), finance.secretKey);
    for (const signers of [SIGNERS, undefined]) {
      const e = refusal(() => readInputBox(signed, BINDING, signers));
      expect([e.code, e.check, e.details['statement_field']]).toEqual([
        'INPUT_UNAUTHENTICATED',
        'aggregation.input_binding',
        key,
      ]);
      expect(e.message).not.toContain(value);
    }
  });

  it('reads the signed form strictly', () => {
    const signed = signInputStatement(statement(), finance.secretKey);
    const cases: [unknown, string][] = [
      [{ ...signed, extra: 1 }, 'INVALID_ARGUMENT'],
      [{ ...signed, statement: { ...signed.statement, extra: 1 } }, 'INVALID_ARGUMENT'],
      [{ ...signed, statement: { ...signed.statement, session: 7 } }, 'INVALID_ARGUMENT'],
      [{ ...signed, statement: { ...signed.statement, values: [] } }, 'INVALID_ARGUMENT'],
      [
        { ...signed, statement: { ...signed.statement, type: 'aaps-agg-signed-input/v0' } },
        'UNSUPPORTED_VERSION',
      ],
      [{ statement: signed.statement }, 'INVALID_ARGUMENT'],
      [{ ...signed, sig: 'not base64!' }, 'DECODE_FAILED'],
      ['a string', 'DECODE_FAILED'],
    ];
    for (const [box, code] of cases) {
      const e = errorOf(() => readInputBox(box, BINDING, SIGNERS));
      expect(e.code, JSON.stringify(box).slice(0, 80)).toBe(code);
    }
  });
});
