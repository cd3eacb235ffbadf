/**
 * One valid call of every function `@aaps/mpc-core` exports (index.ts), for the laws that range
 * over the whole public API: bad arguments give typed errors (`public-api.test.ts`), a bad `rng`
 * is refused wherever one is taken (`rng.prop.test.ts`). Every case builds fresh arguments on each
 * call, since many calls use up what they are given (nonces, round secrets, stored records).
 */

import { schnorr } from '@noble/curves/secp256k1.js';
import { circuitJson, circuits, partiesFor, seededRng } from '../aggregation/test-helpers/fixtures.js';
import type {
  AggregationRecord,
  AnyCiphersuite,
  Circuit,
  DealerOutput,
  InputDealing,
  KeyPackage,
  OpenedResult,
  ResultShare,
  Rng,
  SealedField,
  SigningTransport,
  VerifiedInput,
} from '../index.js';
import * as mpc from '../index.js';
import { makeParties } from '../sealing/test-helpers/parties.js';
import { immediateSleep } from './signing-network.js';

export interface ApiCase {
  /** `name` (an export), `Name.method` (a member of an exported object) or `Name#method` / `new Name`. */
  readonly name: string;
  /** Makes the call (async results are returned as promises). */
  readonly call: (...args: unknown[]) => unknown;
  /** Fresh valid arguments, optional ones included where they matter. */
  readonly args: () => unknown[] | Promise<unknown[]>;
  /** Where an `rng` goes: an argument index, or `[index, key]` of an options object. */
  readonly rng?: number | readonly [number, string];
  /** Argument positions that may be left `undefined` (optional arguments). */
  readonly optional?: readonly number[];
  /**
   * Argument positions where any value is legitimate, with why: a JSON value to encode, a label
   * used only in error messages, a predicate that answers `false`.
   */
  readonly anyValue?: readonly number[];
  /** Positions taking a secret key as `SecretBytes` or as raw bytes (identity-key signing). */
  readonly rawSecret?: readonly number[];
}

const ID = 'FROST-ED25519-SHA512-v1' as const;
const T = { min: 2, max: 3 } as const;
const utf8 = (s: string) => new TextEncoder().encode(s);

let counter = 0;
/** A fresh deterministic rng (a new stream each time). */
const freshRng = (): Rng => seededRng(`api-cases:${counter++}`);

const drain = <T>(g: Generator<void, T, void>): T => {
  for (;;) {
    const n = g.next();
    if (n.done) return n.value;
  }
};

function envelope(): mpc.Envelope {
  return {
    meta: {
      trace_id: 't-1',
      span_id: 's-1',
      timestamp: '2026-11-25T15:00:00+08:00',
      source_agent: 'monitoring-agent',
      target_agent: 'super-agent',
      message_type: 'IncidentSignal',
      schema_version: mpc.SCHEMA_VERSION,
      idempotency_key: 'req-1',
    },
    context: { namespace: 'payments', cluster: 'prod-1', urgency: 'P1', constraints_ref: 'policy://x' },
    payload: { severity: 'high' },
  };
}

interface Fixture {
  suite: AnyCiphersuite;
  ids: string[];
  deal: DealerOutput;
  kp: readonly KeyPackage[];
  pub: mpc.PublicKeyPackage;
  identity: mpc.IdentityKey;
  x25519: { publicKey: Uint8Array; secretKey: mpc.SecretBytes };
  field: SealedField;
  sealingParties: ReturnType<typeof makeParties>;
  requester: ReturnType<typeof makeParties>[number];
  circuit: Circuit;
  session: mpc.AggregationSession<unknown>;
  dealings: InputDealing[];
  verified: VerifiedInput[];
  resultShares: ResultShare[];
  opened: OpenedResult;
  record: AggregationRecord;
  bulk: { session: mpc.AggregationSession<unknown>; dealings: InputDealing[] };
}

const INCIDENT = 'inc-api-1';

async function fixture(): Promise<Fixture> {
  const suite = mpc.ciphersuites.ed25519;
  const ids = [1, 2, 3].map((n) => mpc.identifierFromNumber(suite, n));
  const deal = mpc.trustedDealer(suite, T, { rng: freshRng() });
  const identity = mpc.generateIdentityKey(freshRng());
  const x25519 = {
    publicKey: mpc.x25519FromIdentityPublicKey(identity.publicKey),
    secretKey: mpc.x25519FromIdentitySecretKey(identity.secretKey),
  };
  const sealingParties = makeParties(3);
  const [requester] = makeParties(1, 'approver');
  const field = await mpc.sealValue({ password: 'p' }, '/db', {
    incidentId: INCIDENT,
    parties: sealingParties,
    threshold: 2,
    rng: freshRng(),
  });
  const circuit = circuits['weighted-risk'];
  const session = mpc.createAggregationSession(suite, {
    circuit,
    sessionId: 'api-cases',
    threshold: 3,
    parties: partiesFor(suite),
  });
  const rng = freshRng();
  const dealings = circuit.inputs.map((inp, i) =>
    mpc.dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: 10 }, rng),
  );
  const resultShares: ResultShare[] = [];
  let verified: VerifiedInput[] = [];
  for (const p of session.parties) {
    const v = dealings.map((d) => mpc.verifyDealing(session, d, p.id));
    if (verified.length === 0) verified = v;
    resultShares.push(...mpc.evaluateShares(session, p.id, v));
  }
  const opened = mpc.openResult(session, dealings, resultShares, rng);
  const record = mpc.buildAggregationRecord(session, dealings, opened);
  return {
    bulk: bulkDealings(suite),
    suite,
    ids,
    deal,
    kp: deal.keyPackages,
    pub: deal.publicPackage,
    identity,
    x25519,
    field,
    sealingParties,
    requester: requester!,
    circuit,
    session,
    dealings,
    verified,
    resultShares,
    opened,
    record,
  };
}

