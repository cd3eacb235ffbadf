import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bytesToHex,
  concatBytes,
  dealInput,
  getCiphersuite,
  loadCircuit,
  loadFastBackends,
  ProtocolError,
  signBytes,
  utf8,
  ValidationError,
  verifyAggregation,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../../aggregate.js';
import { callSigner } from '../../call-auth.js';
import { PartyClient } from '../../client.js';
import { frostIdentifier, rosterDigest } from '../../roster.js';
import { makeRequest, type RpcKind } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import type { PartyDeps } from '../context.js';
import { parseRiskSubject, type RiskSubject, riskSubjectDigest } from '../pooled-risk.js';
import { errorOf } from '../test-helpers/error-of.js';
import { fiveParties, partyDeps, ROLES } from '../test-helpers/five-parties.js';
import {
  aggregationBodyAllowance,
  ChannelKeys,
  createAggregationHandlers,
  DEALING_TYPE,
  inputAad,
  judgeShareComplaint,
  openAggregationSession,
  parseSignedDealing,
  readCircuitCatalog,
  receivedBoxKey,
  SEALED_INPUT_SUBJECT,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
  sealShares,
  sealToParty,
  signRevealRequest,
  verifyShareBoxes,
} from './aggregation.js';

const SCORES = [80, 40, 10, 100, 0];
const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-'));
const set = fiveParties();
const { roster, keys, gatewayKey } = set;
const digest = rosterDigest(roster);
const circuits = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
const stores: PartyStore[] = [];

const depsFor = (i: number): Promise<PartyDeps> => partyDeps(set, i, { dir, stores, rosterDigest: digest });

/** The cost-total input of party `i` (or `name`), sealed by the gateway. */
function sealedInput(i: number, session: string, value = SCORES[i]!, name = `cost.${ROLES[i]}`): string {
  const p = roster.parties[i]!;
  const text = JSON.stringify({ values: { [name]: value } });
  return sealToParty(p, new TextEncoder().encode(text), inputAad(session, 'gateway', p.id, digest));
}

type Handlers = ReturnType<typeof createAggregationHandlers>;

let handlers: Handlers[];
let partyDepsList: PartyDeps[];
/** Caller-supplied (sealed) inputs: cost-total. The pooled-risk circuit takes derived inputs only. */
const ct = circuits.get('cost-total')!;
const wr = circuits.get('weighted-risk')!;
const SUBJECT: RiskSubject = {
  incident_id: 'inc-1',
  action: 'image_rollback',
  namespace: 'shop',
  factors: { blast_radius: 1, urgency: 'P2', environment: 'staging' },
};

type Dealt = { dealing: SignedDealing; sealed: SealedShares[] };

/** The relayed inboxes and the signed dealings of a round 1. */
function relayed(out: readonly Dealt[]) {
  const inbox = (receiver: string) =>
    out.map((o, i) => {
      const item = o.sealed.find((s) => s.party === receiver)!;
      return { party: roster.parties[i]!.id, box: item.box, sig: item.sig };
    });
  return { dealings: out.map((o) => o.dealing), inbox };
}

/** Round 1 of cost-total on every party (inputs sealed by the gateway). */
async function dealAll(session: string) {
  const out = (await Promise.all(
    handlers.map((h, i) =>
      h.deal(
        session,
        { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(i, session) },
        'gateway',
      ),
    ),
  )) as Dealt[];
  return relayed(out);
}

/** Round 1 of weighted-risk on every party, party `i` shown `subjectOf(i)`. */
async function deriveAll(session: string, subjectOf: (i: number) => RiskSubject = () => SUBJECT) {
  const out = (await Promise.all(
    handlers.map((h, i) =>
      h.deal(session, { circuit: wr.id, circuit_digest: wr.digestHex, derive: subjectOf(i) }, 'gateway'),
    ),
  )) as Dealt[];
  return relayed(out);
}

beforeAll(async () => {
  await loadFastBackends();
  partyDepsList = await Promise.all(ROLES.map((_, i) => depsFor(i)));
  handlers = partyDepsList.map((deps) => createAggregationHandlers(deps, circuits));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('circuit catalog', () => {
  it('loads the shipped circuits', () => {
    expect([...circuits.keys()].sort()).toEqual(['approval-tally', 'cost-total', 'weighted-risk']);
  });

  it("are @aaps/mpc-core's copy of the repository's circuits/, file for file", () => {
    // The party reads the copy the package ships (so an installed @aaps/agents finds it); in the
    // workspace it must be the repository's circuits/ as they are: a stale copy means no build
    // ran since a circuit changed (npm run build copies them).
    const repo = fileURLToPath(new URL('../../../../../circuits/', import.meta.url));
    const names = (d: string) =>
      readdirSync(d)
        .filter((n) => n.endsWith('.json'))
        .sort();
    expect(SHIPPED_CIRCUITS_DIR).toContain(join('mpc-core', 'dist', 'circuits'));
    expect(names(SHIPPED_CIRCUITS_DIR)).toEqual(names(repo));
    for (const n of names(repo)) {
      expect(readFileSync(join(SHIPPED_CIRCUITS_DIR, n), 'utf8'), `${n}: run npm run build`).toBe(
        readFileSync(join(repo, n), 'utf8'),
      );
    }
  });

  it('refuses a directory that is not there, unless it is optional', async () => {
    const missing = join(dir, 'no-such-circuits');
    const e = await errorOf(() => readCircuitCatalog([missing]));
    expect(e.code).toBe('CIRCUIT_INVALID');
    expect(e.message).toContain(missing);
    expect([...readCircuitCatalog([{ path: missing, optional: true }]).keys()]).toEqual([]);
  });

  it('refuses two different circuits under one id', async () => {
    const extra = join(dir, 'circuits-extra');
    mkdirSync(extra, { recursive: true });
    const json = JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'weighted-risk.json'), 'utf8'));
    writeFileSync(join(extra, 'wr.json'), JSON.stringify({ ...json, description: 'changed' }));
    const e = await errorOf(() => readCircuitCatalog([SHIPPED_CIRCUITS_DIR, extra]));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.code).toBe('CIRCUIT_INVALID');
  });
});

