import {
  createBundleVerifier,
  type LogStore,
  openCheckpoint,
  TransparencyLog,
  verifyConsistency,
} from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, hexToBytes, ProtocolError, signEnvelope } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { Coordinator, ThresholdResult } from './coordinator.js';
import { LocalCoordinator } from './coordinator-local.js';
import {
  createEvidenceWriter,
  MAX_PREDICATE_TEXT,
  requorum,
  sourceResolution,
  stopReason,
} from './evidence-writer.js';
import { memoryLogStore } from './test-helpers/log-store.js';
import type { IncidentRecord } from './workflow/record.js';

const unreachable = (details: Record<string, unknown>) =>
  new ProtocolError('QUORUM_UNREACHABLE', 'fewer than 3 parties would sign', [], { details });
const refused = (party: string, rule = 'evidence.signers') => ({ party, rule, message: '' });

describe('requorum (the next signers to name after an evidence signing found no quorum)', () => {
  const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];
  const named = ['p1', 'p2', 'p3'];

  it('keeps the named parties still usable and fills up with parties not yet tried', () => {
    const out = new Set<string>();
    expect(requorum(unreachable({ unavailable_parties: ['p1'] }), named, parties, 3, out)).toEqual([
      'p2',
      'p3',
      'p4',
    ]);
    expect([...out]).toEqual(['p1']);
  });

  it('rules out parties that refused, cheated or failed, and remembers them across attempts', () => {
    const out = new Set<string>();
    const first = unreachable({ refusals: [refused('p2', 'evidence.transcript')], culprit_parties: ['p3'] });
    expect(requorum(first, named, parties, 3, out)).toEqual(['p1', 'p4', 'p5']);
    // p4 times out on the second attempt: p2 and p3 are not named again, so too few are left.
    expect(
      requorum(unreachable({ unavailable_parties: ['p4'] }), ['p1', 'p4', 'p5'], parties, 3, out),
    ).toBeUndefined();
    expect([...out].sort()).toEqual(['p2', 'p3', 'p4']);
  });

  it('rules out a named party that refuses as if it were not named, but not an unnamed one that did', () => {
    const out = new Set<string>();
    const e = unreachable({ refusals: [refused('p1'), refused('p4')] });
    expect(requorum(e, named, parties, 3, out)).toEqual(['p2', 'p3', 'p4']);
    expect([...out]).toEqual(['p1']);
  });

  it('gives up when no named party is out, when too few are left, or on another error', () => {
    expect(
      requorum(unreachable({ refusals: [refused('p4')] }), named, parties, 3, new Set()),
    ).toBeUndefined();
    const few = unreachable({ unavailable_parties: ['p1', 'p2', 'p4'] });
    expect(requorum(few, named, parties, 3, new Set())).toBeUndefined();
    expect(requorum(new Error('boom'), named, parties, 3, new Set())).toBeUndefined();
  });
});

