import { canonicalBytes, type Envelope, generateIdentityKey, signEnvelope } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { type BuildBundleInput, buildBundle, buildBundleStatement } from './bundle/build.js';
import { createBundleVerifier } from './bundle/verify.js';
import { IN_TOTO_PAYLOAD_TYPE } from './dsse.js';
import { ED25519_SUITE } from './keys.js';
import {
  checkEvidenceForSigning,
  EVIDENCE_SIGNING_RULES,
  type EvidenceSigningInput,
} from './signing-check.js';
import type { TranscriptEnvelope, VerifierRoster } from './statement.js';
import {
  frostSigner,
  makeApprovedInput,
  makeEd25519Key,
  makeInput,
  makeRoster,
  makeTranscript,
  memberSigned,
} from './test-helpers/fixtures.js';
import { aggregationRecord, makePooledInput, refFor } from './test-helpers/pooled.js';

const group = makeEd25519Key();
const r = makeRoster();

/** What a coordinator sends a party for one incident: the Statement's bytes and the transcript. */
function offer(transcript: TranscriptEnvelope[] = makeTranscript(r)): EvidenceSigningInput {
  const statement = buildBundleStatement(makeInput(group, r, { transcript }));
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: canonicalBytes(statement),
    transcript,
    roster: r.roster,
    ciphersuite: ED25519_SUITE,
    groupPublicKey: group.publicKey,
    threshold: { min: 3, max: 5 },
  };
}

const ruleOf = (input: EvidenceSigningInput) => {
  const out = checkEvidenceForSigning(input);
  return out.ok ? 'ok' : out.rule;
};