describe('channel keys', () => {
  it('both ends of a pair derive the same key, other pairs another', () => {
    const [a, b, c] = [0, 1, 2].map((i) => new ChannelKeys(keys[i]!, roster.parties[i]!.id));
    expect(bytesToHex(a!.key(roster.parties[1]!))).toBe(bytesToHex(b!.key(roster.parties[0]!)));
    expect(bytesToHex(a!.key(roster.parties[1]!))).not.toBe(bytesToHex(a!.key(roster.parties[2]!)));
    expect(JSON.stringify(c)).toBe('"<redacted>"');
  });
});

describe('aggregation handlers', () => {
  it('refuses a circuit named by anything but a string with a 4xx error, not a crash', async () => {
    const hostile = await errorOf(() =>
      handlers[0]!.deal(
        'agg-hostile',
        { circuit: { toString: false }, input: sealedInput(0, 'agg-hostile') },
        'gateway',
      ),
    );
    expect(hostile.code).toBe('CIRCUIT_INVALID');
  });

  it('a party deals once per session and evaluates once', async () => {
    const { dealings, inbox } = await dealAll('agg-once');
    const again = await errorOf(() =>
      handlers[0]!.deal(
        'agg-once',
        { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(0, 'agg-once') },
        'gateway',
      ),
    );
    expect(again.code).toBe('CONFLICT');
    const p = roster.parties[1]!.id;
    const out = handlers[1]!.evaluate('agg-once', { dealings, shares: inbox(p) }) as {
      result_shares: unknown[];
    };
    expect(out.result_shares).toHaveLength(1);
    const twice = await errorOf(() => handlers[1]!.evaluate('agg-once', { dealings, shares: inbox(p) }));
    expect(twice.code).toBe('NOT_FOUND');
  });

  it('a session id is never dealt again: not after its round ended, nor after a restart (R5)', async () => {
    const { dealings, inbox } = await dealAll('agg-reuse');
    handlers[1]!.evaluate('agg-reuse', { dealings, shares: inbox(roster.parties[1]!.id) });
    const body = (i: number) => ({
      circuit: ct.id,
      circuit_digest: ct.digestHex,
      input: sealedInput(i, 'agg-reuse', 7),
    });
    // The round ended here (evaluated): the id stays dealt.
    expect((await errorOf(() => handlers[1]!.deal('agg-reuse', body(1), 'gateway'))).code).toBe('CONFLICT');
    // A restarted party (fresh handlers, same store) remembers it too.
    const restarted = createAggregationHandlers(partyDepsList[2]!, circuits);
    expect((await errorOf(() => restarted.deal('agg-reuse', body(2), 'gateway'))).code).toBe('CONFLICT');
    // Another circuit under the same id as well.
    const other = await errorOf(() =>
      restarted.deal(
        'agg-reuse',
        { circuit: wr.id, circuit_digest: wr.digestHex, derive: SUBJECT },
        'gateway',
      ),
    );
    expect(other.code).toBe('CONFLICT');
  });

  it('an input sealed for another session or caller does not open', async () => {
    const e = await errorOf(() =>
      handlers[0]!.deal(
        'agg-aad',
        { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(0, 'another-session') },
        'gateway',
      ),
    );
    expect(e.code).toBe('VERIFICATION_FAILED');
  });

  it('the pooled-risk circuit takes no caller-supplied input, alone or beside derive (R3)', async () => {
    const sealed = sealedInput(4, 'agg-pooled-input', 0, 'risk.audit');
    const alone = await errorOf(() =>
      handlers[4]!.deal(
        'agg-pooled-input',
        { circuit: wr.id, circuit_digest: wr.digestHex, input: sealed },
        'gateway',
      ),
    );
    expect(alone.code).toBe('FORBIDDEN');
    expect(alone.details.field).toBe('body.input');
    const both = await errorOf(() =>
      handlers[4]!.deal(
        'agg-pooled-both',
        { circuit: wr.id, circuit_digest: wr.digestHex, input: sealed, derive: SUBJECT },
        'gateway',
      ),
    );
    expect(both.code).toBe('FORBIDDEN');
    const neither = await errorOf(() =>
      handlers[4]!.deal('agg-pooled-none', { circuit: wr.id, circuit_digest: wr.digestHex }, 'gateway'),
    );
    expect(neither).toBeInstanceOf(ValidationError);
    expect((neither as ValidationError).fields).toEqual(['body.derive']);
  });

  it('every dealer signs the digest of the subject it derived from, or `sealed`', async () => {
    const derived = await deriveAll('agg-subject');
    for (const d of derived.dealings) {
      const head = JSON.parse(d.payload) as { type: string; subject: string };
      expect(head.type).toBe(DEALING_TYPE);
      expect(head.subject).toBe(riskSubjectDigest(SUBJECT));
    }
    const sealed = await dealAll('agg-subject-sealed');
    for (const d of sealed.dealings) {
      expect((JSON.parse(d.payload) as { subject: string }).subject).toBe(SEALED_INPUT_SUBJECT);
    }
    // The same subject written in another key order is the same digest (canonical JSON).
    const reordered = {
      factors: { environment: 'staging', urgency: 'P2', blast_radius: 1 },
      namespace: 'shop',
      action: 'image_rollback',
      incident_id: 'inc-1',
    } as const;
    expect(riskSubjectDigest(parseRiskSubject(reordered, 'subject'))).toBe(riskSubjectDigest(SUBJECT));
  });

  it('a round whose dealers derived from different subjects is refused by every party, blaming no dealer (R3c)', async () => {
    // The coordinator shows audit a benign subject and everyone else the real one.
    const BENIGN: RiskSubject = {
      ...SUBJECT,
      factors: { blast_radius: 1, urgency: 'P3', environment: 'development' },
    };
    const { dealings, inbox } = await deriveAll('agg-mixed', (i) => (i === 4 ? BENIGN : SUBJECT));
    for (const [i, h] of handlers.entries()) {
      const e = await errorOf(() =>
        h.evaluate('agg-mixed', { dealings, shares: inbox(roster.parties[i]!.id) }),
      );
      expect(e).toBeInstanceOf(ProtocolError);
      expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
      expect((e as ProtocolError).culprits).toEqual([]);
      expect(e.details.check).toBe('aggregation.subject');
      // Audit sees the four others differ from it; the four see audit differ.
      expect(e.details.parties).toEqual(
        i === 4 ? roster.parties.slice(0, 4).map((p) => p.id) : [roster.parties[4]!.id],
      );
    }
  });

  it('a round whose dealers were shown different namespaces is refused too (each scores its own view of it)', async () => {
    const { dealings, inbox } = await deriveAll('agg-mixed-ns', (i) =>
      i === 4 ? { ...SUBJECT, namespace: 'sandbox' } : SUBJECT,
    );
    for (const [i, h] of handlers.entries()) {
      const e = await errorOf(() =>
        h.evaluate('agg-mixed-ns', { dealings, shares: inbox(roster.parties[i]!.id) }),
      );
      expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
      expect(e.details.check).toBe('aggregation.subject');
    }
  });

  it('the same subject everywhere evaluates as before', async () => {
    const { dealings, inbox } = await deriveAll('agg-same');
    for (const [i, h] of handlers.entries()) {
      const out = h.evaluate('agg-same', { dealings, shares: inbox(roster.parties[i]!.id) }) as {
        result_shares: unknown[];
      };
      expect(out.result_shares).toHaveLength(1);
    }
  });

  it.each([
    ['v1', 'no subject'],
    ['v2', 'share boxes under the channel key'],
  ])(
    'a dealing in the old format %s (%s) is refused as an unsupported version, naming its dealer',
    async (version, why) => {
      const session = `agg-${version}`;
      const { dealings, inbox } = await deriveAll(session);
      const { subject, ...old } = JSON.parse(dealings[3]!.payload) as Record<string, unknown>;
      const payload = JSON.stringify({
        ...old,
        ...(version === 'v1' ? {} : { subject }),
        type: `aaps-agg-dealing/${version}`,
      });
      const retired = { payload, sig: signDealing(3, payload) };
      const e = await errorOf(() =>
        handlers[0]!.evaluate(session, {
          dealings: dealings.map((d, i) => (i === 3 ? retired : d)),
          shares: inbox(roster.parties[0]!.id),
        }),
      );
      expect(e).toBeInstanceOf(ProtocolError);
      expect(e.code).toBe('UNSUPPORTED_VERSION');
      expect(e.message).toContain(why);
      expect((e as ProtocolError).culprits).toEqual([frostIdentifier(roster, roster.parties[3]!)]);
    },
  );

  it('a relayed dealing changed by the coordinator is refused without blaming the dealer', async () => {
    const { dealings, inbox } = await dealAll('agg-relay');
    const changed = dealings.map((d, i) =>
      i === 2 ? { ...d, payload: d.payload.replace('"proofs":["', '"proofs":["A') } : d,
    );
    const e = await errorOf(() =>
      handlers[0]!.evaluate('agg-relay', { dealings: changed, shares: inbox(roster.parties[0]!.id) }),
    );
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
    expect((e as ProtocolError).culprits).toEqual([]);
  });

  it('a signed share box that does not open names its dealer', async () => {
    const { dealings, inbox } = await dealAll('agg-box');
    const receiver = roster.parties[0]!.id;
    // The dealer (party 3) signs a box it sealed under the wrong channel key.
    const items = inbox(receiver).map((item, i) => {
      if (i !== 3) return item;
      const bytes = Buffer.from(item.box, 'base64');
      bytes[bytes.length - 1]! ^= 1;
      const box = bytes.toString('base64');
      return { ...item, box, sig: signShareBox(3, 'agg-box', receiver, dealings[3]!.payload, bytes) };
    });
    const e = await errorOf(() => handlers[0]!.evaluate('agg-box', { dealings, shares: items }));
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('INVALID_DEALING');
    expect((e as ProtocolError).culprits).toEqual([frostIdentifier(roster, roster.parties[3]!)]);
  });
});

