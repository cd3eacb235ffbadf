/**
 * A party lends its share to evidence only when the signing package's signers are exactly the
 * parties the Statement names (`evidence.signers`): otherwise a coordinator with unnamed
 * accomplices could have it sign a Statement saying named parties attested evidence they never
 * saw. Driven in process through the party app and the real client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, Round1CommitmentBatchCodec } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartyClient } from '../../client.js';
import { LOW_RISK, proposalFor } from '../../policy/test-helpers/fixtures.js';
import type { PartyStore } from '../../store/level.js';
import {
  dealtPartyApps,
  evidenceRoundTwo,
  type FiveParties,
  needsHumanStatement,
  strategyDecision,
} from '../test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let groupPublicKey: Uint8Array;
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let client: PartyClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-ev-signers-'));
  ({ set, client, groupPublicKey } = await dealtPartyApps({ dir, stores }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A valid evidence Statement (no action, no aggregation) naming `named` (party indexes) as its signers. */
function evidenceNaming(named: number[]) {
  const incident = 'inc-ev-signers';
  const proposal = proposalFor('image_rollback', { incident_id: incident }, LOW_RISK);
  const decision = strategyDecision(set, incident, proposal, 'review');
  const transcript = [JSON.parse(JSON.stringify(decision))];
  const payload = needsHumanStatement(set, {
    incident,
    proposal,
    transcript,
    signers: named.map((i) => set.roster.parties[i]!.id),
    groupPublicKey,
  });
  return { payload, transcript };
}

type Commitment = ReturnType<typeof Round1CommitmentBatchCodec.fromJSON>['value']['commitments'][number];

async function commitment(i: number, session: string): Promise<Commitment> {
  const id = set.roster.parties[i]!.id;
  const drawn = await client.call<{ commitments: unknown }>(id, 'sign.commit', session, { count: 1 });
  return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
}

/** Party 0's round two over a Statement naming `named`, in a signing package of `commitments`. */
async function signWith(named: number[], commitments: Commitment[], session: string) {
  const { payload, transcript } = evidenceNaming(named);
  return evidenceRoundTwo(client, set.roster.parties[0]!.id, session, commitments, payload, transcript);
}

/** As {@link signWith}, with fresh commitments from `quorum`. */
async function signAs(named: number[], quorum: number[], session: string) {
  const commitments = await Promise.all(quorum.map((i) => commitment(i, session)));
  return signWith(named, commitments, session);
}

/** The rule a refused round two names, or `signed`. */
const outcomeOf = (signing: Promise<unknown>) =>
  signing.then(
    () => 'signed',
    (e: { code?: string; rule?: string }) => e.rule ?? e.code,
  );

describe('evidence round two: the signing package signers are the ones the Statement names', () => {
  it('signs when the package signers are exactly the named ones', async () => {
    const share = await signAs([0, 1, 2], [0, 1, 2], 'ev-signers-ok');
    expect(share.share.length).toBe(32);
  });

  it('signs whatever the order of the commitments', async () => {
    const share = await signAs([0, 1, 2], [2, 0, 1], 'ev-signers-order');
    expect(share.share.length).toBe(32);
  });

  it('refuses, as evidence.signers, a package whose other signers the Statement does not name', async () => {
    // The Statement says parties 0, 1 and 2 signed; the package is 0, 3 and 4.
    expect(await outcomeOf(signAs([0, 1, 2], [0, 3, 4], 'ev-signers-bad'))).toBe('evidence.signers');
  });

  it('refuses a package of the named signers and one more', async () => {
    expect(await outcomeOf(signAs([0, 1, 2], [0, 1, 2, 3], 'ev-signers-more'))).toBe('evidence.signers');
  });

  it('refuses before it consumes its nonce: the same commitment then signs as named', async () => {
    const session = 'ev-signers-nonce';
    const [mine, one, two, three, four] = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => commitment(i, session)),
    );
    expect(await outcomeOf(signWith([0, 1, 2], [mine!, three!, four!], session))).toBe('evidence.signers');
    const share = await signWith([0, 1, 2], [mine!, one!, two!], session);
    expect(share.share.length).toBe(32);
  });
});
