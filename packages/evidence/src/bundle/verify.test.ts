import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { ProtocolError, ValidationError, VerificationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { EXECUTION_STEPS } from '../approval.js';
import { IN_TOTO_PAYLOAD_TYPE, pae, signEnvelope } from '../dsse.js';
import { ED25519_SUITE, SECP256K1_TR_SUITE } from '../keys.js';
import { TransparencyLog } from '../log.js';
import { type Statement, statementBytes } from '../statement.js';
import {
  frostSigner,
  gatewaySigned,
  logBundles,
  MemoryStore,
  makeApprovedInput,
  makeEd25519Key,
  makeInput,
  makeLoggedBundles,
  makeRoster,
  makeTranscript,
  memberSigned,
  noteKeyFor,
  ORIGIN,
  resignStatement,
} from '../test-helpers/fixtures.js';
import { aggregationRecord, refFor } from '../test-helpers/pooled.js';
import { attachLogEntry, buildBundle, bundleLogLeaf } from './build.js';
import { type BundleVerifierOptions, createBundleVerifier, verifyBundle } from './verify.js';

/** The failed check's name, message and details, or `undefined` for a valid bundle. */
function failureOf(bundle: unknown, options: BundleVerifierOptions) {
  return createBundleVerifier(options).report(bundle).failure;
}

function checkOf(bundle: unknown, options: BundleVerifierOptions): string | undefined {
  try {
    verifyBundle(bundle, options);
    return undefined;
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    return e.check;
  }
}

describe('verifyBundle', () => {
  it('accepts a logged bundle and reports every check', async () => {
    const { group, bundle } = await makeLoggedBundles(3);
    const out = verifyBundle(bundle, { groupPublicKey: group.publicKey });
    expect(out.incidentId).toBe('inc-0');
    expect(out.logIndex).toBe(0);
    const report = createBundleVerifier({ groupPublicKey: group.publicKey }).report(bundle);
    expect(report.valid).toBe(true);
    expect(Object.fromEntries(report.checks.map((c) => [c.check, c.status]))).toEqual({
      'bundle.format': 'pass',
      'dsse.keyid': 'pass',
      'dsse.signature': 'pass',
      'statement.format': 'pass',
      'statement.subject': 'pass',
      'transcript.signature': 'pass',
      'approval.signature': 'skip',
      'transcript.authority': 'pass',
      'transcript.outcome': 'pass',
      'signers.threshold': 'pass',
      aggregation: 'skip',
      'log.checkpoint': 'pass',
      'log.inclusion': 'pass',
      'log.consistency': 'skip',
    });
  });

  it('survives a JSON round trip', async () => {
    const { group, bundles } = await makeLoggedBundles(2);
    for (const b of bundles) verifyBundle(JSON.parse(JSON.stringify(b)), { groupPublicKey: group.publicKey });
  });

  it('verifies with node:crypto alone: PAE re-derived by hand, crypto.verify on the group key', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const { payloadType, payload, signatures } = bundle.dsseEnvelope;
    const body = Buffer.from(payload, 'base64');
    const paeBytes = Buffer.concat([
      Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${body.length} `),
      body,
    ]);
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), group.publicKey]),
      format: 'der',
      type: 'spki',
    });
    expect(cryptoVerify(null, paeBytes, key, Buffer.from(signatures[0]!.sig, 'base64'))).toBe(true);
  });

  it('fails a bundle signed under another group key: dsse.keyid', async () => {
    const { bundle } = await makeLoggedBundles(1);
    const other = makeEd25519Key();
    expect(checkOf(bundle, { groupPublicKey: other.publicKey })).toBe('dsse.keyid');
    // The failure says which keys: both are public.
    expect(failureOf(bundle, { groupPublicKey: other.publicKey })?.details).toEqual({
      expected: Buffer.from(other.publicKey).toString('hex'),
      actual: bundle.verificationMaterial.groupPublicKey,
    });
  });

  it("names the expected and the actual subject when it is not the incident's or the transcript's", async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const renamed = await resignStatement(bundle, group, (s) => {
      s.subject[0].name = 'incident/other';
    });
    expect(failureOf(renamed, { groupPublicKey: group.publicKey, requireLog: false })).toMatchObject({
      check: 'statement.subject',
      details: { expected: 'incident/inc-0', actual: 'incident/other' },
    });
    const dropped = { ...bundle, transcript: bundle.transcript.slice(1) };
    const failure = failureOf(dropped, { groupPublicKey: group.publicKey });
    expect(failure?.check).toBe('statement.subject');
    expect(failure?.details.actual).toBe(
      JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()).subject[0].digest.sha256,
    );
    expect(failure?.details.expected).toMatch(/^[0-9a-f]{64}$/);
    expect(failure?.details.expected).not.toBe(failure?.details.actual);
  });

  it('fails a signature by another key that claims the group key id: dsse.signature', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const impostor = makeEd25519Key();
    const forged = await resignStatement(bundle, impostor, () => {});
    const [logged] = await logBundles([forged], group);
    expect(checkOf(logged, { groupPublicKey: group.publicKey })).toBe('dsse.signature');
  });

  it('takes exactly one group signature: a second one, even a copy of the first, is dsse.keyid', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const [sig] = bundle.dsseEnvelope.signatures;
    for (const requireLog of [true, false]) {
      const twice = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, signatures: [sig!, sig!] } };
      expect(failureOf(twice, { groupPublicKey: group.publicKey, requireLog })).toMatchObject({
        check: 'dsse.keyid',
        details: { expected: 1, actual: 2 },
      });
    }
  });

  it('never lets a bad aggregate out of buildBundle', async () => {
    const group = makeEd25519Key();
    const impostor = makeEd25519Key();
    const r = makeRoster();
    await expect(buildBundle(makeInput(group, r), impostor.sign)).rejects.toMatchObject({
      check: 'dsse.signature',
    });
  });

  it('hands the signer the Statement whose canonical bytes are the payload it signs', async () => {
    const group = makeEd25519Key();
    let shown: { message: Uint8Array; statement: unknown } | undefined;
    const bundle = await buildBundle(makeInput(group, makeRoster()), (message, statement) => {
      shown = { message, statement };
      return group.sign(message);
    });
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    expect(Buffer.from(statementBytes(shown!.statement as Statement)).equals(payload)).toBe(true);
    expect(Buffer.from(shown!.message).equals(Buffer.from(pae(IN_TOTO_PAYLOAD_TYPE, payload)))).toBe(true);
  });

  it('refuses bad inputs to buildBundle naming the fields', async () => {
    const group = makeEd25519Key();
    const r = makeRoster();
    const bad = makeInput(group, r, {
      signers: ['triage-1', 'intruder', 'fix-3'],
      threshold: { min: 4, max: 5 },
    });
    const err = await buildBundle(bad, group.sign).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fields).toEqual(['signers']);
  });

  it('refuses options that are not an object, or name no usable group key, as ValidationError', () => {
    for (const bad of [undefined, null, 'key', { groupPublicKey: new Uint8Array(31) }, {}]) {
      expect(() => createBundleVerifier(bad as unknown as BundleVerifierOptions)).toThrow(ValidationError);
    }
  });

  it('fails a transcript envelope not signed by its sender: transcript.signature', async () => {
    const group = makeEd25519Key();
    const r = makeRoster();
    const input = makeInput(group, r);
    const env = input.transcript[2]!;
    input.transcript[2] = { ...env, payload: { tampered: true } };
    const [logged] = await logBundles([await buildBundle(input, group.sign)], group);
    expect(checkOf(logged, { groupPublicKey: group.publicKey })).toBe('transcript.signature');
  });

  it('checks transcripts against the trusted roster when one is given', async () => {
    const { group, r, bundle } = await makeLoggedBundles(1);
    verifyBundle(bundle, { groupPublicKey: group.publicKey, roster: r.roster });
    const other = makeRoster();
    const swapped = {
      ...r.roster,
      parties: r.roster.parties.map((p, i) => (i === 0 ? other.roster.parties[0]! : p)),
    };
    swapped.parties[0] = { ...swapped.parties[0]!, id: r.roster.parties[0]!.id };
    expect(checkOf(bundle, { groupPublicKey: group.publicKey, roster: swapped })).toBe(
      'transcript.signature',
    );
    expect(failureOf(bundle, { groupPublicKey: group.publicKey, roster: swapped })?.message).toBe(
      `envelope 1 from ${r.roster.parties[0]!.id} is not signed by the roster party key of ${r.roster.parties[0]!.id}`,
    );
  });

  it('says a sender missing from the trusted roster was checked against the gateway key', async () => {
    const { group, r, bundle } = await makeLoggedBundles(1);
    const failure = failureOf(bundle, {
      groupPublicKey: group.publicKey,
      roster: { ...r.roster, approvers: [] },
    });
    expect(failure).toMatchObject({
      check: 'transcript.signature',
      message:
        'envelope 5 from human:alice: human:alice is not in the trusted roster, so it was checked against the gateway key (gateway, which re-signs outside senders) and does not verify',
      details: { index: 5, source_agent: 'human:alice', signer: 'gateway', in_roster: false },
    });
  });

  it('fails signers outside the roster, too few signers or an unexpected threshold: signers.threshold', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const cases: Array<(s: { predicate: { signers: string[]; threshold: { min: number } } }) => void> = [
      (s) => {
        s.predicate.signers[1] = 'intruder';
      },
      (s) => {
        s.predicate.signers = s.predicate.signers.slice(0, 2);
      },
      (s) => {
        s.predicate.signers = [s.predicate.signers[0]!, s.predicate.signers[0]!, s.predicate.signers[1]!];
      },
      (s) => {
        s.predicate.threshold.min = 6;
      },
    ];
    for (const edit of cases) {
      const forged = await resignStatement(bundle, group, edit);
      forged.verificationMaterial = {
        ...forged.verificationMaterial,
        signers: JSON.parse(Buffer.from(forged.dsseEnvelope.payload, 'base64').toString()).predicate.signers,
        threshold: JSON.parse(Buffer.from(forged.dsseEnvelope.payload, 'base64').toString()).predicate
          .threshold,
      };
      const [logged] = await logBundles([forged], group);
      expect(checkOf(logged, { groupPublicKey: group.publicKey })).toBe('signers.threshold');
    }
    expect(checkOf(bundle, { groupPublicKey: group.publicKey, threshold: { min: 2, max: 5 } })).toBe(
      'signers.threshold',
    );
  });

  it('fails a trusted roster of another size than the signed threshold: signers.threshold', async () => {
    const { group, r, bundle } = await makeLoggedBundles(1);
    // Every signer is in it and every envelope checks: only its size says it is not this key's roster.
    const extra = { id: 'extra-6', identity_key: Buffer.from(makeEd25519Key().publicKey).toString('hex') };
    const roster = { ...r.roster, parties: [...r.roster.parties, extra] };
    expect(failureOf(bundle, { groupPublicKey: group.publicKey, roster })).toMatchObject({
      check: 'signers.threshold',
      message: 'the roster has 6 parties, not 5',
    });
  });

  it('binds the aggregation record and re-checks it with the injected function', async () => {
    const record = aggregationRecord();
    const { group, bundle } = await makeLoggedBundles(1, { pooled: { record, ref: refFor(record, 80) } });
    const seen: unknown[] = [];
    verifyBundle(bundle, { groupPublicKey: group.publicKey, verifyAggregation: (r) => seen.push(r) });
    expect(seen).toEqual([record]);
    const refuse = () => {
      throw new ProtocolError('INVALID_OPENING', 'opening does not match', ['3']);
    };
    expect(checkOf(bundle, { groupPublicKey: group.publicKey, verifyAggregation: refuse })).toBe(
      'aggregation',
    );
    expect(
      checkOf({ ...bundle, aggregation: { ...record, threshold: 2 } }, { groupPublicKey: group.publicKey }),
    ).toBe('aggregation');
    const { aggregation: _gone, ...without } = bundle;
    expect(checkOf(without, { groupPublicKey: group.publicKey })).toBe('aggregation');
  });

  it('requires a log entry unless told otherwise', async () => {
    const group = makeEd25519Key();
    const bundle = await buildBundle(makeInput(group, makeRoster()), group.sign);
    expect(checkOf(bundle, { groupPublicKey: group.publicKey })).toBe('log.inclusion');
    const report = createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false }).report(
      bundle,
    );
    expect(report.valid).toBe(true);
    expect(report.checks.filter((c) => c.check.startsWith('log.')).every((c) => c.status === 'skip')).toBe(
      true,
    );
  });

  it('checks a checkpoint under separate log keys when given', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const logKey = makeEd25519Key();
    expect(checkOf(bundle, { groupPublicKey: group.publicKey, logKeys: [noteKeyFor(logKey)] })).toBe(
      'log.checkpoint',
    );
    verifyBundle(bundle, { groupPublicKey: group.publicKey, logKeys: [noteKeyFor(group)] });
  });

  it('fails a checkpoint from another log than the trusted origin: log.checkpoint', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const base = { groupPublicKey: group.publicKey, logKeys: [noteKeyFor(group)] };
    expect(checkOf(bundle, { ...base, logOrigin: ORIGIN })).toBeUndefined();
    expect(checkOf(bundle, { ...base, logOrigin: 'other.test/log' })).toBe('log.checkpoint');
    const report = createBundleVerifier({ ...base, logOrigin: 'other.test/log' }).report(bundle);
    expect(report.failure?.message).toMatch(/origin/);
  });

  it('fails a signed payload that is not canonical JSON (a duplicate key): statement.format', async () => {
    const group = makeEd25519Key();
    const bundle = await buildBundle(makeInput(group, makeRoster()), group.sign);
    const text = Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString();
    // JSON.parse keeps the last "predicateType", so only the canonical-form check can see it.
    const twice = text.replace('{"_type":', '{"predicateType":"https://evil.example/v1","_type":');
    const dsseEnvelope = await signEnvelope(
      IN_TOTO_PAYLOAD_TYPE,
      new TextEncoder().encode(twice),
      bundle.dsseEnvelope.signatures[0]!.keyid,
      group.sign,
    );
    const options = { groupPublicKey: group.publicKey, requireLog: false };
    expect(checkOf(bundle, options)).toBeUndefined();
    expect(checkOf({ ...bundle, dsseEnvelope }, options)).toBe('statement.format');
  });

  it('checks consistency with an earlier checkpoint, and calls a fork a fork', async () => {
    const { group, log, bundles } = await makeLoggedBundles(3);
    const earlier = (await log.latestCheckpoint())!;
    const { bundle: extra } = await makeLoggedBundles(1, { group });
    await log.append(new TextEncoder().encode('another leaf'));
    await log.append(new TextEncoder().encode('and another'));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const later = { ...bundles[1]!, transparencyLog: undefined };
    const current = attachLogEntry(later, await log.position(1));
    const opts = { groupPublicKey: group.publicKey };
    const proof = await log.consistencyProof(earlier.size, log.size);
    verifyBundle(current, { ...opts, priorCheckpoint: { note: earlier.note, consistencyProof: proof } });
    verifyBundle(bundles[1], { ...opts, priorCheckpoint: { note: earlier.note } });
    expect(checkOf(current, { ...opts, priorCheckpoint: { note: earlier.note } })).toBe('log.consistency');
    expect(
      checkOf(current, {
        ...opts,
        priorCheckpoint: { note: earlier.note, consistencyProof: proof.slice(1) },
      }),
    ).toBe('log.consistency');
    // Another log under the same origin and key with one leaf: same key, other tree: not consistent.
    const forkNote = extra.transparencyLog!.checkpoint;
    expect(checkOf(current, { ...opts, priorCheckpoint: { note: forkNote, consistencyProof: [] } })).toBe(
      'log.consistency',
    );
    // Another log (another origin, signed by the same group key) holding the very same leaves: the
    // same size and root, and still no evidence about this log.
    const other = await TransparencyLog.open(new MemoryStore(), { origin: 'aaps.test/other-log' });
    for (const b of bundles) await other.append(bundleLogLeaf(b));
    const otherNote = await other.signCheckpoint(noteKeyFor(group, 'aaps.test/other-log'), group.sign);
    expect(failureOf(bundles[1], { ...opts, priorCheckpoint: { note: otherNote.note } })).toMatchObject({
      check: 'log.consistency',
      message: 'the two checkpoints are from different logs',
    });
  });

  it('takes, from a list of consistency proofs, the one for each bundle checkpoint size', async () => {
    const { group, log, bundles } = await makeLoggedBundles(2);
    const earlier = (await log.latestCheckpoint())!;
    // Two later checkpoints, each covering one more leaf; a bundle re-issued under each.
    await log.append(new TextEncoder().encode('leaf 3'));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const atThree = attachLogEntry({ ...bundles[0]!, transparencyLog: undefined }, await log.position(0));
    await log.append(new TextEncoder().encode('leaf 4'));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const atFour = attachLogEntry({ ...bundles[1]!, transparencyLog: undefined }, await log.position(1));
    const proof = async (n: number) => ({
      first: earlier.size,
      second: n,
      hashes: await log.consistencyProof(earlier.size, n),
    });
    const both = [await proof(3), await proof(4)];
    const opts = { groupPublicKey: group.publicKey };
    const prior = (consistencyProofs: Awaited<ReturnType<typeof proof>>[]) => ({
      ...opts,
      priorCheckpoint: { note: earlier.note, consistencyProofs },
    });
    expect(earlier.size).toBe(2);
    verifyBundle(atThree, prior(both));
    verifyBundle(atFour, prior(both));
    // Without the proof for its size, a bundle fails, the sizes named.
    expect(() => verifyBundle(atFour, prior([both[0]!]))).toThrow(
      /no consistency proof from tree size 2 to 4/,
    );
    // A proof listed under the wrong sizes is not taken; a wrong proof under the right ones fails.
    expect(checkOf(atFour, prior([{ ...both[0]!, second: 4 }]))).toBe('log.consistency');
    expect(checkOf(atThree, prior([both[0]!, both[1]!].reverse()))).toBeUndefined();
  });

  it('charges a failure that is not a VerificationError to the step it happened in', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    // Only a CBOR-decoded bundle can carry bytes; canonical JSON refuses them while digesting.
    const withBytes = structuredClone(bundle);
    (withBytes.transcript[0]!.payload as Record<string, unknown>).blob = new Uint8Array(2);
    expect(checkOf(withBytes, { groupPublicKey: group.publicKey })).toBe('statement.subject');
    const report = createBundleVerifier({ groupPublicKey: group.publicKey }).report(withBytes);
    expect(report.failure?.check).toBe('statement.subject');
    expect(report.checks.find((c) => c.check === 'transcript.signature')?.status).toBe('not_run');
  });

  it('fails malformed bundles with bundle.format naming the fields', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    for (const bad of [null, [], 'x', { ...bundle, extra: 1 }, { ...bundle, mediaType: 'x' }]) {
      expect(checkOf(bad, { groupPublicKey: group.publicKey })).toBe('bundle.format');
    }
    try {
      verifyBundle({ ...bundle, transcript: [], mediaType: 'x' }, { groupPublicKey: group.publicKey });
    } catch (e) {
      expect((e as VerificationError).details.fields).toEqual(['mediaType', 'transcript']);
    }
  });

  it('refuses an inclusion proof longer than any proof can be before decoding it (bundle.format)', async () => {
    const { group, bundles } = await makeLoggedBundles(1);
    const logged = bundles[0]!;
    const hash = logged.transparencyLog!.inclusionProof[0] ?? '00'.repeat(32);
    for (const length of [129, 1_000_000]) {
      const bad = {
        ...logged,
        transparencyLog: { ...logged.transparencyLog!, inclusionProof: Array(length).fill(hash) },
      };
      const failure = failureOf(bad, { groupPublicKey: group.publicKey });
      expect(failure?.check).toBe('bundle.format');
      expect(failure?.details['fields']).toEqual(['transparencyLog.inclusionProof']);
    }
  });
});

describe('real 3-of-5 FROST signatures from @aaps/mpc-core', () => {
  it('verifies an Ed25519 bundle signed by a FROST quorum, checkpoint included', async () => {
    const group = frostSigner(ED25519_SUITE, 3, 5);
    const r = makeRoster(5);
    const bundle = await buildBundle(makeInput(group, r), group.sign);
    const [logged] = await logBundles([bundle], group);
    verifyBundle(logged, {
      groupPublicKey: group.publicKey,
      roster: r.roster,
      threshold: { min: 3, max: 5 },
    });
  });

  it('verifies a secp256k1-TR (BIP-340) bundle signed by a FROST quorum', async () => {
    const group = frostSigner(SECP256K1_TR_SUITE, 3, 5);
    const r = makeRoster(5);
    const bundle = await buildBundle(makeInput(group, r, { ciphersuite: SECP256K1_TR_SUITE }), group.sign);
    const log = await TransparencyLog.open(new MemoryStore(), { origin: 'aaps.test/log' });
    const index = await log.append(bundleLogLeaf(bundle));
    const key = { name: 'aaps.test/log', type: 'bip340' as const, publicKey: group.publicKey };
    await log.signCheckpoint(key, group.sign);
    const logged = attachLogEntry(bundle, await log.position(index));
    const opts = { groupPublicKey: group.publicKey, ciphersuite: SECP256K1_TR_SUITE } as const;
    verifyBundle(logged, opts);
    expect(
      checkOf(logged, {
        groupPublicKey: frostSigner(SECP256K1_TR_SUITE, 2, 3).publicKey,
        ciphersuite: SECP256K1_TR_SUITE,
      }),
    ).toBe('dsse.keyid');
    expect(checkOf(logged, { groupPublicKey: makeEd25519Key().publicKey })).toBe('dsse.keyid');
    // The suite alone: an Ed25519 bundle relabelled secp256k1-TR, under its own (32-byte) key, is
    // refused for its label, not for another key or a signature that happens not to verify.
    const { group: ed, bundle: edBundle } = await makeLoggedBundles(1);
    const relabelled = {
      ...edBundle,
      verificationMaterial: { ...edBundle.verificationMaterial, ciphersuite: SECP256K1_TR_SUITE },
    };
    expect(failureOf(relabelled, { groupPublicKey: ed.publicKey })).toMatchObject({
      check: 'dsse.keyid',
      details: { expected: ED25519_SUITE, actual: SECP256K1_TR_SUITE },
    });
  });
});

describe('approval.signature: the k-of-n approval of the executed action', () => {
  // A real 3-of-5 FROST group (mpc-core's dealer, rounds and aggregation) signs the approval and
  // the Statement; the roster's gateway signs the ExecutionOrder envelope.
  const group = frostSigner(ED25519_SUITE, 3, 5);
  const r = makeRoster(5);
  const opts = { groupPublicKey: group.publicKey, requireLog: false };
  const approved = async (options: Parameters<typeof makeApprovedInput>[2] = {}) =>
    buildBundle(await makeApprovedInput(group, r, options), group.sign);

  it('passes for a logged bundle whose ExecutionOrder carries the group approval, in its place', async () => {
    const [logged] = await logBundles([await approved()], group);
    const report = createBundleVerifier({ groupPublicKey: group.publicKey, roster: r.roster }).report(logged);
    expect(report.failure).toBeUndefined();
    expect(report.checks.map((c) => `${c.check}:${c.status}`)).toEqual([
      'bundle.format:pass',
      'dsse.keyid:pass',
      'dsse.signature:pass',
      'statement.format:pass',
      'statement.subject:pass',
      'transcript.signature:pass',
      'approval.signature:pass',
      'transcript.authority:pass',
      'transcript.outcome:pass',
      'signers.threshold:pass',
      'aggregation:skip',
      'log.checkpoint:pass',
      'log.inclusion:pass',
      'log.consistency:skip',
    ]);
  });

  it('skips it, saying why, for a bundle with no ExecutionOrder', async () => {
    const bundle = await buildBundle(makeInput(group, r), group.sign);
    const report = createBundleVerifier(opts).report(bundle);
    expect(report.valid).toBe(true);
    expect(report.checks.find((c) => c.check === 'approval.signature')).toEqual({
      check: 'approval.signature',
      status: 'skip',
      message: 'no ExecutionOrder in the transcript',
    });
  });

  it('fails a bundle that shows an executed action but leaves out its ExecutionOrder', async () => {
    const input = await makeApprovedInput(group, r);
    const typeOf = (e: (typeof input.transcript)[number]) =>
      (e.meta as { message_type?: string }).message_type;
    const without = input.transcript.filter((e) => typeOf(e) !== 'ExecutionOrder');
    // Each sign of the execution alone is enough: the predicate's times, its action result, an ExecutionResult.
    const variants = [
      { ...input, transcript: without },
      {
        ...input,
        transcript: without.filter((e) => typeOf(e) !== 'ExecutionResult'),
        times: { received: '2026-11-25T15:00:00Z', executed: '2026-11-25T15:00:06Z' },
        action: null,
      },
      {
        ...input,
        transcript: without.filter((e) => typeOf(e) !== 'ExecutionResult'),
        times: { received: '2026-11-25T15:00:00Z' },
      },
      { ...input, transcript: without, times: { received: '2026-11-25T15:00:00Z' }, action: null },
    ];
    for (const v of variants) {
      expect(failureOf(await buildBundle(v, group.sign), opts)).toMatchObject({
        check: 'approval.signature',
        message: expect.stringMatching(
          /^the bundle records an executed action \(.+\) but no ExecutionOrder$/,
        ),
      });
    }
  });

  it('fails a bundle without an ExecutionOrder for each sign of an execution alone, naming it', async () => {
    const times = makeInput(group, r).times;
    // The gateway writes execution results; quality assurance (a party) its verification report.
    const executor = (type: 'ExecutionResult' | 'VerificationReport') =>
      type === 'ExecutionResult'
        ? gatewaySigned(r, 'maintenance-agent', type, { incident_id: 'inc-42', ok: true })
        : memberSigned(r.parties[3]!, type, { incident_id: 'inc-42', ok: true });
    const cases: [Partial<Parameters<typeof makeInput>[2]>, string][] = [
      ...EXECUTION_STEPS.map((step): [Partial<Parameters<typeof makeInput>[2]>, string] => [
        { times: { ...times, [step]: '2026-11-25T15:03:00Z' } },
        `predicate.times.${step}`,
      ]),
      [{ verification: { healthy: true } }, 'predicate.verification'],
      [{ action: { kind: 'configmap_reload', result: { ok: true } } }, 'predicate.action.result'],
      [
        { transcript: [...makeTranscript(r), executor('ExecutionResult')] },
        'transcript[6] (ExecutionResult)',
      ],
      [
        { transcript: [...makeTranscript(r), executor('VerificationReport')] },
        'transcript[6] (VerificationReport)',
      ],
    ];
    // The same bundle with none of them is valid, its approval skipped.
    expect(checkOf(await buildBundle(makeInput(group, r), group.sign), opts)).toBeUndefined();
    for (const [overrides, marker] of cases) {
      expect(failureOf(await buildBundle(makeInput(group, r, overrides), group.sign), opts)).toMatchObject({
        check: 'approval.signature',
        message: `the bundle records an executed action (${marker}) but no ExecutionOrder`,
      });
    }
  });

  it('fails a flipped byte of the approval signature', async () => {
    const flip = (hex: string) =>
      `${hex.slice(0, 10)}${(Number.parseInt(hex[10]!, 16) ^ 1).toString(16)}${hex.slice(11)}`;
    const bundle = await approved({
      editOrder: (o) => {
        o.approval.signature = flip(o.approval.signature as string);
      },
    });
    expect(failureOf(bundle, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(
        /^ExecutionOrder transcript\[5\]: the approval signature does not verify/,
      ),
      details: { index: 5 },
    });
  });

  it('fails a proposal field changed after the parties signed it', async () => {
    const edits: Array<(p: Record<string, unknown>) => void> = [
      (p) => {
        p.target = 'configmap://payments/other-config';
      },
      (p) => {
        (p.parameters as { rollout_restart: string[] }).rollout_restart.push('deployment://payments/db');
      },
      (p) => {
        (p.risk as { score: number }).score = 5;
      },
    ];
    for (const edit of edits) {
      const bundle = await approved({ editOrder: (o) => edit(o.proposal) });
      expect(failureOf(bundle, opts)?.check).toBe('approval.signature');
    }
  });

  it('fails an approval signed under another group key, whichever key the order names', async () => {
    const other = frostSigner(ED25519_SUITE, 3, 5);
    const claimsTrusted = await approved({ approvalSigner: other });
    expect(failureOf(claimsTrusted, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(/does not verify under the group key/),
    });
    const namesOther = await approved({
      approvalSigner: other,
      editOrder: (o) => {
        o.approval.group_public_key = Buffer.from(other.publicKey).toString('hex');
      },
    });
    expect(failureOf(namesOther, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(/names another group key or ciphersuite/),
      details: {
        expected: { group_public_key: Buffer.from(group.publicKey).toString('hex') },
        actual: { group_public_key: Buffer.from(other.publicKey).toString('hex') },
      },
    });
  });

  it("fails a genuine approval that is not the decision's proposal, or not this incident's", async () => {
    const input = await makeApprovedInput(group, r);
    const decided = await buildBundle(
      { ...input, decision: { ...input.decision, proposal_digest: 'ab'.repeat(32) } },
      group.sign,
    );
    expect(failureOf(decided, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(/not the one the decision names/),
      details: { expected: 'ab'.repeat(32) },
    });
    // A valid approval of incident A replayed into the evidence of incident B.
    const replayed = await buildBundle(
      { ...input, incident: { id: 'inc-other', type: 'config_validation_failed' } },
      group.sign,
    );
    expect(failureOf(replayed, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(/not for incident inc-other/),
    });
  });

  it('fails a signed proposal whose proposal_digest is not its digest', async () => {
    // Parties check the digest before they sign; an auditor re-derives it from the proposal.
    const bundle = await approved({
      editProposal: (p) => {
        p.proposal_digest = 'cd'.repeat(32);
      },
    });
    expect(failureOf(bundle, opts)).toMatchObject({
      check: 'approval.signature',
      message: expect.stringMatching(/proposal_digest is not the digest of the proposal/),
      details: { actual: 'cd'.repeat(32) },
    });
  });

  it('verifies a secp256k1-TR (BIP-340) approval under its group key', async () => {
    const tr = frostSigner(SECP256K1_TR_SUITE, 3, 5);
    const bundle = await buildBundle(
      await makeApprovedInput(tr, r, { ciphersuite: SECP256K1_TR_SUITE }),
      tr.sign,
    );
    const trOpts = {
      groupPublicKey: tr.publicKey,
      ciphersuite: SECP256K1_TR_SUITE,
      requireLog: false,
    } as const;
    expect(failureOf(bundle, trOpts)).toBeUndefined();
    const forged = await buildBundle(
      await makeApprovedInput(tr, r, {
        ciphersuite: SECP256K1_TR_SUITE,
        approvalSigner: frostSigner(SECP256K1_TR_SUITE, 3, 5),
      }),
      tr.sign,
    );
    expect(failureOf(forged, trOpts)?.check).toBe('approval.signature');
  });
});