describe('a dealer payload that gives a key twice', () => {
  it('is refused (DECODE_FAILED naming the key), though its dealer signed it: a first-wins reader would read another dealer', async () => {
    const session = 'agg-dup-key';
    const { dealings } = await dealAll(session);
    const aggSession = openAggregationSession(getCiphersuite(roster.ciphersuite), roster, ct, session);
    const ctx = { suite: aggSession.suite, roster, rosterDigest: digest, session: aggSession };
    const honest = dealings[3]!.payload;
    // JSON.parse keeps the last "dealer" (party 3's own); another reader keeps the first.
    const twice = honest.replace('{', `{"dealer":${JSON.stringify(roster.parties[1]!.id)},`);
    expect(twice).not.toBe(honest);
    const signed = { payload: twice, sig: signDealing(3, twice) };
    const e = await errorOf(() => parseSignedDealing(ctx, signed, 'd', true));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).code).toBe('DECODE_FAILED');
    expect((e as ValidationError).message).toMatch(/^d\.payload: dealer is given twice/);
    // The same dealing without the second key is taken.
    expect(parseSignedDealing(ctx, dealings[3], 'd', true)).toBeDefined();
  });

  it('names a key holding control or bidirectional characters escaped, never raw', async () => {
    const session = 'agg-dup-esc';
    const { dealings } = await dealAll(session);
    const aggSession = openAggregationSession(getCiphersuite(roster.ciphersuite), roster, ct, session);
    const ctx = { suite: aggSession.suite, roster, rosterDigest: digest, session: aggSession };
    const key = '\\u001b[31m\\u202ex';
    const twice = dealings[3]!.payload.replace('{', `{"${key}":1,"${key}":2,`);
    const e = await errorOf(() =>
      parseSignedDealing(ctx, { payload: twice, sig: signDealing(3, twice) }, 'd', true),
    );
    expect((e as ValidationError).code).toBe('DECODE_FAILED');
    expect((e as ValidationError).message).toBe(
      'd.payload: \\u001b[31m\\u202ex is given twice in one object (JSON parsers differ on which one counts)',
    );
  });
});