describe('checkEvidenceForSigning', () => {
  it('derives exactly the message aaps-verify checks the group signature against', async () => {
    const transcript = makeTranscript(r);
    const input = makeInput(group, r, { transcript });
    let signed: Uint8Array | undefined;
    const bundle = await buildBundle(input, async (message) => {
      signed = message;
      return group.sign(message);
    });
    const checked = checkEvidenceForSigning(offer(transcript));
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(Buffer.from(checked.message).equals(Buffer.from(signed!))).toBe(true);
    expect(checked.subject).toBe('incident/inc-42');
    expect(createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false }).check(bundle)).toBe(
      true,
    );
  });

  it('refuses any payload type but in-toto', () => {
    for (const payloadType of ['application/json', `${IN_TOTO_PAYLOAD_TYPE} `, '']) {
      expect(ruleOf({ ...offer(), payloadType })).toBe('evidence.payload_type');
    }
  });

  it('refuses a payload that is not an AAPS Statement', () => {
    const good = offer();
    const text = new TextDecoder().decode(good.payload);
    for (const payload of [
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{"_type":"https://in-toto.io/Statement/v1"}'),
      new TextEncoder().encode(text.replace('"predicateType":"', '"predicateType":"x')),
    ]) {
      expect(ruleOf({ ...good, payload })).toBe('evidence.statement');
    }
  });

  it('refuses a Statement payload that is not RFC 8785 canonical, duplicate keys included', () => {
    const good = offer();
    const text = new TextDecoder().decode(good.payload);
    expect(ruleOf(good)).toBe('ok');
    // A second "predicateType" before the real one: JSON.parse keeps the last (valid) value, a
    // first-key-wins reader sees another predicate type.
    const duplicate = text.replace('{"_type":', '{"predicateType":"https://evil.example/v1","_type":');
    expect(JSON.parse(duplicate).predicateType).toBe(JSON.parse(text).predicateType);
    const enc = (t: string) => new TextEncoder().encode(t);
    for (const payload of [
      enc(duplicate),
      enc(` ${text}`),
      enc(JSON.stringify(JSON.parse(text), null, 1)),
      enc(text.replace('"_type":', '"\\u005ftype":')),
    ]) {
      const out = checkEvidenceForSigning({ ...good, payload });
      expect(out.ok).toBe(false);
      if (!out.ok) {
        expect(out.rule).toBe('evidence.statement');
        expect(out.message).toMatch(/canonical/);
      }
    }
  });

  it('refuses a Statement under another group key or ciphersuite, or whose subject names another incident', () => {
    expect(ruleOf({ ...offer(), groupPublicKey: makeEd25519Key().publicKey })).toBe('evidence.statement');
    expect(ruleOf({ ...offer(), ciphersuite: 'FROST-secp256k1-SHA256-TR-v1' })).toBe('evidence.statement');
    const transcript = makeTranscript(r);
    const statement = buildBundleStatement(makeInput(group, r, { transcript }));
    statement.subject[0]!.name = 'incident/inc-other';
    expect(ruleOf({ ...offer(transcript), payload: canonicalBytes(statement) })).toBe('evidence.subject');
  });

  it('refuses a signer the Statement does not name among its signers', () => {
    const named = r.roster.parties.slice(0, 3).map((p) => p.id);
    const ok = checkEvidenceForSigning({ ...offer(), signer: named[1] });
    expect(ok.ok && ok.signers).toEqual(named);
    const other = r.roster.parties[4]!.id;
    expect(ruleOf({ ...offer(), signer: other })).toBe('evidence.signers');
  });

  it('refuses another threshold, and anything but exactly min distinct signers', () => {
    expect(ruleOf({ ...offer(), threshold: { min: 2, max: 5 } })).toBe('evidence.statement');
    const transcript = makeTranscript(r);
    const ids = r.roster.parties.map((p) => p.id);
    for (const signers of [ids.slice(0, 4), ids.slice(0, 2), [ids[0]!, ids[0]!, ids[1]!]]) {
      const payload = canonicalBytes(buildBundleStatement(makeInput(group, r, { transcript, signers })));
      expect(ruleOf({ ...offer(transcript), payload, signer: ids[0]! })).toBe('evidence.signers');
    }
  });

  it('refuses a missing or empty transcript', () => {
    for (const transcript of [undefined, {}, []])
      expect(ruleOf({ ...offer(), transcript })).toBe('evidence.transcript');
  });

  it('refuses a Statement over another transcript, though both are validly signed', () => {
    expect(ruleOf({ ...offer(), transcript: makeTranscript(r) })).toBe('evidence.subject');
  });

  it('refuses a transcript whose Statement matches it but whose signatures do not hold', () => {
    // An envelope changed after signing, then a Statement made over the changed transcript.
    const changed = makeTranscript(r).map((e, i) =>
      i === 2 ? { ...e, payload: { ...(e.payload as object), note: 'rewritten' } } : e,
    );
    const refused = checkEvidenceForSigning(offer(changed));
    expect(refused).toMatchObject({ ok: false, rule: 'evidence.transcript' });
    expect(!refused.ok && refused.message).toMatch(
      /envelope 2 from rca-2 is not signed by the roster party key of rca-2$/,
    );

    // An envelope signed by a key outside the roster, claiming a roster member as its sender.
    const impostor = makeTranscript(r);
    const stranger = generateIdentityKey().secretKey;
    impostor[1] = signEnvelope(impostor[1] as unknown as Envelope, stranger) as unknown as TranscriptEnvelope;
    expect(ruleOf(offer(impostor))).toBe('evidence.transcript');
  });

  it('refuses evidence of an execution whose approval does not hold, or whose order is left out', async () => {
    const frost = frostSigner(ED25519_SUITE, 3, 5);
    const offerFor = (input: Awaited<ReturnType<typeof makeApprovedInput>>): EvidenceSigningInput => ({
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      payload: canonicalBytes(buildBundleStatement(input)),
      transcript: input.transcript,
      roster: r.roster,
      ciphersuite: ED25519_SUITE,
      groupPublicKey: frost.publicKey,
      threshold: { min: 3, max: 5 },
    });
    expect(ruleOf(offerFor(await makeApprovedInput(frost, r)))).toBe('ok');
    const otherKey = await makeApprovedInput(frost, r, { approvalSigner: makeEd25519Key() });
    const refused = checkEvidenceForSigning(offerFor(otherKey));
    expect(refused).toMatchObject({ ok: false, rule: 'evidence.approval' });
    expect(!refused.ok && refused.message).toMatch(/the approval signature does not verify/);
    const full = await makeApprovedInput(frost, r);
    const omitted = {
      ...full,
      transcript: full.transcript.filter(
        (e) => (e.meta as { message_type?: string }).message_type !== 'ExecutionOrder',
      ),
    };
    expect(ruleOf(offerFor(omitted))).toBe('evidence.approval');
  });

  describe('the Statement signs the aggregation the approval cites, one this party confirmed (evidence.aggregation)', () => {
    const record = aggregationRecord({ sessionId: 'risk-1' });
    const ref = refFor(record, 80);
    const statementOffer = (input: BuildBundleInput, confirmed?: (x: typeof ref) => boolean) => ({
      ...offer(input.transcript),
      payload: canonicalBytes(buildBundleStatement(input)),
      ...(confirmed === undefined ? {} : { aggregationConfirmed: confirmed }),
    });

    it('refuses a record digest nothing in the transcript cites', () => {
      expect(ruleOf(statementOffer(makeInput(group, r, { aggregation: record })))).toBe(
        'evidence.aggregation',
      );
    });

    it("holds the digest to the approved proposal's reference and to this party's ledger", async () => {
      const cited = await makePooledInput(group, r, { ref, record });
      expect(ruleOf(statementOffer(cited, (x) => x.output_digest === ref.output_digest))).toBe('ok');
      expect(ruleOf(statementOffer(cited, () => false))).toBe('evidence.aggregation');
      const left = await makePooledInput(group, r, { ref });
      expect(ruleOf(statementOffer(left, () => true))).toBe('evidence.aggregation');
    });

    it('is checked last: evidence failing its approval too names evidence.approval', async () => {
      expect(EVIDENCE_SIGNING_RULES.at(-1)).toBe('evidence.aggregation');
      const bad = await makePooledInput(group, r, { ref: null, record });
      const order = bad.transcript.findIndex(
        (e) => (e.meta as { message_type?: string }).message_type === 'ExecutionOrder',
      );
      const omitted = { ...bad, transcript: bad.transcript.filter((_, i) => i !== order) };
      expect(ruleOf(statementOffer(omitted))).toBe('evidence.approval');
    });
  });

  describe("the Statement roster is the party's own (evidence.roster)", () => {
    /** An offer whose Statement carries `roster` while the party checks against its own `r.roster`. */
    const offerWith = (roster: VerifierRoster, transcript = makeTranscript(r)): EvidenceSigningInput => ({
      ...offer(transcript),
      payload: canonicalBytes(buildBundleStatement(makeInput(group, r, { transcript, roster }))),
    });
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

    it('refuses an approver the gateway invented, with a key it holds, and the "approval" it signed', async () => {
      // The attack: the gateway lists `human:mallory` under a key it holds and signs an approval as
      // mallory. Against the party's roster mallory is a stranger, so only the roster comparison
      // stops it. (Under the gateway's own key the Statement's roster would not even be well
      // formed: one key for two principals, evidence.statement.)
      const mallory = generateIdentityKey();
      const planted: VerifierRoster = {
        ...r.roster,
        approvers: [...r.roster.approvers, { id: 'human:mallory', identity_key: hex(mallory.publicKey) }],
      };
      const transcript = [
        ...makeTranscript(r),
        memberSigned({ id: 'human:mallory', key: mallory }, 'ApprovalDecision', { approve: true }),
      ];
      expect(ruleOf(offerWith(planted, transcript))).toBe('evidence.roster');
      // What aaps-verify would have trusted by default, had the quorum signed it.
      const input = makeInput(group, r, { transcript, roster: planted });
      const bundle = await buildBundle(input, (m) => group.sign(m));
      expect(createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false }).check(bundle)).toBe(
        true,
      );
      const underGatewayKey: VerifierRoster = {
        ...r.roster,
        approvers: [...r.roster.approvers, { id: 'human:mallory', identity_key: r.roster.gateway_key }],
      };
      expect(ruleOf(offerWith(underGatewayKey, transcript))).toBe('evidence.statement');
    });

    it('refuses any other change: a party key, an approver key, a missing member, the gateway key or id, an extra field', () => {
      const other = hex(generateIdentityKey().publicKey);
      const own = r.roster;
      const changed: VerifierRoster[] = [
        { ...own, parties: own.parties.map((p, i) => (i === 1 ? { ...p, identity_key: other } : p)) },
        { ...own, approvers: [{ id: 'human:alice', identity_key: other }] },
        { ...own, approvers: [] },
        { ...own, parties: own.parties.map((p, i) => (i === 4 ? { ...p, id: 'verify-9' } : p)) },
        { ...own, gateway_key: other },
        { ...own, gateway_id: 'gw' },
        { ...own, parties: own.parties.map((p, i) => (i === 0 ? { ...p, role: 'admin' } : p)) },
        { ...own, extra: 'x' } as VerifierRoster,
      ];
      for (const roster of changed) expect(ruleOf(offerWith(roster))).toBe('evidence.roster');
    });

    it('accepts its own roster in any member order, with gateway_id spelt out or left to its default', () => {
      const own = r.roster;
      expect(own.gateway_id).toBeUndefined();
      expect(ruleOf(offerWith({ ...own, parties: [...own.parties].reverse() }))).toBe('ok');
      expect(ruleOf(offerWith({ ...own, gateway_id: 'gateway' }))).toBe('ok');
      // And a party whose roster names its gateway explicitly accepts the writer's spelling.
      expect(
        ruleOf({
          ...offerWith({ ...own, gateway_id: 'gateway' }),
          roster: { ...own, gateway_id: 'gateway' },
        }),
      ).toBe('ok');
      expect(ruleOf({ ...offerWith(own), roster: { ...own, gateway_id: 'gw' } })).toBe('evidence.roster');
    });
  });
});