/** 24 scalar inputs from one dealer, without range proofs: a batch big enough to be batched. */
function bulkDealings(suite: AnyCiphersuite) {
  const names = Array.from({ length: 24 }, (_, i) => `bulk.${i}`);
  const circuit = mpc.loadCircuit({
    format: 'aaps-circuit/v1',
    id: 'bulk',
    version: 1,
    inputs: names.map((name) => ({
      name,
      role: 'monitoring',
      range: { min: 0, max: 100 },
      rangeProof: false,
    })),
    outputs: [{ name: 'sum', terms: names.map((input) => ({ input })) }],
  });
  const session = mpc.createAggregationSession(suite, {
    circuit,
    sessionId: 'api-cases.bulk',
    threshold: 2,
    parties: partiesFor(suite, 3),
  });
  const dealings = mpc.dealInputs(
    session,
    { dealer: session.providers[0]!, values: names.map((input) => ({ input, value: 1 })) },
    freshRng(),
  );
  return { session, dealings };
}

/** The cases, over one fixture (built once: dealer keys, a sealed field, an aggregation run). */
export async function apiCases(): Promise<ApiCase[]> {
  const f = await fixture();
  const { suite, ids, kp, pub } = f;
  const S = suite;
  const bytes = () => Uint8Array.of(1, 2, 3);

  const signingRound = () => {
    const rng = freshRng();
    const n0 = mpc.commit(S, kp[0]!, rng);
    const n1 = mpc.commit(S, kp[1]!, rng);
    const pkg: mpc.SigningPackage = { commitments: [n0.commitment, n1.commitment], message: utf8('m') };
    return { n0, n1, pkg };
  };
  const signed = () => {
    const { n0, n1, pkg } = signingRound();
    const shares = [mpc.signShare(S, kp[0]!, n0, pkg, pub), mpc.signShare(S, kp[1]!, n1, pkg, pub)];
    return { pkg, shares, signature: mpc.aggregate(S, pkg, shares, pub) };
  };
  const dkgR1 = () => {
    const rng = freshRng();
    return ids.map((identifier) => mpc.dkgRound1(S, { identifier, threshold: T, rng }));
  };
  const dkgR2 = () => {
    const r1 = dkgR1();
    const others = (i: number) => r1.filter((_, j) => j !== i).map((r) => r.package);
    const r2 = r1.map((r, i) => mpc.dkgRound2(S, r.secret, others(i)));
    const inbox = r2.flatMap((r) => r.packages).filter((p) => p.receiver === ids[0]);
    return { secret: r2[0]!.secret, round1: others(0), round2: inbox };
  };
  const refreshR1 = () => {
    const rng = freshRng();
    return ids.map((identifier) => mpc.refreshRound1(S, { identifier, threshold: T, rng }));
  };
  const refreshR2 = () => {
    const r1 = refreshR1();
    const others = (i: number) => r1.filter((_, j) => j !== i).map((r) => r.package);
    const r2 = r1.map((r, i) => mpc.refreshRound2(S, r.secret, others(i)));
    const inbox = r2.flatMap((r) => r.packages).filter((p) => p.receiver === ids[0]);
    return { secret: r2[0]!.secret, round1: others(0), round2: inbox };
  };
  const helpers = () => [ids[0]!, ids[1]!];
  const deltasFor = (receiver: string) =>
    [0, 1].map(
      (i) => mpc.repairStep1(S, helpers(), kp[i]!, ids[2]!, freshRng()).find((d) => d.receiver === receiver)!,
    );
  const sigmas = () => {
    // One step-1 run per helper, each delta delivered to its receiver.
    const all = [0, 1].flatMap((i) => mpc.repairStep1(S, helpers(), kp[i]!, ids[2]!, freshRng()));
    return [0, 1].map((i) =>
      mpc.repairStep2(
        S,
        helpers(),
        kp[i]!,
        all.filter((d) => d.receiver === ids[i]),
      ),
    );
  };
  const nonceRecord = () => {
    const n = mpc.commit(S, kp[0]!, freshRng());
    return mpc.nonceRecordFromNonces(S, mpc.keySetIdOf(kp[0]!), n);
  };
  /** One store for every `consume` call: each call saves a fresh record and consumes its key. */
  const consumeStore = new mpc.InMemoryNonceStore();
  const releaseContext = { requestId: 'req-1', incidentId: INCIDENT, requester: 'alice' };
  const release = (i: number) =>
    mpc.signRelease(
      releaseContext,
      f.field,
      f.sealingParties[i]!.id,
      mpc.releaseShare(
        f.field,
        f.sealingParties[i]!.id,
        f.sealingParties[i]!.secret,
        f.requester.x25519PublicKey,
        { incidentId: INCIDENT },
      ),
      f.sealingParties[i]!.identity.secretKey,
    );
  const partyKeys = new Map(f.sealingParties.map((p) => [p.id, p.identity.publicKey]));
  const releases = () => [release(0), release(1)];
  const unsealRequestBody = {
    request_id: 'req-1',
    incident_id: INCIDENT,
    evidence_id: 'ev-1',
    fields: [f.field.id],
    requester: 'alice',
    reason: 'why',
    issued_at: '2026-11-25T16:00:00.000Z',
    expires_at: '2026-11-25T16:15:00.000Z',
  };
  const unsealRequest = () => mpc.signUnsealRequest(unsealRequestBody, f.identity.secretKey);
  const sealedBox = () => mpc.seal(f.x25519.publicKey, bytes(), utf8('aad'), freshRng());
  const transport = (): SigningTransport => {
    const stores = new Map(kp.map((k) => [k.identifier, new mpc.InMemoryNonceStore()]));
    const key = new Map(kp.map((k) => [k.identifier, k]));
    return {
      commit: (party, req) => mpc.commitToStore(S, key.get(party)!, stores.get(party)!, req.count),
      sign: (party, req) =>
        mpc.signFromStore(S, key.get(party)!, stores.get(party)!, req.signingPackage, pub),
    };
  };
  const sessionOptions = () => ({
    suite: S,
    publicPackage: pub,
    transport: transport(),
    sleep: immediateSleep,
  });
  const c0 = () => mpc.pedersenCommit(S, 5n, 7n);
  const rangeStatement = () => ({ commitment: c0(), lo: 0n, hi: 10n, context: utf8('ctx') });
  const { session } = f;

  const cases: ApiCase[] = [
    // bytes.ts
    { name: 'bytesToHex', call: mpc.bytesToHex as never, args: () => [bytes()] },
    {
      name: 'hexToBytes',
      call: mpc.hexToBytes as never,
      args: () => ['0102', 'hex', 2],
      anyValue: [1],
      optional: [2],
    },
    { name: 'concatBytes', call: mpc.concatBytes as never, args: () => [bytes(), bytes()] },
    { name: 'equalBytes', call: mpc.equalBytes as never, args: () => [bytes(), bytes()] },
    { name: 'utf8', call: mpc.utf8 as never, args: () => ['x'] },
    { name: 'randomBytesOf', call: mpc.randomBytesOf as never, args: () => [freshRng(), 8] },
    {
      name: 'assertBytes',
      call: mpc.assertBytes as never,
      args: () => [bytes(), 'b', 3],
      anyValue: [1],
      optional: [2],
    },
    { name: 'base64Encode', call: mpc.base64Encode as never, args: () => [bytes()] },
    { name: 'base64Decode', call: mpc.base64Decode as never, args: () => ['AQID', 'b'], anyValue: [1] },
    { name: 'wipe', call: mpc.wipe as never, args: () => [bytes()] },
    // codec.ts
    { name: 'decodeCbor', call: mpc.decodeCbor as never, args: () => [mpc.encodeCbor({ a: 1 })] },
    // plain-cbor.ts
    { name: 'scanCbor', call: mpc.scanCbor as never, args: () => [mpc.encodeCbor({ a: 1 })] },
    {
      name: 'decodePlainCbor',
      call: mpc.decodePlainCbor as never,
      args: () => [mpc.encodeCbor({ a: 1 }), mpc.decodeCbor, 'thing', '$'],
      optional: [3],
    },
    { name: 'defineCodec', call: mpc.defineCodec as never, args: () => ['T', { a: 'string' }] },
    { name: 'encodeCbor', call: mpc.encodeCbor as never, args: () => [{ a: 1 }], anyValue: [0] },
    // envelope
    { name: 'canonicalize', call: mpc.canonicalize as never, args: () => [{ a: 1 }], anyValue: [0] },
    { name: 'canonicalBytes', call: mpc.canonicalBytes as never, args: () => [{ a: 1 }], anyValue: [0] },
    {
      name: 'canonicalizeEnvelope',
      call: mpc.canonicalizeEnvelope as never,
      args: () => [envelope()],
      // Any JSON value: `signed` is undefined for one that is no envelope.
      anyValue: [0],
    },
    {
      name: 'inCanonicalOrder',
      call: mpc.inCanonicalOrder as never,
      args: () => [{ b: 1, a: 2 }],
      anyValue: [0],
    },
    { name: 'envelopeSigningBytes', call: mpc.envelopeSigningBytes as never, args: () => [envelope()] },
    {
      name: 'generateIdentityKey',
      call: mpc.generateIdentityKey as never,
      args: () => [freshRng()],
      rng: 0,
      optional: [0],
    },
    {
      name: 'identityPublicKey',
      call: mpc.identityPublicKey as never,
      args: () => [f.identity.secretKey],
      rawSecret: [0],
    },
    {
      name: 'signBytes',
      call: mpc.signBytes as never,
      args: () => [f.identity.secretKey, bytes()],
      rawSecret: [0],
    },
    {
      name: 'signEnvelope',
      call: mpc.signEnvelope as never,
      args: () => [envelope(), f.identity.secretKey],
      rawSecret: [1],
    },
    {
      name: 'verifyEnvelope',
      call: mpc.verifyEnvelope as never,
      args: () => [mpc.signEnvelope(envelope(), f.identity.secretKey), f.identity.publicKey],
    },
    { name: 'validateEnvelope', call: mpc.validateEnvelope as never, args: () => [envelope()] },
    // keys, dealer
    {
      name: 'trustedDealer',
      call: mpc.trustedDealer as never,
      args: () => [S, T, { rng: freshRng() }],
      rng: [2, 'rng'],
      optional: [2],
    },
    { name: 'deriveIdentifier', call: mpc.deriveIdentifier as never, args: () => [S, 'alice'] },
    { name: 'identifierFromNumber', call: mpc.identifierFromNumber as never, args: () => [S, 1] },
    {
      name: 'identifierToScalar',
      call: mpc.identifierToScalar as never,
      args: () => [S, ids[0], 'id'],
      anyValue: [2],
    },
    {
      name: 'keyPackageFromShare',
      call: mpc.keyPackageFromShare as never,
      args: () => [
        S,
        {
          identifier: ids[0],
          signingShare: Uint8Array.from(kp[0]!.signingShare.expose()),
          groupPublicKey: pub.groupPublicKey,
          threshold: T,
        },
      ],
    },
    {
      name: 'publicPackageFromKeyPackages',
      call: mpc.publicPackageFromKeyPackages as never,
      args: () => [S, kp],
    },
    { name: 'validateThreshold', call: mpc.validateThreshold as never, args: () => [T, 't'], anyValue: [1] },
    // seal.ts
    {
      name: 'encryptAtRest',
      call: mpc.encryptAtRest as never,
      args: () => [new mpc.SecretBytes(new Uint8Array(32)), bytes(), utf8('aad'), freshRng()],
      rng: 3,
      optional: [3],
    },
    {
      name: 'decryptAtRest',
      call: mpc.decryptAtRest as never,
      args: () => {
        const key = new mpc.SecretBytes(new Uint8Array(32));
        return [key, mpc.encryptAtRest(key, bytes(), utf8('aad'), freshRng()), utf8('aad')];
      },
    },
    {
      name: 'seal',
      call: mpc.seal as never,
      args: () => [f.x25519.publicKey, bytes(), utf8('aad'), freshRng()],
      rng: 3,
      optional: [3],
    },
    { name: 'open', call: mpc.open as never, args: () => [f.x25519.secretKey, sealedBox(), utf8('aad')] },
    {
      name: 'x25519FromIdentityPublicKey',
      call: mpc.x25519FromIdentityPublicKey as never,
      args: () => [f.identity.publicKey],
    },
    {
      name: 'x25519FromIdentitySecretKey',
      call: mpc.x25519FromIdentitySecretKey as never,
      args: () => [f.identity.secretKey],
    },
    // sealing: detection, pointers
    {
      name: 'detectSensitive',
      call: mpc.detectSensitive as never,
      args: () => [{ password: 'x' }, {}],
      anyValue: [0],
      optional: [1],
    },
    {
      name: 'detectSensitivePaths',
      call: mpc.detectSensitivePaths as never,
      args: () => [{ password: 'x' }, {}],
      anyValue: [0],
      optional: [1],
    },
    { name: 'formatPointer', call: mpc.formatPointer as never, args: () => [['a', 0]] },
    { name: 'parsePointer', call: mpc.parsePointer as never, args: () => ['/a', 'path'], anyValue: [1] },
    { name: 'getAtPointer', call: mpc.getAtPointer as never, args: () => [{ a: 1 }, '/a'], anyValue: [0] },
    { name: 'setAtPointer', call: mpc.setAtPointer as never, args: () => [{ a: 1 }, '/a', 2], anyValue: [2] },
    { name: 'matchesPointerPattern', call: mpc.matchesPointerPattern as never, args: () => ['/a/*', '/a/b'] },
    { name: 'isPointerPrefix', call: mpc.isPointerPrefix as never, args: () => ['/a', '/a/b'] },
    { name: 'outermostPointers', call: mpc.outermostPointers as never, args: () => [['/a', '/a/b']] },
    // sealing: sealing fields
    {
      name: 'sealValue',
      call: mpc.sealValue as never,
      args: () => [
        { password: 'p' },
        '/db',
        { incidentId: INCIDENT, parties: f.sealingParties, threshold: 2, rng: freshRng() },
      ],
      rng: [2, 'rng'],
      anyValue: [0],
    },
    {
      name: 'sealPayload',
      call: mpc.sealPayload as never,
      args: () => [
        { db: { password: 'p' } },
        ['/db'],
        { incidentId: INCIDENT, parties: f.sealingParties, threshold: 2, rng: freshRng() },
      ],
      rng: [2, 'rng'],
    },
    {
      name: 'detectAndSeal',
      call: mpc.detectAndSeal as never,
      args: () => [
        { password: 'hunter2-secret' },
        {},
        { incidentId: INCIDENT, parties: f.sealingParties, threshold: 2, rng: freshRng() },
      ],
      rng: [2, 'rng'],
      anyValue: [0],
      optional: [1],
    },
    { name: 'fieldAad', call: mpc.fieldAad as never, args: () => [f.field] },
    { name: 'shareAad', call: mpc.shareAad as never, args: () => [f.field, 'party-1'] },
    {
      name: 'shareCommitment',
      call: mpc.shareCommitment as never,
      args: () => [f.field, 'party-1', bytes()],
    },
    { name: 'valueCommitment', call: mpc.valueCommitment as never, args: () => [bytes(), bytes()] },
    {
      name: 'sealedMarkers',
      call: mpc.sealedMarkers as never,
      args: () => [{ a: { $sealed: 'x' } }],
      anyValue: [0],
    },
    { name: 'SealedFieldCodec.toJSON', call: mpc.SealedFieldCodec.toJSON as never, args: () => [f.field] },
    {
      name: 'SealedFieldCodec.fromJSON',
      call: mpc.SealedFieldCodec.fromJSON as never,
      args: () => [JSON.parse(JSON.stringify(mpc.SealedFieldCodec.toJSON(f.field)))],
    },
    { name: 'SealedFieldCodec.encode', call: mpc.SealedFieldCodec.encode as never, args: () => [f.field] },
    {
      name: 'SealedFieldCodec.decode',
      call: mpc.SealedFieldCodec.decode as never,
      args: () => [mpc.SealedFieldCodec.encode(f.field)],
    },
    {
      name: 'ReleasedShareCodec.toJSON',
      call: mpc.ReleasedShareCodec.toJSON as never,
      args: () => [release(0)],
    },
    {
      name: 'ReleasedShareCodec.fromJSON',
      call: mpc.ReleasedShareCodec.fromJSON as never,
      args: () => [JSON.parse(JSON.stringify(mpc.ReleasedShareCodec.toJSON(release(0))))],
    },
    {
      name: 'ReleasedShareCodec.encode',
      call: mpc.ReleasedShareCodec.encode as never,
      args: () => [release(0)],
    },
    {
      name: 'ReleasedShareCodec.decode',
      call: mpc.ReleasedShareCodec.decode as never,
      args: () => [mpc.ReleasedShareCodec.encode(release(0))],
    },
    // sealing: unsealing
    {
      name: 'releaseShare',
      call: mpc.releaseShare as never,
      args: () => [
        f.field,
        f.sealingParties[0]!.id,
        f.sealingParties[0]!.secret,
        f.requester.x25519PublicKey,
        { incidentId: INCIDENT, rng: freshRng() },
      ],
      rng: [4, 'rng'],
    },
    {
      name: 'releaseAad',
      call: mpc.releaseAad as never,
      args: () => [f.field, 'party-1', f.requester.x25519PublicKey],
    },
    {
      name: 'combineReleased',
      call: mpc.combineReleased as never,
      args: () => [f.field, releases(), f.requester.secret],
    },
    {
      name: 'openFields',
      call: mpc.openFields as never,
      args: () => [
        [f.field],
        releases().map((r) => ({ ...r, field: f.field.id })),
        f.requester.secret,
        { ...releaseContext, partyKeys },
      ],
    },
    {
      name: 'signRelease',
      call: mpc.signRelease as never,
      args: () => [
        releaseContext,
        f.field,
        'party-1',
        release(0).box,
        f.sealingParties[0]!.identity.secretKey,
      ],
    },
    {
      name: 'releaseSignatureBytes',
      call: mpc.releaseSignatureBytes as never,
      args: () => [releaseContext, f.field, 'party-1', release(0).box],
    },
    {
      name: 'releaseSignedBy',
      call: mpc.releaseSignedBy as never,
      args: () => [releaseContext, f.field, release(0), f.sealingParties[0]!.identity.publicKey],
    },
    {
      name: 'authenticateReleases',
      call: mpc.authenticateReleases as never,
      args: () => [
        [f.field],
        releases().map((r) => ({ ...r, field: f.field.id })),
        releaseContext,
        partyKeys,
      ],
    },
    {
      name: 'fillSealedValues',
      call: mpc.fillSealedValues as never,
      args: () => [{ a: { $sealed: 'x' } }, new Map([['x', 1]])],
      anyValue: [0],
    },
    // sealing: unseal requests
    {
      name: 'unsealRequestSigningBytes',
      call: mpc.unsealRequestSigningBytes as never,
      args: () => [unsealRequestBody],
    },
    {
      name: 'signUnsealRequest',
      call: mpc.signUnsealRequest as never,
      args: () => [unsealRequestBody, f.identity.secretKey],
    },
    { name: 'parseUnsealRequest', call: mpc.parseUnsealRequest as never, args: () => [unsealRequest()] },
    {
      name: 'verifyUnsealRequest',
      call: mpc.verifyUnsealRequest as never,
      args: () => [unsealRequest(), f.identity.publicKey, new Date('2026-11-25T16:05:00Z'), 1000],
      optional: [3],
    },
    {
      name: 'checkUnsealFields',
      call: mpc.checkUnsealFields as never,
      args: () => [unsealRequest(), [f.field]],
    },
    { name: 'sealedBoxDigest', call: mpc.sealedBoxDigest as never, args: () => [sealedBox()] },
    {
      name: 'unsealReleaseRecord',
      call: mpc.unsealReleaseRecord as never,
      args: () => [
        {
          request: unsealRequest(),
          party: 'party-1',
          field: f.field.id,
          decision: 'released',
          box: sealedBox(),
        },
      ],
    },
    // secret.ts
    { name: 'new SecretBytes', call: (b) => new mpc.SecretBytes(b as Uint8Array), args: () => [bytes()] },
    // signing
    { name: 'commit', call: mpc.commit as never, args: () => [S, kp[0], freshRng()], rng: 2, optional: [2] },
    {
      name: 'preprocess',
      call: mpc.preprocess as never,
      args: () => [S, kp[0], 2, freshRng()],
      rng: 3,
      optional: [3],
    },
    {
      name: 'signShare',
      call: mpc.signShare as never,
      args: () => {
        const { n0, pkg } = signingRound();
        return [S, kp[0], n0, pkg, pub];
      },
    },
    {
      name: 'aggregate',
      call: mpc.aggregate as never,
      args: () => {
        const { pkg, shares } = signed();
        return [S, pkg, shares, pub];
      },
    },
    {
      name: 'verifyShare',
      call: mpc.verifyShare as never,
      args: () => {
        const { pkg, shares } = signed();
        return [S, pkg, shares[0], pub];
      },
    },
    {
      name: 'verify',
      call: mpc.verify as never,
      args: () => {
        const { pkg, signature } = signed();
        return [S, pub.groupPublicKey, pkg.message, signature];
      },
      // A predicate: wrong bytes are simply not a valid signature.
      anyValue: [1, 2, 3],
    },
    {
      name: 'verifyEd25519',
      call: mpc.verifyEd25519 as never,
      args: () => {
        const { pkg, signature } = signed();
        return [pub.groupPublicKey, pkg.message, signature];
      },
      anyValue: [0, 1, 2],
    },
    {
      name: 'verifyBip340',
      call: mpc.verifyBip340 as never,
      args: () => {
        const secret = new Uint8Array(32).fill(3);
        const message = mpc.utf8('a BIP-340 signature');
        return [schnorr.getPublicKey(secret), message, schnorr.sign(message, secret)];
      },
      // A predicate, as verifyEd25519: wrong bytes are simply not a valid signature.
      anyValue: [0, 1, 2],
    },
    { name: 'getCiphersuite', call: mpc.getCiphersuite as never, args: () => [ID], optional: [0] },
    // codecs (wire.ts)
    ...codecCases(f, {
      signingRound,
      signed,
      dkgR1,
      dkgR2,
      refreshR1,
      refreshR2,
      deltasFor,
      sigmas,
      sealedBox,
    }),
    // aggregation
    {
      name: 'loadCircuit',
      call: mpc.loadCircuit as never,
      args: () => [circuitJson['weighted-risk'], {}],
      optional: [1],
    },
    {
      name: 'evaluateCircuit',
      call: mpc.evaluateCircuit as never,
      args: () => [f.circuit, Object.fromEntries(f.circuit.inputs.map((i) => [i.name, 10n]))],
    },
    { name: 'pedersenGenerator', call: mpc.pedersenGenerator as never, args: () => [S] },
    { name: 'pedersenCommit', call: mpc.pedersenCommit as never, args: () => [S, 5n, 7n] },
    { name: 'openingCommitment', call: mpc.openingCommitment as never, args: () => [S, 5n, 7n] },
    {
      name: 'createAggregationSession',
      call: mpc.createAggregationSession as never,
      args: () => [S, { circuit: f.circuit, sessionId: 's-1', threshold: 3, parties: partiesFor(S) }],
    },
    {
      name: 'sessionDigest',
      call: mpc.sessionDigest as never,
      args: () => [ID, f.circuit.digestHex, 's-1', 3, partiesFor(S)],
    },
    {
      name: 'inputProofContext',
      call: mpc.inputProofContext as never,
      args: () => [session, session.providers[0], f.circuit.inputs[0]!.name],
    },
    {
      name: 'dealInput',
      call: mpc.dealInput as never,
      args: () => [
        session,
        { input: f.circuit.inputs[0]!.name, dealer: session.providers[0], value: 10 },
        freshRng(),
      ],
      rng: 2,
    },
    {
      name: 'dealInputs',
      call: mpc.dealInputs as never,
      args: () => [
        session,
        { dealer: session.providers[0], values: [{ input: f.circuit.inputs[0]!.name, value: 10 }] },
        freshRng(),
        {},
      ],
      rng: 2,
      optional: [3],
    },
    { name: 'publicDealing', call: mpc.publicDealing as never, args: () => [f.dealings[0]] },
    {
      name: 'checkPublicDealing',
      call: mpc.checkPublicDealing as never,
      args: () => [session, mpc.publicDealing(f.dealings[0]!), {}],
      optional: [2],
    },
    { name: 'precheckOpening', call: mpc.precheckOpening as never, args: () => [session, f.dealings] },
    {
      name: 'verifyDealing',
      call: mpc.verifyDealing as never,
      args: () => [session, f.dealings[0], session.parties[0]!.id],
    },
    {
      name: 'verifyDealings',
      call: mpc.verifyDealings as never,
      // Enough dealings for the batched check, which draws its weights from `rng`.
      args: () => [f.bulk.session, f.bulk.dealings, f.bulk.session.parties[0]!.id, freshRng(), {}],
      rng: 3,
      optional: [4],
    },
    {
      name: 'substitutedOutputs',
      call: mpc.substitutedOutputs as never,
      args: () => [mpc.loadCircuit(circuitJson['weighted-risk']), new Set([0])],
    },
    {
      name: 'excludedInputIndices',
      call: mpc.excludedInputIndices as never,
      args: () => [session, [session.parties[0]!.id]],
      optional: [2],
    },
    {
      name: 'evaluateShares',
      call: mpc.evaluateShares as never,
      args: () => [session, session.parties[0]!.id, f.verified],
    },
    {
      name: 'openResult',
      call: mpc.openResult as never,
      args: () => [session, f.dealings, f.resultShares, freshRng(), {}],
      rng: 3,
      optional: [4],
    },
    { name: 'fieldToSigned', call: mpc.fieldToSigned as never, args: () => [S.field.ORDER, 5n] },
    { name: 'rangeWeights', call: mpc.rangeWeights as never, args: () => [0n, 10n] },
    { name: 'rangeProofLength', call: mpc.rangeProofLength as never, args: () => [S, 0n, 10n] },
    {
      name: 'rangeProofContext',
      call: mpc.rangeProofContext as never,
      args: () => [{ circuitId: 'c', sessionId: 's', party: 'p', input: 'i', bind: bytes() }],
    },
    {
      name: 'proveRange',
      call: mpc.proveRange as never,
      args: () => [S, rangeStatement(), { value: 5n, blinding: 7n }, freshRng()],
      rng: 3,
    },
    {
      name: 'verifyRangeProof',
      call: mpc.verifyRangeProof as never,
      args: () => {
        const st = rangeStatement();
        return [S, st, mpc.proveRange(S, st, { value: 5n, blinding: 7n }, freshRng()), 'dealer-1'];
      },
    },
    {
      name: 'buildAggregationRecord',
      call: mpc.buildAggregationRecord as never,
      args: () => [session, f.dealings, f.opened],
    },
    { name: 'aggregationDigest', call: mpc.aggregationDigest as never, args: () => [f.record] },
    { name: 'aggregationRecordToJson', call: mpc.aggregationRecordToJson as never, args: () => [f.record] },
    {
      name: 'aggregationRecordFromJson',
      call: mpc.aggregationRecordFromJson as never,
      args: () => [JSON.parse(JSON.stringify(mpc.aggregationRecordToJson(f.record)))],
    },
    {
      name: 'encodeAggregationRecordJson',
      call: mpc.encodeAggregationRecordJson as never,
      args: () => [f.record],
    },
    {
      name: 'decodeAggregationRecordJson',
      call: mpc.decodeAggregationRecordJson as never,
      args: () => [mpc.encodeAggregationRecordJson(f.record)],
    },
    {
      name: 'encodeAggregationRecordCbor',
      call: mpc.encodeAggregationRecordCbor as never,
      args: () => [f.record],
    },
    {
      name: 'decodeAggregationRecordCbor',
      call: mpc.decodeAggregationRecordCbor as never,
      args: () => [mpc.encodeAggregationRecordCbor(f.record)],
    },
    { name: 'outputValueText', call: mpc.outputValueText as never, args: () => [5n] },
    {
      name: 'verifyAggregation',
      call: mpc.verifyAggregation as never,
      args: () => [f.record, { circuit: f.circuit, suite: S }],
      optional: [1],
    },
    { name: 'vectorGenerators', call: mpc.vectorGenerators as never, args: () => [S, 2] },
    {
      name: 'prepareVectorPad',
      call: mpc.prepareVectorPad as never,
      args: () => [S, { length: 2, threshold: 2 }, freshRng()],
      rng: 2,
    },
    {
      name: 'vectorPadSteps',
      call: (...a: unknown[]) =>
        drain((mpc.vectorPadSteps as (...x: unknown[]) => Generator<void, unknown, void>)(...a)),
      args: () => [S, { length: 2, threshold: 2 }, freshRng(), 1000],
      rng: 2,
      optional: [3],
    },
    // keygen: DKG
    {
      name: 'dkgRound1',
      call: mpc.dkgRound1 as never,
      args: () => [S, { identifier: ids[0], threshold: T, rng: freshRng() }],
      rng: [1, 'rng'],
    },
    {
      name: 'dkgRound2',
      call: mpc.dkgRound2 as never,
      args: () => {
        const r1 = dkgR1();
        return [S, r1[0]!.secret, r1.slice(1).map((r) => r.package)];
      },
    },
    {
      name: 'dkgRound3',
      call: mpc.dkgRound3 as never,
      args: () => {
        const r = dkgR2();
        return [S, r.secret, r.round1, r.round2];
      },
    },
    {
      name: 'runDkgLocally',
      call: mpc.runDkgLocally as never,
      args: () => [S, { identifiers: ids, threshold: T, rng: freshRng() }],
      rng: [1, 'rng'],
    },
    {
      name: 'new DkgRound1Secret',
      call: (...a) => new (mpc.DkgRound1Secret as never as new (...x: unknown[]) => unknown)(...a),
      args: () => [ID, ids[0], T, []],
    },
    {
      name: 'new DkgRound2Secret',
      call: (...a) => new (mpc.DkgRound2Secret as never as new (...x: unknown[]) => unknown)(...a),
      args: () => [ID, ids[0], T],
    },
    // keygen: refresh
    {
      name: 'refreshDealer',
      call: mpc.refreshDealer as never,
      args: () => [S, pub, ids, freshRng()],
      rng: 3,
      optional: [3],
    },
    {
      name: 'applyRefresh',
      call: mpc.applyRefresh as never,
      args: () => [S, kp[0], pub, mpc.refreshDealer(S, pub, ids, freshRng()).shares[0]],
    },
    {
      name: 'refreshRound1',
      call: mpc.refreshRound1 as never,
      args: () => [S, { identifier: ids[0], threshold: T, rng: freshRng() }],
      rng: [1, 'rng'],
    },
    {
      name: 'refreshRound2',
      call: mpc.refreshRound2 as never,
      args: () => {
        const r1 = refreshR1();
        return [S, r1[0]!.secret, r1.slice(1).map((r) => r.package)];
      },
    },
    {
      name: 'refreshRound3',
      call: mpc.refreshRound3 as never,
      args: () => {
        const r = refreshR2();
        return [S, r.secret, r.round1, r.round2];
      },
    },
    {
      name: 'new RefreshRound1Secret',
      call: (...a) => new (mpc.RefreshRound1Secret as never as new (...x: unknown[]) => unknown)(...a),
      args: () => [ID, ids[0], T, []],
    },
    {
      name: 'new RefreshRound2Secret',
      call: (...a) => new (mpc.RefreshRound2Secret as never as new (...x: unknown[]) => unknown)(...a),
      args: () => [ID, ids[0], T],
    },
    // keygen: repair
    {
      name: 'repairStep1',
      call: mpc.repairStep1 as never,
      args: () => [S, helpers(), kp[0], ids[2], freshRng()],
      rng: 4,
      optional: [4],
    },
    {
      name: 'repairStep2',
      call: mpc.repairStep2 as never,
      args: () => [S, helpers(), kp[0], deltasFor(ids[0]!)],
    },
    {
      name: 'repairStep3',
      call: mpc.repairStep3 as never,
      args: () => [S, helpers(), sigmas(), ids[2], pub],
    },
    // nonce store
    { name: 'commitmentKey', call: mpc.commitmentKey as never, args: () => [nonceRecord().commitment] },
    { name: 'keySetIdOf', call: mpc.keySetIdOf as never, args: () => [kp[0]] },
    {
      name: 'nonceRecordFromNonces',
      call: mpc.nonceRecordFromNonces as never,
      args: () => [S, mpc.keySetIdOf(kp[0]!), mpc.commit(S, kp[0]!, freshRng())],
    },
    { name: 'noncesFromRecord', call: mpc.noncesFromRecord as never, args: () => [nonceRecord()] },
    { name: 'wipeNonceRecord', call: mpc.wipeNonceRecord as never, args: () => [nonceRecord()] },
    { name: 'encodeNonceRecord', call: mpc.encodeNonceRecord as never, args: () => [nonceRecord()] },
    {
      name: 'decodeNonceRecord',
      call: mpc.decodeNonceRecord as never,
      args: () => [mpc.encodeNonceRecord(nonceRecord()), ID],
      optional: [1],
    },
    {
      name: 'new InMemoryNonceStore',
      call: (b) => new mpc.InMemoryNonceStore(b as never),
      args: () => [{ records: new Map(), tombstones: new Set() }],
      optional: [0],
    },
    {
      name: 'InMemoryNonceStore#save',
      call: (r) => new mpc.InMemoryNonceStore().save(r as never),
      args: () => [[nonceRecord()]],
    },
    {
      name: 'InMemoryNonceStore#consume',
      call: (key) => consumeStore.consume(key as string),
      args: async () => {
        const record = nonceRecord();
        await consumeStore.save([record]);
        return [mpc.commitmentKey(record.commitment)];
      },
    },
    {
      name: 'InMemoryNonceStore#consumeAndSave',
      call: (key, records) => consumeStore.consumeAndSave(key as string, records as never),
      args: async () => {
        const record = nonceRecord();
        await consumeStore.save([record]);
        return [mpc.commitmentKey(record.commitment), [nonceRecord()]];
      },
    },
    {
      name: 'InMemoryNonceStore#count',
      call: (k) => new mpc.InMemoryNonceStore().count(k as string),
      args: () => ['key-set'],
      optional: [0],
    },
    {
      name: 'commitToStore',
      call: mpc.commitToStore as never,
      args: () => [S, kp[0], new mpc.InMemoryNonceStore(), 2, freshRng(), {}],
      rng: 4,
      optional: [4, 5],
    },
    {
      name: 'signFromStore',
      call: mpc.signFromStore as never,
      args: async () => {
        const store = new mpc.InMemoryNonceStore();
        const rng = freshRng();
        const [c0] = await mpc.commitToStore(S, kp[0]!, store, 1, rng);
        const c1 = mpc.commit(S, kp[1]!, rng).commitment;
        return [S, kp[0], store, { commitments: [c0, c1], message: utf8('m') }, pub, {}];
      },
      optional: [5],
    },
    {
      name: 'signAndReplenishFromStore',
      call: mpc.signAndReplenishFromStore as never,
      args: async () => {
        const store = new mpc.InMemoryNonceStore();
        const rng = freshRng();
        const [c0] = await mpc.commitToStore(S, kp[0]!, store, 1, rng);
        const c1 = mpc.commit(S, kp[1]!, rng).commitment;
        return [S, kp[0], store, { commitments: [c0, c1], message: utf8('m') }, pub, 1, rng, {}];
      },
      rng: 6,
      optional: [6, 7],
    },
    {
      name: 'timerSleep',
      call: mpc.timerSleep as never,
      args: () => [0, new AbortController().signal],
    },
    {
      name: 'new SigningSession',
      call: (o) => new mpc.SigningSession(o as never),
      args: () => [{ ...sessionOptions(), rng: freshRng() }],
    },
    {
      name: 'SigningSession#sign',
      call: (input) => new mpc.SigningSession({ ...sessionOptions(), rng: freshRng() }).sign(input as never),
      args: () => [{ message: utf8('m') }],
    },
    {
      name: 'SigningSession#sign (rng)',
      call: (o) => new mpc.SigningSession(o as never).sign({ message: utf8('m') }),
      args: () => [{ ...sessionOptions(), rng: freshRng() }],
      rng: [0, 'rng'],
    },
    {
      name: 'SigningSession#pooled',
      call: (p) => new mpc.SigningSession(sessionOptions()).pooled(p as string),
      args: () => [ids[0]],
      optional: [0],
    },
    {
      name: 'SigningSession#adoptRefresh',
      call: (p) => new mpc.SigningSession(sessionOptions()).adoptRefresh(p as mpc.PublicKeyPackage),
      args: () => [mpc.refreshDealer(S, pub, ids, freshRng()).publicPackage],
    },
  ];
  return cases;
}