describe('complaints: a box that opens to shares its dealer refutes', () => {
  const DEALER = 3;
  const RECEIVER = 0;
  /** Round 1 of cost-total with dealer 3's box for receiver 0 sealed over shares of another value. */
  async function withBadShares(session: string) {
    const { dealings, inbox } = await dealAll(session);
    const aggSession = openAggregationSession(getCiphersuite(roster.ciphersuite), roster, ct, session);
    const parse = (i: number) =>
      parseSignedDealing(
        { suite: aggSession.suite, roster, rosterDigest: digest, session: aggSession },
        dealings[i],
        'd',
        true,
      );
    const other = dealInput(
      aggSession,
      { input: `cost.${ROLES[DEALER]}`, dealer: frostIdentifier(roster, roster.parties[DEALER]!), value: 7 },
      (n) => new Uint8Array(randomBytes(n)),
    );
    const receiver = roster.parties[RECEIVER]!;
    const bad = sealShares({
      identity: keys[DEALER]!,
      channels: new ChannelKeys(keys[DEALER]!, roster.parties[DEALER]!.id),
      session,
      dealer: roster.parties[DEALER]!.id,
      receiver,
      rosterDigest: digest,
      payload: dealings[DEALER]!.payload,
      shares: [other.shares[frostIdentifier(roster, receiver)]!],
    });
    const items = inbox(receiver.id).map((item, i) =>
      i === DEALER ? { ...item, box: bad.box, sig: bad.sig } : item,
    );
    const judge = (i: number, box: string, key: Uint8Array) =>
      judgeShareComplaint({
        session: aggSession,
        sessionId: session,
        roster,
        rosterDigest: digest,
        dealing: parse(i),
        receiver,
        box: Buffer.from(box, 'base64'),
        key,
      });
    return { dealings, items, parse, judge, inbox };
  }

  it("the receiver answers a signed complaint with that box's key, and the key proves the dealer", async () => {
    const { dealings, items, judge } = await withBadShares('agg-complaint');
    const out = handlers[RECEIVER]!.evaluate('agg-complaint', { dealings, shares: items }) as {
      complaints: { dealer: string; key: string }[];
      dealings_digest: string;
      result_shares?: unknown;
    };
    expect(out.result_shares).toBeUndefined();
    expect(out.complaints).toHaveLength(1);
    expect(out.complaints[0]!.dealer).toBe(roster.parties[DEALER]!.id);
    const key = Buffer.from(out.complaints[0]!.key, 'base64');
    expect(judge(DEALER, items[DEALER]!.box, key)).toBe('dealer');
    // Another key does not open the box: such a complaint proves its author wrong.
    const wrong = Uint8Array.from(key);
    wrong[0]! ^= 1;
    expect(judge(DEALER, items[DEALER]!.box, wrong)).toBe('receiver');
    expect(judge(DEALER, items[DEALER]!.box, key.subarray(1))).toBe('receiver');
  });

  it("a complaint about an honest dealer's box, with its true key, proves the receiver wrong", async () => {
    const { items, parse, judge } = await withBadShares('agg-false-complaint');
    const channels = new ChannelKeys(keys[RECEIVER]!, roster.parties[RECEIVER]!.id);
    for (const honest of [1, 2, 4]) {
      const { key } = receivedBoxKey(channels, 'agg-false-complaint', digest, parse(honest));
      expect(judge(honest, items[honest]!.box, key)).toBe('receiver');
    }
    // The key of one box opens no other (each box has its own).
    const { key: key3 } = receivedBoxKey(channels, 'agg-false-complaint', digest, parse(DEALER));
    expect(judge(DEALER, items[DEALER]!.box, key3)).toBe('dealer');
    expect(judge(2, items[2]!.box, key3)).toBe('receiver');
  });

  it('the other receivers of that dealer evaluate as before', async () => {
    const { dealings, inbox } = await withBadShares('agg-complaint-others');
    for (const i of [1, 2, 3, 4]) {
      const out = handlers[i]!.evaluate('agg-complaint-others', {
        dealings,
        shares: inbox(roster.parties[i]!.id),
      }) as {
        result_shares: unknown[];
      };
      expect(out.result_shares).toHaveLength(1);
    }
  });
});