describe("the gateway's word in the predicate: why the incident stopped, what its source said", () => {
  const record = (r: Partial<IncidentRecord>) => ({ timeline: [], ...r }) as unknown as IncidentRecord;
  const entry = (event: string, at: string, detail?: Record<string, unknown>) => ({
    at,
    state: 'resolved',
    event,
    actor: 'source:alertmanager',
    ...(detail === undefined ? {} : { detail }),
  });

  it("states the record's reason, and nothing without one", () => {
    expect(stopReason(record({ reason: { code: 'INVALID_ARGUMENT', message: 'input: malformed' } }))).toEqual(
      {
        reason: { code: 'INVALID_ARGUMENT', message: 'input: malformed' },
      },
    );
    expect(stopReason(record({}))).toEqual({});
  });

  it('states the first resolve from the source, ending the incident or noted after a change, and nothing without one', () => {
    const ended = entry('resolved_by_source', '2026-11-25T10:02:05Z', {
      source_ended_at: '2026-11-25T10:02:00Z',
      token_name: 'alertmanager',
    });
    const later = entry('source.resolved', '2026-11-25T10:09:00Z', {
      source_ended_at: '2026-11-25T10:08:00Z',
    });
    expect(sourceResolution(record({ timeline: [ended, later] as IncidentRecord['timeline'] }))).toEqual({
      source_resolution: {
        actor: 'source:alertmanager',
        received_at: '2026-11-25T10:02:05Z',
        source_ended_at: '2026-11-25T10:02:00Z',
        token_name: 'alertmanager',
      },
    });
    expect(sourceResolution(record({ timeline: [later] as IncidentRecord['timeline'] }))).toEqual({
      source_resolution: {
        actor: 'source:alertmanager',
        received_at: '2026-11-25T10:09:00Z',
        source_ended_at: '2026-11-25T10:08:00Z',
      },
    });
    const other = entry('executed', '2026-11-25T10:02:05Z', { executor: 'dry-run' });
    expect(sourceResolution(record({ timeline: [other] as IncidentRecord['timeline'] }))).toEqual({});
  });

  it('keeps each text bounded: a longer one is cut to MAX_PREDICATE_TEXT characters, ending in …', () => {
    const long = `${'é'.repeat(MAX_PREDICATE_TEXT)}🔑`;
    const { reason } = stopReason(record({ reason: { code: 'EXECUTION_FAILED', message: long } }));
    expect(Array.from(reason!.message)).toHaveLength(MAX_PREDICATE_TEXT);
    expect(reason!.message.endsWith('é…')).toBe(true);
    const exact = 'x'.repeat(MAX_PREDICATE_TEXT);
    expect(stopReason(record({ reason: { code: 'X', message: exact } })).reason!.message).toBe(exact);
    const { source_resolution } = sourceResolution(
      record({
        timeline: [entry('resolved_by_source', 'now', { token_name: long })] as IncidentRecord['timeline'],
      }),
    );
    expect(Array.from(source_resolution!['token_name']!)).toHaveLength(MAX_PREDICATE_TEXT);
  });
});

