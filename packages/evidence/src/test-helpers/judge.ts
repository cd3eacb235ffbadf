/**
 * What the two judges of a transcript say of one bundle built from `input`: a party asked to
 * co-sign it (`checkEvidenceForSigning`: its refusal rule, or `ok`) and the offline verifier
 * (`createBundleVerifier`, log not required: its failed check, or `valid`), side by side.
 */
import type { BuildBundleInput } from '../bundle/build.js';
import { buildBundle } from '../bundle/build.js';
import { createBundleVerifier } from '../bundle/verify.js';
import { checkEvidenceForSigning } from '../signing-check.js';
import type { PartyRoles } from '../transcript-authority.js';
import type { TestKey, TestRoster } from './fixtures.js';

export async function judge(
  group: TestKey,
  r: TestRoster,
  input: BuildBundleInput,
  roles?: PartyRoles,
): Promise<{ party: string; verifier: string; message: string }> {
  const bundle = await buildBundle(input, group.sign);
  const party = checkEvidenceForSigning({
    payloadType: bundle.dsseEnvelope.payloadType,
    payload: new Uint8Array(Buffer.from(bundle.dsseEnvelope.payload, 'base64')),
    transcript: JSON.parse(JSON.stringify(bundle.transcript)),
    roster: r.roster,
    ...(roles === undefined ? {} : { roles }),
    ciphersuite: input.ciphersuite,
    groupPublicKey: group.publicKey,
    threshold: input.threshold,
  });
  const report = createBundleVerifier({
    groupPublicKey: group.publicKey,
    roster: r.roster,
    requireLog: false,
    ...(roles === undefined ? {} : { partyRoles: roles }),
  }).report(JSON.parse(JSON.stringify(bundle)));
  return {
    party: party.ok ? 'ok' : party.rule,
    verifier: report.valid ? 'valid' : report.failure!.check,
    message: party.ok ? '' : party.message,
  };
}