describe('second round: revealed shares and excluded dealers (agg.evaluate)', () => {
  const DEALER = 2;
  const RECEIVER = 0;
  type Revealed = { revealed: { party: string; shares: string; sig: string }[] };

  it('a receiver uses dealer-signed revealed shares in place of the box, checked against the commitments', async () => {
    const session = 'agg-revealed';
    const { dealings, inbox } = await dealAll(session);
    /** Receiver `r`'s own signed request that the dealer reveal its shares. */
    const requestOf = (r: number) => ({
      [roster.parties[r]!.id]: signRevealRequest({
        identity: keys[r]!,
        session,
        dealer: roster.parties[DEALER]!.id,
        receiver: roster.parties[r]!.id,
        rosterDigest: digest,
        payloadDigest: sha256(utf8(dealings[DEALER]!.payload)),
      }),
    });
    const { revealed } = (await handlers[DEALER]!.reveal(session, {
      receivers: [roster.parties[RECEIVER]!.id],
      requests: requestOf(RECEIVER),
    })) as Revealed;
    const relay = revealed.map((r) => ({ ...r, party: roster.parties[DEALER]!.id }));
    // Its box from the dealer spoiled on the way: the revealed shares stand in for it.
    const boxes = inbox(roster.parties[RECEIVER]!.id).map((b, i) =>
      i === DEALER ? { ...b, box: 'AAAA' } : b,
    );
    // Signed by the dealer for another receiver: refused as the relay's doing, blaming no dealer.
    const forOther = (await handlers[DEALER]!.reveal('agg-revealed', {
      receivers: [roster.parties[1]!.id],
      requests: requestOf(1),
    })) as Revealed;
    const wrong = await errorOf(() =>
      handlers[RECEIVER]!.evaluate(session, {
        dealings,
        shares: boxes,
        revealed: forOther.revealed.map((r) => ({ ...r, party: roster.parties[DEALER]!.id })),
      }),
    );
    expect(wrong.code).toBe('INCONSISTENT_TRANSCRIPT');
    expect((wrong as ProtocolError).culprits).toEqual([]);
    // The failed call left the round open here: the right shares evaluate.
    const out = handlers[RECEIVER]!.evaluate(session, { dealings, shares: boxes, revealed: relay }) as {
      result_shares: unknown[];
    };
    expect(out.result_shares).toHaveLength(1);
  });

  it('an exclusion needs proof the party can check: its own failed box, or t receivers signed reveal requests', async () => {
    const session = 'agg-excluded-proof';
    const { dealings, inbox } = await dealAll(session);
    const shares = inbox(roster.parties[RECEIVER]!.id);
    const dealer = roster.parties[DEALER]!.id;
    const request = (r: number, key = keys[r]!) =>
      signRevealRequest({
        identity: key,
        session,
        dealer,
        receiver: roster.parties[r]!.id,
        rosterDigest: digest,
        payloadDigest: sha256(utf8(dealings[DEALER]!.payload)),
      });
    const proofsFrom = (rs: number[], key?: (r: number) => (typeof keys)[number]) => ({
      [dealer]: Object.fromEntries(rs.map((r) => [roster.parties[r]!.id, request(r, key?.(r))])),
    });
    const excludeWith = (exclusion_proofs?: unknown) =>
      errorOf(() =>
        handlers[RECEIVER]!.evaluate(session, {
          dealings,
          shares,
          excluded: [dealer],
          ...(exclusion_proofs === undefined ? {} : { exclusion_proofs }),
        }),
      );
    // Its box opened here: the coordinator's word, t - 1 requests, requests signed by the wrong
    // keys, or one from the dealer itself do not do.
    for (const proofs of [
      undefined,
      proofsFrom([1, 3]),
      proofsFrom([1, 3, 4], () => keys[0]!),
      { [dealer]: { ...proofsFrom([1, 3])[dealer], [dealer]: request(DEALER) } },
    ]) {
      const refused = await excludeWith(proofs);
      expect(refused.code).toBe('FORBIDDEN');
      expect(refused.message).toMatch(new RegExp(`nothing shows that ${dealer} failed`));
    }
    // t receivers' signed requests do: the exclusion is then judged on the circuit (cost-total
    // gives no substitute, so this one still cannot be excluded).
    const judged = await excludeWith(proofsFrom([1, 3, 4]));
    expect(judged.code).toBe('CIRCUIT_INVALID');
  });

  it('a dealer cannot be excluded on a circuit without substitutes; the party can still evaluate', async () => {
    const session = 'agg-excluded-cost';
    const { dealings, inbox } = await dealAll(session);
    const shares = inbox(roster.parties[RECEIVER]!.id);
    const dealer = roster.parties[DEALER]!.id;
    // Justified (t receivers signed reveal requests), but the circuit has no substitute.
    const exclusion_proofs = {
      [dealer]: Object.fromEntries(
        [1, 3, 4].map((r) => [
          roster.parties[r]!.id,
          signRevealRequest({
            identity: keys[r]!,
            session,
            dealer,
            receiver: roster.parties[r]!.id,
            rosterDigest: digest,
            payloadDigest: sha256(utf8(dealings[DEALER]!.payload)),
          }),
        ]),
      ),
    };
    const e = await errorOf(() =>
      handlers[RECEIVER]!.evaluate(session, { dealings, shares, excluded: [dealer], exclusion_proofs }),
    );
    expect(e.code).toBe('CIRCUIT_INVALID');
    expect(e.message).toMatch(/cost\.strategy has no "excluded" value/);
    const bad = await errorOf(() =>
      handlers[RECEIVER]!.evaluate(session, { dealings, shares, excluded: ['nobody'] }),
    );
    expect(bad.code).toBe('INVALID_ARGUMENT');
    const out = handlers[RECEIVER]!.evaluate(session, { dealings, shares }) as { result_shares: unknown[] };
    expect(out.result_shares).toHaveLength(1);
    // Result shares go out once: a second set over an exclusion would show this party's share of
    // the excluded dealer's input (their difference).
    const again = await errorOf(() =>
      handlers[RECEIVER]!.evaluate(session, { dealings, shares, excluded: [roster.parties[DEALER]!.id] }),
    );
    expect(again.code).toBe('NOT_FOUND');
  });
});

