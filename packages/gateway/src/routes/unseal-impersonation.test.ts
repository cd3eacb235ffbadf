/**
 * Sealing review F1: the gateway passed each party's `released` list to the approver verbatim, without
 * checking that every release's `body.party` is the party that answered (nor that its field was
 * asked). One compromised party can therefore put forged releases labelled with honest parties'
 * ids ahead of theirs: the approver's `combineReleased` sets the honest releases aside as
 * duplicates, rejects the forgeries with `sealed-field.share-commitment` and names the honest
 * parties as culprits. 4 parties released honestly (k = 3) yet nothing opens.
 */
import { randomBytes } from 'node:crypto';
import {
  type FieldRelease,
  generateIdentityKey,
  hexToBytes,
  type IdentityKey,
  openFields,
  ReleasedShareCodec,
  releaseAad,
  releaseSignedBy,
  SealedFieldCodec,
  seal,
  sealedBoxDigest,
  signRelease,
  type UnsealReleaseRecord,
  type UnsealRequest,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator, PartyReleaseAnswer, ReleaseSealedInput } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { releaseAuth, signedUnsealRequest } from '../test-helpers/unseal-request.js';

const SECRET = 'canary-env-value-review-0001';

/** `c` with its `releaseSealed` replaced by `release`. */
function withReleaseSealed(
  c: LocalCoordinator,
  release: (input: ReleaseSealedInput) => Promise<PartyReleaseAnswer[]>,
): Coordinator {
  return new Proxy(c, {
    get(target, prop) {
      if (prop === 'releaseSealed') return release;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as unknown as Coordinator;
}

interface UnsealAnswer {
  releases: { field: string; release: unknown }[];
  refusals: { field: string; party: string; decision: string; rule: string }[];
  evidence: { releases: string };
}

/** Submit an incident with a secret to seal, then ask `gw` to unseal all of its sealed fields. */
async function sealAndUnseal(gw: TestGateway, approverKey: IdentityKey, requestId?: string) {
  const res = await request(gw, 'POST', '/v1/incidents', {
    token: TOKENS.submit,
    body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: SECRET }] } }),
  });
  const incidentId = String((await json(res))['incident_id']);
  await gw.runner.idle();
  const record = await gw.store.getIncident(incidentId);
  const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
  const req = signedUnsealRequest(approverKey, {
    ...(requestId === undefined ? {} : { request_id: requestId }),
    incident_id: incidentId,
    evidence_id: String(record?.evidence_id),
    fields: fields.map((f) => f.id),
  });
  const answer = (await json(
    await request(gw, 'POST', `/v1/evidence/${String(record?.evidence_id)}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    }),
  )) as unknown as UnsealAnswer;
  return { fields, req, answer };
}

describe('a compromised party forging releases in other parties’ names', () => {
  const approverKey = generateIdentityKey();
  const approverX = x25519FromIdentityPublicKey(approverKey.publicKey);
  const forger = generateIdentityKey();
  let gw: TestGateway;

  /** The first party in roster order answers with forged releases labelled with three other parties. */
  function evil(c: LocalCoordinator): Coordinator {
    const release = async (input: ReleaseSealedInput): Promise<PartyReleaseAnswer[]> => {
      const answers = await c.releaseSealed(input);
      const [m, ...others] = answers;
      if (m?.outcome !== 'answered') throw new Error('test setup: first party must answer');
      const victims = others.slice(0, 3).map((a) => a.party);
      const asked = input.request as UnsealRequest;
      const forged = input.fields.flatMap((json) => {
        const field = SealedFieldCodec.fromJSON(json);
        return victims.map((v) => ({
          field: field.id,
          // Signed, but with the forger's own key: the gateway and the approver both check it.
          release: ReleasedShareCodec.toJSON(
            signRelease(
              { requestId: asked.request_id, incidentId: field.incidentId, requester: asked.requester },
              field,
              v,
              seal(approverX, randomBytes(33), releaseAad(field, v, approverX)),
              forger.secretKey,
            ),
          ),
        }));
      });
      return [{ ...m, released: [...forged, ...m.released] }, ...others];
    };
    return withReleaseSealed(c, release);
  }

  beforeAll(async () => {
    gw = await makeGateway({ config: { sealing: {} }, approverKey, wrap: evil });
  });
  afterAll(() => gw.cleanup());

  it('the fields still open from the honest parties’ releases', async () => {
    const { fields, req, answer } = await sealAndUnseal(gw, approverKey, 'ur-impersonation');
    expect(fields.length).toBeGreaterThan(0);
    const releases: FieldRelease[] = answer.releases.map((r) => ({
      field: r.field,
      ...ReleasedShareCodec.fromJSON(r.release),
    }));
    const opened = await openFields(
      fields,
      releases,
      x25519FromIdentitySecretKey(approverKey.secretKey),
      releaseAuth(gw.coordinator.trustedKeys(), req),
    );
    const outcome = opened.map((o) =>
      'opened' in o
        ? o.opened.value
        : `${o.error.code} culprits=${JSON.stringify((o.error as { culprits?: unknown }).culprits)}`,
    );
    expect(outcome).toEqual([SECRET]);
    // The log records each party's own release once, as the answer carries it.
    expect(answer.releases.length).toBe(fields.length * 5);
  });
});

/** The box the answer relayed for the record's party and field. */
function relayedBox(answer: UnsealAnswer, r: UnsealReleaseRecord) {
  const found = answer.releases
    .filter((x) => x.field === r.field)
    .map((x) => ReleasedShareCodec.fromJSON(x.release))
    .find((x) => x.party === r.party);
  if (found === undefined) throw new Error(`no relayed release of ${r.party} for ${r.field}`);
  return found.box;
}

describe('a release not signed by the party that answered', () => {
  const approverKey = generateIdentityKey();
  const approverX = x25519FromIdentityPublicKey(approverKey.publicKey);
  let gw: TestGateway;

  /** The first party's own releases carry a box its signature does not cover (altered on the way). */
  function altered(c: LocalCoordinator): Coordinator {
    const release = async (input: ReleaseSealedInput): Promise<PartyReleaseAnswer[]> => {
      const [m, ...others] = await c.releaseSealed(input);
      if (m?.outcome !== 'answered') throw new Error('test setup: first party must answer');
      const released = m.released.map((r) => {
        const real = ReleasedShareCodec.fromJSON(r.release);
        const field = SealedFieldCodec.fromJSON(
          input.fields.find((f) => SealedFieldCodec.fromJSON(f).id === r.field),
        );
        const box = seal(approverX, randomBytes(33), releaseAad(field, real.party, approverX));
        return { field: r.field, release: ReleasedShareCodec.toJSON({ ...real, box }) };
      });
      return [{ ...m, released }, ...others];
    };
    return withReleaseSealed(c, release);
  }

  beforeAll(async () => {
    gw = await makeGateway({ config: { sealing: {} }, approverKey, wrap: altered });
  });
  afterAll(() => gw.cleanup());

  it('is not relayed, and is logged as refused by the signature check', async () => {
    const { fields, req, answer } = await sealAndUnseal(gw, approverKey);
    const first = gw.coordinator.trustedKeys().parties[0]!.id;
    const relayed = answer.releases.map((r) => ReleasedShareCodec.fromJSON(r.release).party);
    expect(relayed).not.toContain(first);
    expect(relayed).toHaveLength(fields.length * 4);
    expect(answer.refusals.filter((r) => r.party === first)).toEqual(
      fields.map((f) => ({
        field: f.id,
        party: first,
        decision: 'refused',
        rule: 'sealed-field.release-signature',
      })),
    );
    const logged = await gw.store.getEvidence(answer.evidence.releases);
    const records = (logged?.transcript ?? []).map((e) => e.payload as UnsealReleaseRecord);
    expect(records.filter((p) => p.party === first).map((p) => p.rule)).toEqual(
      fields.map(() => 'sealed-field.release-signature'),
    );
    // Each release the log records carries its party's signature over the digest it records.
    const keys = new Map(gw.coordinator.trustedKeys().parties.map((p) => [p.id, hexToBytes(p.identity_key)]));
    const released = records.filter((r) => r.decision === 'released');
    expect(released).toHaveLength(fields.length * 4);
    const ctx = { requestId: req.request_id, incidentId: req.incident_id, requester: req.requester };
    for (const r of released) {
      const box = relayedBox(answer, r);
      expect(sealedBoxDigest(box)).toBe(r.box_sha256);
      const signature = hexToBytes(r.release_signature ?? '');
      const field = fields.find((f) => f.id === r.field)!;
      expect(releaseSignedBy(ctx, field, { party: r.party, box, signature }, keys.get(r.party)!)).toBe(true);
    }
  });
});

describe('a party that answers only with releases in another party’s name', () => {
  const approverKey = generateIdentityKey();
  let gw: TestGateway;

  /** The first party's answer carries the second party's releases instead of its own. */
  function misnamed(c: LocalCoordinator): Coordinator {
    const release = async (input: ReleaseSealedInput): Promise<PartyReleaseAnswer[]> => {
      const [m, n, ...others] = await c.releaseSealed(input);
      if (m?.outcome !== 'answered' || n?.outcome !== 'answered')
        throw new Error('test setup: the first two parties must answer');
      return [{ ...m, released: n.released }, n, ...others];
    };
    return withReleaseSealed(c, release);
  }

  beforeAll(async () => {
    gw = await makeGateway({ config: { sealing: {} }, approverKey, wrap: misnamed });
  });
  afterAll(() => gw.cleanup());

  it('is logged as refused by that check, not as no answer, and the others still open the fields', async () => {
    const { fields, req, answer } = await sealAndUnseal(gw, approverKey);
    const [first, second] = gw.coordinator.trustedKeys().parties.map((p) => p.id);
    const relayed = answer.releases.map((r) => ReleasedShareCodec.fromJSON(r.release).party);
    expect(relayed.filter((p) => p === second)).toHaveLength(fields.length);
    expect(relayed).not.toContain(first);
    expect(answer.refusals.filter((r) => r.party === first)).toEqual(
      fields.map((f) => ({
        field: f.id,
        party: first,
        decision: 'refused',
        rule: 'sealed-field.release.other-party',
      })),
    );
    const logged = await gw.store.getEvidence(answer.evidence.releases);
    const records = (logged?.transcript ?? []).map((e) => e.payload as UnsealReleaseRecord);
    expect(records.filter((p) => p.party === first).map((p) => p.rule)).toEqual(
      fields.map(() => 'sealed-field.release.other-party'),
    );
    const opened = await openFields(
      fields,
      answer.releases.map((r) => ({ field: r.field, ...ReleasedShareCodec.fromJSON(r.release) })),
      x25519FromIdentitySecretKey(approverKey.secretKey),
      releaseAuth(gw.coordinator.trustedKeys(), req),
    );
    expect(opened.map((o) => ('opened' in o ? o.opened.value : o.error.code))).toEqual([SECRET]);
  });
});
