/**
 * The `approval.signers` an `ExecutionOrder` carries (the quorum that approved the executed
 * proposal, in a gateway-signed envelope) are held to the roster as the bundle's own `signers`
 * are: distinct roster parties, between k and n of them. Else `approval.signature` fails, in
 * `aaps-verify` and for a party asked to co-sign the evidence.
 */
import { describe, expect, it } from 'vitest';
import { buildBundle } from './bundle/build.js';
import { checkEvidenceForSigning } from './signing-check.js';
import {
  logBundles,
  makeApprovedInput,
  makeEd25519Key,
  makeRoster,
  trustingVerifier,
} from './test-helpers/fixtures.js';

describe('approval.signers of an ExecutionOrder', () => {
  it('must be k to n distinct roster parties', async () => {
    const group = makeEd25519Key();
    const r = makeRoster();
    const [p0, p1, p2, p3] = r.roster.parties.map((p) => p.id);
    const verifier = trustingVerifier(group, r.roster);
    const outcome = async (signers: unknown) => {
      const input = await makeApprovedInput(group, r, {
        editOrder: (order) => {
          order.approval.signers = signers as string[];
        },
      });
      const bundle = await buildBundle(input, group.sign);
      const [logged] = await logBundles([bundle], group);
      const report = verifier.report(JSON.parse(JSON.stringify(logged)));
      const party = checkEvidenceForSigning({
        payloadType: bundle.dsseEnvelope.payloadType,
        payload: new Uint8Array(Buffer.from(bundle.dsseEnvelope.payload, 'base64')),
        transcript: JSON.parse(JSON.stringify(bundle.transcript)),
        roster: r.roster,
        ciphersuite: input.ciphersuite,
        groupPublicKey: group.publicKey,
        threshold: input.threshold,
        signer: input.signers[0]!,
      });
      return { verifier: report.failure?.check ?? 'valid', party: party.ok ? 'signs' : party.rule };
    };
    expect(await outcome([p0, p1, p2])).toEqual({ verifier: 'valid', party: 'signs' });
    expect(await outcome([p0, p1, p2, p3])).toEqual({ verifier: 'valid', party: 'signs' });
    for (const bad of [
      ['gateway', 'mallory', p0, p0],
      [p0, p1],
      [p0, p1, p1],
      [p0, p1, 'mallory'],
      'p0,p1,p2',
    ])
      expect(await outcome(bad), JSON.stringify(bad)).toEqual({
        verifier: 'approval.signature',
        party: 'evidence.approval',
      });
  });
});