describe("verifyShareBoxes (one dealer's boxes, checked without opening them)", () => {
  const DEALER = 2;
  const check = (payload: string, sealed: unknown) =>
    verifyShareBoxes({
      sessionId: 'agg-boxes',
      roster,
      rosterDigest: digest,
      dealer: roster.parties[DEALER]!.id,
      payload,
      sealed,
    });
  let dealt: { dealing: SignedDealing; sealed: SealedShares[] };

  beforeAll(async () => {
    dealt = (await handlers[DEALER]!.deal(
      'agg-boxes',
      { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(DEALER, 'agg-boxes') },
      'gateway',
    )) as typeof dealt;
  });

  it("accepts an honest dealer's boxes: one per roster party, each well signed", () => {
    const out = check(dealt.dealing.payload, dealt.sealed);
    expect(out.ok).toBe(true);
    expect([...out.boxes.keys()]).toEqual(roster.parties.map((p) => p.id));
    expect(out.missing.length + out.duplicated.length + out.badlySigned.length + out.unexpected).toBe(0);
  });

  it('names receivers with a missing, a duplicated and a badly signed box, and counts strays', () => {
    const [a, b, c, d] = roster.parties.map((p) => p.id);
    const flipped = dealt.sealed.map((item) => {
      if (item.party !== c) return item;
      const sig = Buffer.from(item.sig, 'base64');
      sig[0]! ^= 1;
      return { ...item, sig: sig.toString('base64') };
    });
    const sealed = [
      ...flipped.filter((item) => item.party !== a),
      flipped.find((item) => item.party === b)!,
      { party: 'mallory', box: 'AA==', sig: 'AA==' },
      { party: d, box: 7 },
      null,
    ];
    const out = check(dealt.dealing.payload, sealed);
    expect(out.ok).toBe(false);
    expect(out.missing).toEqual([a]);
    expect(out.duplicated).toEqual([b, d]);
    expect(out.badlySigned).toEqual([c]);
    expect(out.unexpected).toBe(2);
    expect([...out.boxes.keys()]).toEqual([roster.parties[4]!.id]);
  });

  it('binds every box to the exact signed payload: another payload fails them all', () => {
    const out = check(dealt.dealing.payload.replace('"proofs":["', '"proofs":["A'), dealt.sealed);
    expect(out.badlySigned).toEqual(roster.parties.map((p) => p.id));
  });

  it('checks only the receivers asked for, and refuses a dealer outside the roster', async () => {
    const mine = dealt.sealed.filter((item) => item.party === roster.parties[0]!.id);
    const out = verifyShareBoxes({
      sessionId: 'agg-boxes',
      roster,
      rosterDigest: digest,
      dealer: roster.parties[DEALER]!.id,
      payload: dealt.dealing.payload,
      sealed: mine,
      receivers: [roster.parties[0]!.id],
    });
    expect(out.ok).toBe(true);
    const e = await errorOf(() =>
      verifyShareBoxes({
        sessionId: 'agg-boxes',
        roster,
        rosterDigest: digest,
        dealer: 'mallory',
        payload: dealt.dealing.payload,
        sealed: mine,
      }),
    );
    expect(e.code).toBe('UNKNOWN_IDENTIFIER');
  });
});

