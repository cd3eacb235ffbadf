/**
 * Department-signed aggregation inputs over five in-process party apps (`app.request`, no ports):
 * a department signs its own figure and seals it to its party (`sealSignedInput`), the coordinator
 * relays the box (`sealedInputs`), and a party whose policy lists `aggregation.input_signers`
 * deals only such a box, for this round. The audit party lists none: it deals as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AapsError,
  bytesToHex,
  generateIdentityKey,
  type IdentityKey,
  loadFastBackends,
  ProtocolError,
  utf8,
  ValidationError,
  verifyAggregation,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AggregationRunOptions, runAggregationOverHttp } from './aggregate.js';
import { sealSignedInput } from './aggregate-input.js';
import { createPartyApp, type PartyApp } from './party/app.js';
import type { PartyDeps } from './party/context.js';
import {
  inputAad,
  readCircuitCatalog,
  SHIPPED_CIRCUITS_DIR,
  sealToParty,
} from './party/routes/aggregation.js';
import { type InputStatement, SIGNED_INPUT_TYPE, signInputStatement } from './party/signed-input.js';
import { errorOf } from './party/test-helpers/error-of.js';
import { fiveParties, inProcessClient, partyDeps, ROLES } from './party/test-helpers/five-parties.js';
import { defaultPolicy } from './policy/defaults.js';
import { parsePolicy } from './policy/schema.js';
import { rosterDigest } from './roster.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-signed-'));
const set = fiveParties();
const { roster, gatewayKey } = set;
const digest = rosterDigest(roster);
const stores: PartyStore[] = [];
const circuits = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
const costTotal = circuits.get('cost-total')!;
const approvalTally = circuits.get('approval-tally')!;

/** Each department's cost (cents). */
const COSTS = [120_00, 75_50, 310_00, 9_99, 1_00_00];
const TOTAL = 615_49n;
const AUDIT = 4;
const SIGNED = [0, 1, 2, 3];
/** Each department's own input-signing key (the audit department has none: no input_signers). */
const signerKeys: IdentityKey[] = ROLES.map(() => generateIdentityKey());
const signerId = (i: number) => `${ROLES[i]}-finance`;
const idOf = (i: number) => roster.parties[i]!.id;

let deps: PartyDeps[];
let apps: PartyApp[];

