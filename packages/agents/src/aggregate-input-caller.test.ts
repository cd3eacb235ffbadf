/**
 * From the review of this session's change: `sealSignedInput` binds the box to the id the
 * coordinator calls under (`caller`), and defaulted to the literal "gateway". A party opens the box
 * under the id of the request's sender, which it accepts only when it is the roster's gateway
 * (`roster.gateway.id`): a department following the documented call (no `caller`) sealed a box no
 * party of a roster whose gateway has another name could open. The default is the roster's gateway.
 */
import { generateIdentityKey, loadFastBackends } from '@aaps/mpc-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sealSignedInput } from './aggregate-input.js';
import {
  inputAad,
  openSealed,
  readCircuitCatalog,
  SHIPPED_CIRCUITS_DIR,
} from './party/routes/aggregation.js';
import { fiveParties } from './party/test-helpers/five-parties.js';
import { rosterDigest } from './roster.js';

beforeAll(async () => {
  await loadFastBackends();
});

describe('sealSignedInput: the caller bound into the box', () => {
  it('defaults to the roster gateway id, the only caller a party accepts', () => {
    const set = fiveParties();
    const roster = { ...set.roster, gateway: { ...set.roster.gateway, id: 'gw-prod' } };
    const circuit = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]).get('cost-total')!;
    const party = roster.parties[0]!;
    const signer = generateIdentityKey();
    const box = sealSignedInput({
      roster,
      party: party.id,
      sessionId: 'agg-1',
      circuit,
      values: 100,
      signer: { id: 'finance', secretKey: signer.secretKey },
    });
    // What the party does at agg.deal: open under the sender's id, which must be roster.gateway.id.
    const open = () =>
      openSealed(
        set.keys[0]!,
        box,
        inputAad('agg-1', roster.gateway.id, party.id, rosterDigest(roster)),
        'body.input',
      );
    expect(open).not.toThrow();
  });
});