/** Party `i`'s signature over a dealer payload, as `signDealerPayload` makes it. */
function signDealing(i: number, payload: string): string {
  const sig = signBytes(keys[i]!.secretKey, concatBytes(utf8('AAPS-AGG-DEALING-v1\0'), utf8(payload)));
  return Buffer.from(sig).toString('base64');
}

/** Party `i`'s signature over a share box, as `sealShares` makes it (DST, AAD, box). */
function signShareBox(
  i: number,
  session: string,
  receiver: string,
  payload: string,
  box: Uint8Array,
): string {
  const aad = utf8(
    `aaps-agg-shares/v2|${session}|${roster.parties[i]!.id}|${receiver}|${digest}|${bytesToHex(sha256(utf8(payload)))}`,
  );
  const sig = signBytes(keys[i]!.secretKey, concatBytes(utf8('AAPS-AGG-SHARES-v1\0'), aad, box));
  return Buffer.from(sig).toString('base64');
}

describe('runAggregationOverHttp against party apps (app.request, no ports)', () => {
  let apps: PartyApp[];
  let client: PartyClient;

  beforeAll(async () => {
    apps = await Promise.all(ROLES.map(async (_, i) => createPartyApp(await depsFor(i))));
    const fetchApp: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
      return apps[i]!.app.request(url.pathname, init);
    };
    client = new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp });
  });

  it('opens cost-total to the plaintext sum with a record that verifies', async () => {
    const inputs = Object.fromEntries(roster.parties.map((p, i) => [p.id, SCORES[i]!]));
    const out = await runAggregationOverHttp(client, {
      circuitId: 'cost-total',
      sessionId: 'agg-app-1',
      inputs,
    });
    expect(out.result).toEqual({ total_cost: 230n });
    expect(verifyAggregation(out.record, { circuit: ct }).outputs[0]!.value).toBe(230n);
  });

  it("weighted-risk runs on derived inputs only: a gateway's own input for a department is refused (R3)", async () => {
    // The attack: 0 sealed to four departments, audit derives; the opening would be audit's score.
    const zero = Object.fromEntries(roster.parties.slice(0, 4).map((p) => [p.id, 0]));
    const e = await errorOf(() =>
      runAggregationOverHttp(client, {
        circuitId: 'weighted-risk',
        sessionId: 'agg-app-leak',
        inputs: zero,
        derive: SUBJECT,
      }),
    );
    expect(e.code).toBe('FORBIDDEN');
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'agg-app-derived',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    expect(out.confirmed).toHaveLength(5);
    expect(verifyAggregation(out.record, { circuit: wr }).sessionId).toBe('agg-app-derived');
  });

  it('a session id once run, evaluated and confirmed is refused for a second round (R5)', async () => {
    await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'agg-app-reuse',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    const again = await errorOf(() =>
      runAggregationOverHttp(client, {
        circuitId: 'weighted-risk',
        sessionId: 'agg-app-reuse',
        inputs: {},
        derive: {
          ...SUBJECT,
          incident_id: 'inc-2',
          factors: { ...SUBJECT.factors, environment: 'production' },
        },
        confirm: true,
      }),
    );
    expect(again.code).toBe('CONFLICT');
  });

  it('refuses an unknown circuit, or inputs for a party that provides none, before calling anyone', async () => {
    const unknown = await errorOf(() =>
      runAggregationOverHttp(client, { circuitId: 'nope', sessionId: 'agg-app-2', inputs: {} }),
    );
    expect(unknown.code).toBe('CIRCUIT_INVALID');
    const stranger = await errorOf(() =>
      runAggregationOverHttp(client, {
        circuitId: 'weighted-risk',
        sessionId: 'agg-app-3',
        inputs: { mallory: 1 },
      }),
    );
    expect(stranger.code).toBe('UNKNOWN_IDENTIFIER');
  });
});

