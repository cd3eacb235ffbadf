import { createBundleVerifier, type LogStore } from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, hexToBytes, ProtocolError, signEnvelope } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { Coordinator } from './coordinator.js';
import { LocalCoordinator } from './coordinator-local.js';
import { createEvidenceWriter, requorum } from './evidence-writer.js';

const unreachable = (details: Record<string, unknown>) =>
  new ProtocolError('QUORUM_UNREACHABLE', 'fewer than 3 parties would sign', [], { details });
const refused = (party: string, rule = 'evidence.signers') => ({ party, rule, message: '' });

describe('requorum (the next signers to name after an evidence signing found no quorum)', () => {
  it('keeps the named parties still usable and adds those refused only for not being named', () => {
    // p1 timed out; p4 and p5 were asked in its place and refused, not being named.
    const e = unreachable({ refusals: [refused('p4'), refused('p5')], unavailable_parties: ['p1'] });
    expect(requorum(e, ['p1', 'p2', 'p3'], 3)).toEqual(['p2', 'p3', 'p4']);
  });

  it('drops parties that refused on other grounds or cheated', () => {
    const e = unreachable({
      refusals: [refused('p2', 'evidence.transcript'), refused('p4'), refused('p5')],
      culprit_parties: ['p3'],
    });
    expect(requorum(e, ['p1', 'p2', 'p3'], 3)).toEqual(['p1', 'p4', 'p5']);
  });

  it('drops a named party that refuses as if it were not named (it is, so that is not why)', () => {
    const e = unreachable({ refusals: [refused('p1'), refused('p4'), refused('p5')] });
    expect(requorum(e, ['p1', 'p2', 'p3'], 3)).toEqual(['p2', 'p3', 'p4']);
  });

  it('gives up when too few are left, when nobody refused for not being named, or on another error', () => {
    const few = unreachable({ refusals: [refused('p4')], unavailable_parties: ['p1', 'p2'] });
    expect(requorum(few, ['p1', 'p2', 'p3'], 3)).toBeUndefined();
    expect(requorum(unreachable({ unavailable_parties: ['p1'] }), ['p1', 'p2', 'p3'], 3)).toBeUndefined();
    expect(requorum(new Error('boom'), ['p1', 'p2', 'p3'], 3)).toBeUndefined();
  });
});

describe('the evidence writer names a new quorum when parties refuse for not being named', () => {
  const gatewayKey = generateIdentityKey();
  const local = new LocalCoordinator({
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
  });
  const transcript = [
    signEnvelope(
      {
        meta: {
          trace_id: 'trace-w',
          span_id: 'span-w',
          timestamp: '2026-11-26T02:00:00Z',
          source_agent: 'gateway',
          target_agent: 'audit',
          message_type: 'IncidentSignal',
          schema_version: 'v1.0.0',
          idempotency_key: 'idem-w',
        },
        context: { namespace: 'shop', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy/v1' },
        payload: { note: 'w' },
      },
      gatewayKey.secretKey,
    ),
  ];

  /** A writer over the in-process coordinator whose evidence signing fails first as `fail` says. */
  function writer(fail: (named: string[], call: number) => Error | undefined) {
    const named: string[][] = [];
    const coordinator = new Proxy(local, {
      get(target, prop) {
        if (prop === 'signEvidence') {
          return async (input: Parameters<Coordinator['signEvidence']>[0]) => {
            const statement = input.statement as { predicate: { signers: string[] } };
            named.push(statement.predicate.signers);
            const error = fail(statement.predicate.signers, named.length);
            if (error) throw error;
            return target.signEvidence(input);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Coordinator;
    const data = new Map<string, Uint8Array>();
    const log: LogStore = {
      get: async (k) => data.get(k),
      batch: async (ops) => {
        for (const op of ops) op.type === 'put' ? data.set(op.key, op.value) : data.delete(op.key);
      },
    };
    const w = createEvidenceWriter({
      coordinator,
      log,
      origin: 'aaps.test/log',
      trust: async () => local.trustedKeys(),
      validFrom: '2026-01-01T00:00:00Z',
    });
    return { w, named };
  }
  const input = {
    incident: { id: 'inc-w', type: 'config_validation_failed' },
    decision: { outcome: 'recorded' },
    times: { received: '2026-11-26T02:00:00Z' },
    transcript,
  };

  it('signs with the named parties still usable plus one that refused, and the bundle verifies', async () => {
    const { w, named } = writer((signers, call) =>
      call === 1
        ? unreachable({
            refusals: [refused('quality-assurance'), refused('audit')],
            unavailable_parties: [signers[0]!],
          })
        : undefined,
    );
    const sealed = await w.record(input);
    expect(named).toEqual([
      ['monitoring', 'problem-solver', 'strategy'],
      ['problem-solver', 'strategy', 'quality-assurance'],
    ]);
    expect(sealed.bundle.verificationMaterial.signers).toEqual([
      'problem-solver',
      'strategy',
      'quality-assurance',
    ]);
    const key = hexToBytes((await local.keys()).group_public_key);
    expect(createBundleVerifier({ groupPublicKey: key }).check(sealed.bundle)).toBe(true);
  });

  it('stops after three attempts, and at once on an error that is not about naming', async () => {
    const always = writer(() => unreachable({ refusals: [refused('quality-assurance'), refused('audit')] }));
    await expect(always.w.record(input)).rejects.toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    expect(always.named).toHaveLength(3);
    const other = writer(() => new Error('disk on fire'));
    await expect(other.w.record(input)).rejects.toThrow('disk on fire');
    expect(other.named).toHaveLength(1);
  });
});