beforeAll(async () => {
  await loadFastBackends();
  deps = [];
  for (let i = 0; i < 5; i++) {
    // The department's policy file, read as a party reads it: parties 0..3 list their own signer.
    const policy = parsePolicy({
      ...defaultPolicy(ROLES[i]!),
      ...(SIGNED.includes(i)
        ? {
            aggregation: {
              input_signers: [{ id: signerId(i), public_key: bytesToHex(signerKeys[i]!.publicKey) }],
            },
          }
        : {}),
    });
    deps.push(await partyDeps(set, i, { dir, stores, policy }));
  }
  apps = await Promise.all(deps.map((d) => createPartyApp(d)));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Department `i`'s own box for `sessionId`: its cost signed with its key, sealed to its party. */
const departmentBox = (i: number, sessionId: string, value: number = COSTS[i]!) =>
  sealSignedInput({
    roster,
    party: idOf(i),
    sessionId,
    circuit: costTotal,
    values: value,
    signer: { id: signerId(i), secretKey: signerKeys[i]!.secretKey },
  });

/** Every signing department's own box, and the audit party's cost in plaintext (no signers). */
function honest(sessionId: string): Pick<AggregationRunOptions, 'inputs' | 'sealedInputs'> {
  return {
    sealedInputs: Object.fromEntries(SIGNED.map((i) => [idOf(i), departmentBox(i, sessionId)])),
    inputs: { [idOf(AUDIT)]: COSTS[AUDIT]! },
  };
}

const run = (sessionId: string, opts: Partial<AggregationRunOptions>) =>
  runAggregationOverHttp(inProcessClient(set, apps), { circuitId: 'cost-total', sessionId, ...opts });

/** A deal refusal's per-party entries, as the coordinator reports them. */
const errorsOf = (e: AapsError) =>
  e.details['errors'] as { party: string; code: string; fields?: string[]; check?: string }[];

/** The box a party is sent when `statement` (signed by `key`) is sealed to party `i` for `sessionId`. */
function sealedStatement(i: number, sessionId: string, statement: InputStatement, key: IdentityKey): string {
  const signed = signInputStatement(statement, key.secretKey);
  return sealToParty(
    roster.parties[i]!,
    utf8(JSON.stringify(signed)),
    inputAad(sessionId, 'gateway', idOf(i), digest),
  );
}

const statementFor = (i: number, sessionId: string, over: Partial<InputStatement> = {}): InputStatement => ({
  type: SIGNED_INPUT_TYPE,
  session: sessionId,
  party: idOf(i),
  roster: digest,
  circuit: costTotal.digestHex,
  signer: signerId(i),
  values: { [`cost.${ROLES[i]}`]: String(COSTS[i]) },
  ...over,
});

describe('department-signed inputs', () => {
  it('department-signed boxes (and the unconfigured audit party plaintext) open the right total; the audit trail names the signer, not the value', async () => {
    const out = await run('signed-1', honest('signed-1'));
    expect(out.result).toEqual({ total_cost: TOTAL });
    expect(verifyAggregation(out.record, { circuit: costTotal }).outputs[0]!.value).toBe(TOTAL);
    for (let i = 0; i < 5; i++) {
      const trail = await deps[i]!.store.auditTrail();
      const entry = trail.find((e) => e.event === 'agg.input' && e.session === 'signed-1');
      // Exactly these fields: who authored the input (null: not authenticated), never its value.
      expect(entry?.detail).toEqual({
        circuit: 'cost-total',
        circuit_digest: costTotal.digestHex,
        signer: i === AUDIT ? null : signerId(i),
      });
    }
  });

  it('with input_signers, a coordinator-sealed box is refused, naming the parties and the field', async () => {
    // The attack the signature stops: the relaying coordinator seals 0 for every department but
    // one, and would open that one's figure as the total.
    const zeros = Object.fromEntries([0, 1, 2, 3].map((i) => [idOf(i), 0]));
    const e = await errorOf(() => run('unsigned-1', { inputs: { ...zeros, [idOf(AUDIT)]: COSTS[AUDIT]! } }));
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('INPUT_UNAUTHENTICATED');
    expect((e as ProtocolError).culprits).toEqual([]);
    expect(e.details['refused']).toEqual(SIGNED.map(idOf));
    expect(errorsOf(e)).toEqual(
      SIGNED.map((i) => ({
        party: idOf(i),
        code: 'INPUT_UNAUTHENTICATED',
        fields: ['body.input'],
        check: 'aggregation.input_unsigned',
      })),
    );
    // A refused party logged why (the check; never the value), and dealt nothing: no audit entry.
    const lines = (deps[0]!.logger as unknown as { lines: string[] }).lines.map((l) => JSON.parse(l));
    const refusal = lines.find((l) => l.event === 'agg.input_refused' && l.session === 'unsigned-1');
    expect(refusal).toMatchObject({
      level: 'warn',
      check: 'aggregation.input_unsigned',
      circuit: 'cost-total',
    });
    const trail = await deps[0]!.store.auditTrail();
    expect(trail.some((x) => x.session === 'unsigned-1')).toBe(false);
  });

  it('refuses a box signed by a key the party does not list, or by another key under a listed id', async () => {
    const stranger = generateIdentityKey();
    const cases = [
      { sessionId: 'unlisted-1', signer: 'gateway', key: gatewayKey, check: 'aggregation.input_signer' },
      { sessionId: 'unlisted-2', signer: signerId(1), key: stranger, check: 'aggregation.input_signature' },
      // Another department's own key: listed at its party, not at this one.
      {
        sessionId: 'unlisted-3',
        signer: signerId(2),
        key: signerKeys[2]!,
        check: 'aggregation.input_signer',
      },
    ];
    for (const c of cases) {
      const box = sealedStatement(1, c.sessionId, statementFor(1, c.sessionId, { signer: c.signer }), c.key);
      const { sealedInputs, inputs } = honest(c.sessionId);
      const e = await errorOf(() =>
        run(c.sessionId, { inputs, sealedInputs: { ...sealedInputs, [idOf(1)]: box } }),
      );
      expect(e.code, c.sessionId).toBe('INPUT_UNAUTHENTICATED');
      expect(e.details['refused']).toEqual([idOf(1)]);
      expect(errorsOf(e)).toEqual([
        { party: idOf(1), code: 'INPUT_UNAUTHENTICATED', fields: ['body.input'], check: c.check },
      ]);
    }
  });

  it('refuses a box signed for another session, party or circuit', async () => {
    const cases: { sessionId: string; over: (s: string) => Partial<InputStatement> }[] = [
      { sessionId: 'bound-session', over: () => ({ session: 'bound-session-earlier' }) },
      { sessionId: 'bound-party', over: () => ({ party: idOf(2) }) },
      { sessionId: 'bound-circuit', over: () => ({ circuit: approvalTally.digestHex }) },
      { sessionId: 'bound-roster', over: () => ({ roster: 'ab'.repeat(32) }) },
    ];
    for (const c of cases) {
      // Signed with party 0's own department key, so only the binding is wrong.
      const box = sealedStatement(
        0,
        c.sessionId,
        statementFor(0, c.sessionId, c.over(c.sessionId)),
        signerKeys[0]!,
      );
      const { sealedInputs, inputs } = honest(c.sessionId);
      const e = await errorOf(() =>
        run(c.sessionId, { inputs, sealedInputs: { ...sealedInputs, [idOf(0)]: box } }),
      );
      expect(e.code, c.sessionId).toBe('INPUT_UNAUTHENTICATED');
      expect(errorsOf(e)).toEqual([
        {
          party: idOf(0),
          code: 'INPUT_UNAUTHENTICATED',
          fields: ['body.input'],
          check: 'aggregation.input_binding',
        },
      ]);
    }
    // A department box sealed for one session does not even open in another (its seal binds it).
    const stale = departmentBox(0, 'bound-stale-earlier');
    const { sealedInputs, inputs } = honest('bound-stale');
    const e = await errorOf(() =>
      run('bound-stale', { inputs, sealedInputs: { ...sealedInputs, [idOf(0)]: stale } }),
    );
    expect(errorsOf(e).map((x) => x.party)).toEqual([idOf(0)]);
  });

  it('refuses a box whose JSON gives a key twice, as a box that is not JSON: DECODE_FAILED naming the party, the key path in its message', async () => {
    const key = `cost.${ROLES[0]}`;
    // Signed as JSON.parse reads it (the last value); a first-wins reader of the box sees 0.
    const signedText = JSON.stringify(
      signInputStatement(statementFor(0, 'twice-signed'), signerKeys[0]!.secretKey),
    );
    const plainText = JSON.stringify({ values: { [`cost.${ROLES[AUDIT]}`]: String(COSTS[AUDIT]) } });
    const cases = [
      { sessionId: 'twice-signed', i: 0, text: signedText.replace('"values":{', `"values":{"${key}":"0",`) },
      { sessionId: 'twice-plain', i: AUDIT, text: plainText.replace('{"values":', '{"values":{},"values":') },
    ];
    const paths = [`statement.values.${key}`, 'values'];
    for (const [n, c] of cases.entries()) {
      const box = sealToParty(
        roster.parties[c.i]!,
        utf8(c.text),
        inputAad(c.sessionId, 'gateway', idOf(c.i), digest),
      );
      const { sealedInputs, inputs } = honest(c.sessionId);
      const e = await errorOf(() =>
        run(c.sessionId, {
          sealedInputs: { ...sealedInputs, [idOf(c.i)]: box },
          ...(c.i === AUDIT ? {} : { inputs }),
        }),
      );
      expect(e.code, c.sessionId).toBe('DECODE_FAILED');
      expect(e.details['refused']).toEqual([idOf(c.i)]);
      expect(errorsOf(e)).toEqual([{ party: idOf(c.i), code: 'DECODE_FAILED', fields: ['body.input'] }]);
      expect((e.cause as Error).message).toContain(`body.input: ${paths[n]} is given twice in one object`);
      const trail = await deps[c.i]!.store.auditTrail();
      expect(trail.some((x) => x.session === c.sessionId)).toBe(false);
    }
  });

  it('a party without input_signers deals as before: a signed box too, unauthenticated', async () => {
    // The audit party lists no signers: its own department's signed box is dealt (not checked:
    // it has no key to check it with), recorded as unauthenticated.
    const auditKey = generateIdentityKey();
    const { sealedInputs } = honest('unconfigured-1');
    const auditBox = sealSignedInput({
      roster,
      party: idOf(AUDIT),
      sessionId: 'unconfigured-1',
      circuit: costTotal,
      values: { [`cost.${ROLES[AUDIT]}`]: COSTS[AUDIT]! },
      signer: { id: 'audit-finance', secretKey: auditKey.secretKey },
    });
    const out = await run('unconfigured-1', { sealedInputs: { ...sealedInputs, [idOf(AUDIT)]: auditBox } });
    expect(out.result).toEqual({ total_cost: TOTAL });
    const trail = await deps[AUDIT]!.store.auditTrail();
    expect(
      trail.find((e) => e.event === 'agg.input' && e.session === 'unconfigured-1')?.detail?.['signer'],
    ).toBe(null);
  });
});

describe('the options that carry department boxes', () => {
  it('runAggregationOverHttp refuses a party given both inputs and a box, an unknown party, or an empty box', async () => {
    const box = departmentBox(0, 'options-1');
    const both = await errorOf(() =>
      run('options-1', { inputs: { [idOf(0)]: 1 }, sealedInputs: { [idOf(0)]: box } }),
    );
    expect(both).toBeInstanceOf(ValidationError);
    expect((both as ValidationError).fields).toEqual([`sealedInputs.${idOf(0)}`]);
    const stranger = await errorOf(() => run('options-1', { sealedInputs: { mallory: box } }));
    expect([stranger.code, (stranger as ValidationError).fields]).toEqual([
      'UNKNOWN_IDENTIFIER',
      ['sealedInputs.mallory'],
    ]);
    const empty = await errorOf(() => run('options-1', { sealedInputs: { [idOf(0)]: '' } }));
    expect((empty as ValidationError).fields).toEqual([`sealedInputs.${idOf(0)}`]);
  });

  it('sealSignedInput names the bad option before signing anything', async () => {
    const base = {
      roster,
      party: idOf(0),
      sessionId: 'seal-1',
      circuit: costTotal,
      values: 1 as number | string,
      signer: { id: signerId(0), secretKey: signerKeys[0]!.secretKey },
    };
    const fieldsOf = async (over: Partial<typeof base>) =>
      ((await errorOf(() => sealSignedInput({ ...base, ...over }))) as ValidationError).fields;
    expect(await fieldsOf({ party: 'mallory' })).toEqual(['party']);
    expect(await fieldsOf({ values: 'ten' })).toEqual(['values']);
    expect(await fieldsOf({ signer: { id: '', secretKey: signerKeys[0]!.secretKey } })).toEqual([
      'signer.id',
    ]);
    expect(await fieldsOf({ circuit: circuits.get('weighted-risk')! })).toEqual(['circuit']);
    expect((await errorOf(() => sealSignedInput({ ...base, sessionId: 'no spaces' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
  });
});