describe('body limits of party requests', () => {
  const longCircuit = {
    format: 'aaps-circuit/v1',
    id: 'long-vectors',
    version: 1,
    inputs: ROLES.map((role) => ({
      name: `x.${role}`,
      role,
      range: { min: 0, max: 9 },
      rangeProof: false,
      length: 16_384,
    })),
    outputs: [{ name: 'sum', terms: ROLES.map((role) => ({ input: `x.${role}` })) }],
  };

  it('grows with the largest trusted circuit for the aggregation routes only', async () => {
    const dataDir = join(dir, 'long-circuit-party');
    mkdirSync(join(dataDir, 'circuits'), { recursive: true });
    writeFileSync(join(dataDir, 'circuits', 'long.json'), JSON.stringify(longCircuit));
    const base = await depsFor(0);
    const party = await createPartyApp({ ...base, config: { ...base.config, dataDir } });
    const shipped = aggregationBodyAllowance(circuits, base.suite);
    const allowance = aggregationBodyAllowance(
      readCircuitCatalog([SHIPPED_CIRCUITS_DIR, join(dataDir, 'circuits')]),
      base.suite,
    );
    // Five 16,384-element vectors: 48 bytes an element and 1 KiB an input; one 16,384-element
    // output of at most 45 (two digits and 8 bytes each, and 1 KiB). The shipped circuits need little.
    expect(allowance).toBe(5 * (16_384 * 48 + 1024) + 16_384 * 10 + 1024);
    expect(shipped).toBeLessThan(64 * 1024);
    // A range-proved 0..100 input adds its proof: 7 bits of 160 bytes, in hex (as the record has it).
    const proved = aggregationBodyAllowance(
      new Map([
        [
          'one',
          loadCircuit({
            ...longCircuit,
            id: 'one',
            inputs: [{ name: 'x', role: 'strategy', range: { min: 0, max: 100 } }],
            outputs: [{ name: 'y', terms: [{ input: 'x' }] }],
          }),
        ],
      ]),
      base.suite,
    );
    expect(proved).toBe(48 + 1024 + 2 * 1120 + (3 + 8) + 1024);
    const limit = base.config.maxBodyBytes;

    /** A signed request of about `size` bytes (padding in the body), and the party's status code. */
    const post = async (path: string, kind: RpcKind, size: number) => {
      const body = { padding: 'x'.repeat(size) };
      const request = makeRequest(
        { id: 'gateway', key: gatewayKey },
        roster.parties[0]!.id,
        kind,
        's',
        body,
        {
          trace_id: 't',
        },
      );
      const text = JSON.stringify(request);
      const res = await party.app.request(path, {
        method: 'POST',
        headers: callSigner({ id: 'gateway', key: gatewayKey }, roster.parties).headers(
          roster.parties[0]!.id,
          path,
          text,
        ),
        body: text,
      });
      return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    const over = (await post('/v1/agg/evaluate', 'agg.evaluate', limit + allowance + 1)).code;
    expect(over).toBe('PAYLOAD_TOO_LARGE');
    // Past the plain limit, the aggregation routes authenticate the request and read its body: the
    // route answers (this padding names no session or circuit), not the size check.
    expect(await post('/v1/agg/evaluate', 'agg.evaluate', 2 * limit)).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(await post('/v1/agg/deal', 'agg.deal', 2 * limit)).toEqual({
      status: 400,
      code: 'CIRCUIT_INVALID',
    });
    expect((await post('/v1/agg/confirm', 'agg.confirm', 2 * limit)).code).not.toBe('PAYLOAD_TOO_LARGE');
    // Every other route keeps the plain limit.
    expect((await post('/v1/sign/round2', 'sign.round2', limit + 1)).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await post('/v1/dkg/round1', 'dkg.round1', limit + 1)).code).toBe('PAYLOAD_TOO_LARGE');

    // Sent without a Content-Length (chunked), an oversized body is refused once it passes the
    // limit: the party stops reading there instead of buffering whatever it is sent.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const res = await party.app.request('/v1/sign/round2', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'aaps-call': callSigner({ id: 'gateway', key: gatewayKey }, roster.parties).sign(
          roster.parties[0]!.id,
          {
            path: '/v1/sign/round2',
            length: limit,
          },
        ),
      },
      body: endless,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(limit + 256 * 1024);
  });

  it('refuses requests as busy (503) once held bodies fill its budget, and reads again once they end', async () => {
    const base = await depsFor(1);
    const party = await createPartyApp(base);
    const limit = base.config.maxBodyBytes;
    /** A sender of just under `limit` bytes that then holds the connection open (or, `end`, closes it). */
    let size = 0;
    while (size + 65_536 < limit) size += 65_536;
    const hanging: ReadableStreamDefaultController<Uint8Array>[] = [];
    const send = (end = false) =>
      party.app.request('/v1/sign/round2', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'aaps-call': callSigner({ id: 'gateway', key: gatewayKey }, roster.parties).sign(
            roster.parties[1]!.id,
            {
              path: '/v1/sign/round2',
              length: size,
            },
          ),
        },
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            hanging.push(controller);
            for (let sent = 0; sent < size; sent += 65_536)
              controller.enqueue(new Uint8Array(65_536).fill(0x20));
            if (end) controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    // Twelve at once, each holding about 1 MiB, against the party's 8 MiB budget: some are read
    // (and wait for the rest of their bodies), the others are refused as busy at once.
    const held = Array.from({ length: 12 }, () => Promise.resolve(send()));
    const settled = await Promise.all(
      held.map((p) =>
        Promise.race([
          p.then((r: Response) => r.status),
          new Promise<string>((r) => setTimeout(() => r('held'), 2_000)),
        ]),
      ),
    );
    const busy = settled.filter((x) => x === 503).length;
    expect(busy).toBeGreaterThanOrEqual(4);
    expect(settled.filter((x) => x === 'held').length).toBe(12 - busy);
    // The held senders break off: their bytes go back, and a body of the same size is read again
    // (its whitespace is not an envelope: 400, not 503).
    for (const c of hanging) c.error(new Error('gone'));
    await Promise.allSettled(held);
    expect((await Promise.resolve(send(true))).status).toBe(400);
  });
});
