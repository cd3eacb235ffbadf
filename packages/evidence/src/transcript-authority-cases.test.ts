import { describe, expect, it } from 'vitest';
import type { BuildBundleInput } from './bundle/build.js';
import {
  makeApprovedInput,
  makeEd25519Key,
  memberSigned,
  rosterOf,
  type TestKey,
  type TestRoster,
} from './test-helpers/fixtures.js';
import { judge } from './test-helpers/judge.js';

/** The roster `aaps up` makes: one party per role, the ids being the roles. */
const roleRoster = (): TestRoster =>
  rosterOf(['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'], 'oncall');

/** Whether a party co-signs the bundle built from `input`, and whether the verifier finds it valid. */
async function judged(group: TestKey, r: TestRoster, input: BuildBundleInput) {
  const { party, verifier } = await judge(group, r, input);
  return { party_cosigns: party === 'ok', verifier_valid: verifier === 'valid' };
}

describe('transcript authority: the cases a compromised gateway could seal', () => {
  it('baseline: the honest transcript is co-signed and valid', async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    expect(input.transcript.at(-1)!.meta.source_agent).toBe('quality-assurance');
    expect(await judged(group, r, input)).toEqual({ party_cosigns: true, verifier_valid: true });
  });

  it('a VerificationReport signed by the monitoring party (seed: monitoring writes nothing) is refused', async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    const transcript = input.transcript.slice(0, -1);
    transcript.push(
      memberSigned(r.parties[0]!, 'VerificationReport', { incident_id: 'inc-b', verdict: 'pass' }),
    );
    expect(transcript.at(-1)!.meta.source_agent).toBe('monitoring');
    expect(await judged(group, r, { ...input, transcript })).toEqual({
      party_cosigns: false,
      verifier_valid: false,
    });
  });

  it("quality assurance's report on another incident is refused in this incident's transcript", async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const a = await makeApprovedInput(group, r, { incidentId: 'inc-a' });
    const b = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    const reportOfA = structuredClone(a.transcript.at(-1)!);
    expect((reportOfA.payload as { incident_id: string }).incident_id).toBe('inc-a');
    const transcript = [...b.transcript.slice(0, -1), reportOfA];
    expect(await judged(group, r, { ...b, transcript })).toEqual({
      party_cosigns: false,
      verifier_valid: false,
    });
  });

  it('a party-signed ProtocolResponse (a protocol message, not a workflow message) is refused', async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    const qa = r.parties[3]!;
    const response = memberSigned(qa, 'ProtocolResponse' as never, { in_reply_to: 'idem-1', body: {} });
    const transcript = [...input.transcript, response];
    expect(await judged(group, r, { ...input, transcript })).toEqual({
      party_cosigns: false,
      verifier_valid: false,
    });
  });

  it('an executed change whose transcript holds no VerificationReport at all (the veto left out) is refused', async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    const typeOf = (e: (typeof input.transcript)[number]) =>
      (e.meta as { message_type?: string }).message_type;
    const transcript = input.transcript.filter((e) => typeOf(e) !== 'VerificationReport');
    expect(transcript.some((e) => typeOf(e) === 'ExecutionOrder')).toBe(true);
    expect(await judged(group, r, { ...input, transcript })).toEqual({
      party_cosigns: false,
      verifier_valid: false,
    });
  });

  it("a predicate claiming verification passed while quality assurance's signed report in the transcript vetoed is refused", async () => {
    const group = makeEd25519Key();
    const r = roleRoster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-b' });
    const qa = r.parties[3]!;
    const veto = memberSigned(qa, 'VerificationReport', {
      incident_id: 'inc-b',
      verdict: 'veto',
      vetoed_by: ['security_scan'],
    });
    const transcript = [...input.transcript.slice(0, -1), veto];
    const claims = {
      ...input,
      transcript,
      verification: { verdict: 'pass', vetoed_by: [] },
      action: { ...(input.action as object), result: 'succeeded' },
    } as BuildBundleInput;
    expect(await judged(group, r, claims)).toEqual({ party_cosigns: false, verifier_valid: false });
  });
});
