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
  openFields,
  ReleasedShareCodec,
  releaseAad,
  SealedFieldCodec,
  seal,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator, PartyReleaseAnswer, ReleaseSealedInput } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { signedUnsealRequest } from '../test-helpers/unseal-request.js';

const SECRET = 'canary-env-value-review-0001';

describe('a compromised party forging releases in other parties’ names', () => {
  const approverKey = generateIdentityKey();
  const approverX = x25519FromIdentityPublicKey(approverKey.publicKey);
  let gw: TestGateway;

  /** The first party in roster order answers with forged releases labelled with three other parties. */
  function evil(c: LocalCoordinator): Coordinator {
    const release = async (input: ReleaseSealedInput): Promise<PartyReleaseAnswer[]> => {
      const answers = await c.releaseSealed(input);
      const [m, ...others] = answers;
      if (m?.outcome !== 'answered') throw new Error('test setup: first party must answer');
      const victims = others.slice(0, 3).map((a) => a.party);
      const forged = input.fields.flatMap((json) => {
        const field = SealedFieldCodec.fromJSON(json);
        return victims.map((v) => ({
          field: field.id,
          release: ReleasedShareCodec.toJSON({
            party: v,
            box: seal(approverX, randomBytes(33), releaseAad(field, v, approverX)),
          }),
        }));
      });
      return [{ ...m, released: [...forged, ...m.released] }, ...others];
    };
    return new Proxy(c, {
      get(target, prop) {
        if (prop === 'releaseSealed') return release;
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as unknown as Coordinator;
  }

  beforeAll(async () => {
    gw = await makeGateway({ config: { sealing: {} }, approverKey, wrap: evil });
  });
  afterAll(() => gw.cleanup());

  it('the fields still open from the honest parties’ releases', async () => {
    const res = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: SECRET }] } }),
    });
    const incidentId = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = await gw.store.getIncident(incidentId);
    const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    expect(fields.length).toBeGreaterThan(0);
    const req = signedUnsealRequest(approverKey, {
      request_id: 'ur-impersonation',
      incident_id: incidentId,
      evidence_id: String(record?.evidence_id),
      fields: fields.map((f) => f.id),
    });
    const answer = (await json(
      await request(gw, 'POST', `/v1/evidence/${String(record?.evidence_id)}/unseal`, {
        token: TOKENS.approve,
        body: { request: req },
      }),
    )) as unknown as { releases: { field: string; release: unknown }[] };
    const releases: FieldRelease[] = answer.releases.map((r) => ({
      field: r.field,
      ...ReleasedShareCodec.fromJSON(r.release),
    }));
    const opened = await openFields(fields, releases, x25519FromIdentitySecretKey(approverKey.secretKey));
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