interface Makers {
  signingRound: () => { pkg: mpc.SigningPackage };
  signed: () => { shares: mpc.SignatureShare[] };
  dkgR1: () => { package: mpc.DkgRound1Package }[];
  dkgR2: () => { round2: mpc.DkgRound2Package[] };
  refreshR1: () => { package: mpc.RefreshRound1Package }[];
  refreshR2: () => { round2: mpc.RefreshRound2Package[] };
  deltasFor: (receiver: string) => mpc.RepairDelta[];
  sigmas: () => mpc.RepairSigma[];
  sealedBox: () => mpc.SealedBox;
}

/** encode / decode / toJSON / fromJSON of every wire codec, each over a real message. */
function codecCases(f: Fixture, m: Makers): ApiCase[] {
  const { suite: S, kp, pub, ids } = f;
  const values: Record<string, () => unknown> = {
    Round1CommitmentCodec: () => m.signingRound().pkg.commitments[0],
    Round1CommitmentBatchCodec: () => ({ commitments: m.signingRound().pkg.commitments }),
    SigningPackageCodec: () => m.signingRound().pkg,
    SignatureShareCodec: () => m.signed().shares[0],
    PublicKeyPackageCodec: () => pub,
    KeyPackageCodec: () => kp[0],
    DkgRound1PackageCodec: () => m.dkgR1()[0]!.package,
    DkgRound2PackageCodec: () => m.dkgR2().round2[0],
    SealedBoxCodec: () => m.sealedBox(),
    RefreshRound1PackageCodec: () => m.refreshR1()[0]!.package,
    RefreshRound2PackageCodec: () => m.refreshR2().round2[0],
    RefreshShareCodec: () => mpc.refreshDealer(S, pub, ids, freshRng()).shares[0],
    RepairDeltaCodec: () => m.deltasFor(ids[0]!)[0],
    RepairSigmaCodec: () => m.sigmas()[0],
  };
  return Object.entries(values).flatMap(([name, value]) => {
    const codec = (mpc as unknown as Record<string, mpc.MessageCodec<unknown>>)[name]!;
    return [
      { name: `${name}.encode`, call: codec.encode as never, args: () => [ID, value()] },
      { name: `${name}.toJSON`, call: codec.toJSON as never, args: () => [ID, value()] },
      {
        name: `${name}.decode`,
        call: codec.decode as never,
        args: () => [codec.encode(ID, value()), ID],
        optional: [1],
      },
      {
        name: `${name}.fromJSON`,
        call: codec.fromJSON as never,
        args: () => [JSON.parse(JSON.stringify(codec.toJSON(ID, value()))), ID],
        optional: [1],
      },
    ] satisfies ApiCase[];
  });
}