describe('the evidence writer names a new quorum when named parties fail', () => {
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

  let writers = 0;
  /**
   * A writer over the in-process coordinator whose evidence signing fails first as `fail` says.
   * Each writer keeps its own log, under its own origin (the parties witness each log apart).
   */
  function writer(
    fail: (named: string[], call: number) => Error | undefined,
    over: LocalCoordinator = local,
    failCheckpoint?: Error,
  ) {
    const named: string[][] = [];
    const coordinator = new Proxy(over, {
      get(target, prop) {
        if (prop === 'signCheckpoint' && failCheckpoint !== undefined) {
          return async () => {
            throw failCheckpoint;
          };
        }
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
    const log = memoryLogStore().store;
    const w = createEvidenceWriter({
      coordinator,
      log,
      origin: `aaps.test/log-${writers++}`,
      trust: async () => over.trustedKeys(),
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

  it('signs with the named parties still usable plus one not yet tried, and the bundle verifies', async () => {
    const { w, named } = writer((signers, call) =>
      call === 1 ? unreachable({ unavailable_parties: [signers[0]!] }) : undefined,
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

  it('stops after n - t + 1 attempts (at least three), and at once on an error that rules out no named party', async () => {
    const always = writer((signers) => unreachable({ unavailable_parties: [signers[0]!] }));
    await expect(always.w.record(input)).rejects.toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    expect(always.named).toEqual([
      ['monitoring', 'problem-solver', 'strategy'],
      ['problem-solver', 'strategy', 'quality-assurance'],
      ['strategy', 'quality-assurance', 'audit'],
    ]);
    const refusedUnnamed = writer(() => unreachable({ refusals: [refused('audit')] }));
    await expect(refusedUnnamed.w.record(input)).rejects.toMatchObject({ code: 'QUORUM_UNREACHABLE' });
    expect(refusedUnnamed.named).toHaveLength(1);
    // 2-of-5: three named parties can fail, so a fourth attempt is made, and it signs.
    const twoOfFive = new LocalCoordinator({
      threshold: 2,
      gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    });
    const patient = writer(
      (signers, call) => (call < 4 ? unreachable({ unavailable_parties: [signers[0]!] }) : undefined),
      twoOfFive,
    );
    const sealed = await patient.w.record(input);
    expect(patient.named).toHaveLength(4);
    expect(sealed.bundle.verificationMaterial.signers).toEqual(['quality-assurance', 'audit']);
    const other = writer(() => new Error('disk on fire'));
    await expect(other.w.record(input)).rejects.toThrow('disk on fire');
    expect(other.named).toHaveLength(1);
  });

  it("a checkpoint signing that fails is the sealing caller's error only: nothing is left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failing = writer(() => undefined, local, unreachable({ refusals: [refused('monitoring')] }));
      await expect(failing.w.record(input)).rejects.toMatchObject({ code: 'QUORUM_UNREACHABLE' });
      // Let any promise rejected with nobody listening be reported.
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('the parties witness the log: each checkpoint extends the last one they signed', () => {
  const gatewayKey = generateIdentityKey();
  const gateway = { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) };
  const ORIGIN = 'aaps.test/witnessed';
  const transcript = (n: number) => [
    signEnvelope(
      {
        meta: {
          trace_id: `trace-${n}`,
          span_id: `span-${n}`,
          timestamp: '2026-11-26T02:00:00Z',
          source_agent: 'gateway',
          target_agent: 'audit',
          message_type: 'IncidentSignal',
          schema_version: 'v1.0.0',
          idempotency_key: `idem-${n}`,
        },
        context: { namespace: 'shop', cluster: 'prod', urgency: 'P2', constraints_ref: 'policy/v1' },
        payload: { note: `entry ${n}` },
      },
      gatewayKey.secretKey,
    ),
  ];
  const entry = (n: number) => ({
    incident: { id: `inc-${n}`, type: 'config_validation_failed' },
    decision: { outcome: 'recorded' },
    times: { received: '2026-11-26T02:00:00Z' },
    transcript: transcript(n),
  });

  /** A writer over `c` and `log`, recording each checkpoint signing's result. */
  function writer(c: LocalCoordinator, log: LogStore) {
    const signed: ThresholdResult[] = [];
    const coordinator = new Proxy(c, {
      get(target, prop) {
        if (prop === 'signCheckpoint') {
          return async (input: Parameters<Coordinator['signCheckpoint']>[0]) => {
            const r = await target.signCheckpoint(input);
            signed.push(r);
            return r;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Coordinator;
    const w = createEvidenceWriter({
      coordinator,
      log,
      origin: ORIGIN,
      trust: async () => c.trustedKeys(),
      validFrom: '2026-01-01T00:00:00Z',
    });
    return { w, signed };
  }

  it('a party that missed checkpoints refuses the next as behind, and signs the one after', async () => {
    const down = new Set<string>();
    const c = new LocalCoordinator({ gateway, down: (id) => down.has(id) });
    const { store } = memoryLogStore();
    const { w, signed } = writer(c, store);
    await w.record(entry(1));
    expect(signed.at(-1)!.signers).toContain('monitoring');
    // Monitoring is down for two checkpoints.
    down.add('monitoring');
    await w.record(entry(2));
    await w.record(entry(3));
    down.delete('monitoring');
    // Back, it last signed size 1; the checkpoint of size 4 carries a proof from 3 only.
    await w.record(entry(4));
    expect(signed.at(-1)!.refusals).toEqual([
      expect.objectContaining({ party: 'monitoring', rule: 'checkpoint.behind', signed_size: 1 }),
    ]);
    expect(signed.at(-1)!.signers).not.toContain('monitoring');
    // The next one carries a proof from 1 too: monitoring signs it.
    await w.record(entry(5));
    expect(signed.at(-1)!.refusals).toEqual([]);
    expect(signed.at(-1)!.signers).toContain('monitoring');
    const cp = (await w.latestCheckpoint())!;
    expect(cp.size).toBe(5);
    openCheckpoint(cp.note, [await w.logKey()]);
  });

  it('when too many parties are behind for a quorum, the signing is tried again with proofs from their sizes', async () => {
    const down = new Set<string>();
    const c = new LocalCoordinator({ gateway, down: (id) => down.has(id) });
    const { store } = memoryLogStore();
    const first = writer(c, store);
    await first.w.record(entry(1));
    expect(first.signed.at(-1)!.signers).toEqual(['monitoring', 'problem-solver', 'strategy']);
    down.add('monitoring').add('problem-solver');
    await first.w.record(entry(2));
    // A restarted gateway (it remembers no refusal) with strategy down: the previous checkpoint
    // is size 2, but monitoring and problem-solver last signed size 1.
    down.clear();
    down.add('strategy');
    const restarted = writer(c, store);
    await restarted.w.record(entry(3));
    expect(restarted.signed).toHaveLength(1);
    expect(restarted.signed[0]!.signers).toEqual(['monitoring', 'problem-solver', 'quality-assurance']);
  });

  it('a gateway that rewrites its log gets no signature on it', async () => {
    const c = new LocalCoordinator({ gateway });
    const honest = memoryLogStore();
    const { w } = writer(c, honest.store);
    await w.record(entry(1));
    const afterOne = new Map(honest.data);
    await w.record(entry(2));
    await w.record(entry(3));
    // The gateway restores the log as it was after entry 1 and writes other entries on it.
    const rewritten = memoryLogStore(afterOne);
    const evil = writer(c, rewritten.store);
    const refusedAs = async (n: number) => {
      const e = await evil.w.record(entry(n)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'QUORUM_UNREACHABLE' });
      return new Set(((e as ProtocolError).details['refusals'] as { rule: string }[]).map((r) => r.rule));
    };
    // The parties that signed the honest size 3 refuse the rewritten sizes 2 and 3 as such; at
    // size 4 the writer proves it from 1 (its own last checkpoint), then, told they are behind,
    // from 3 in the rewritten log: no proof joins the honest tree of 3 to it.
    expect(await refusedAs(20)).toEqual(new Set(['checkpoint.rollback']));
    expect(await refusedAs(30)).toEqual(new Set(['checkpoint.fork']));
    expect(await refusedAs(40)).toEqual(new Set(['checkpoint.inconsistent']));
    expect(evil.signed).toHaveLength(0);
    expect((await TransparencyLog.open(rewritten.store, { origin: ORIGIN })).size).toBe(4);
    expect((await evil.w.latestCheckpoint())!.size).toBe(1);
  });

  it('the proofs it sends verify against the checkpoints it signed', async () => {
    const c = new LocalCoordinator({ gateway });
    const { store } = memoryLogStore();
    const { w } = writer(c, store);
    await w.record(entry(1));
    const one = (await w.latestCheckpoint())!;
    await w.record(entry(2));
    const two = (await w.latestCheckpoint())!;
    verifyConsistency(1, 2, await w.consistencyProof(1, 2), one.rootHash, two.rootHash);
  });

  it('a log store read that fails once while the log opens fails that seal only: the next opens it again', async () => {
    const c = new LocalCoordinator({ gateway });
    const log = memoryLogStore();
    const get = log.store.get;
    let fail = true;
    log.store.get = async (k) => {
      if (fail) {
        fail = false;
        throw new Error('read timed out');
      }
      return get(k);
    };
    const { w } = writer(c, log.store);
    await expect(w.record(entry(1))).rejects.toThrow('read timed out');
    await expect(w.record(entry(2))).resolves.toMatchObject({ bundle: { transparencyLog: { logIndex: 0 } } });
  });
});
