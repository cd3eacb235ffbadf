/**
 * Pooled-risk fixtures: real `weighted-risk` aggregation records (mpc-core's rounds among five
 * parties, 3-of-5) and approved incidents whose proposal cites one in `risk.aggregation_ref`, as
 * the gateway writes them (the record in the bundle, `decision.pooled: true`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  aggregationRecordToJson,
  buildAggregationRecord,
  canonicalBytes,
  createAggregationSession,
  dealInput,
  evaluateShares,
  getCiphersuite,
  identifierFromNumber,
  loadCircuit,
  openResult,
  verifyDealings,
} from '@aaps/mpc-core';
import type { AggregationRef } from '../aggregation-binding.js';
import { type BuildBundleInput, buildBundleStatement } from '../bundle/build.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../dsse.js';
import { sha256Hex } from '../encoding.js';
import type { EvidenceSigningInput } from '../signing-check.js';
import type { JsonObject } from '../statement.js';
import { makeApprovedInput, type TestKey, type TestRoster } from './fixtures.js';

const ROLES = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];

/** The repository's `circuits/weighted-risk.json`, as shipped. */
export const SHIPPED_WEIGHTED_RISK = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../../circuits/weighted-risk.json'), 'utf8'),
) as JsonObject;

export interface RecordOptions {
  /** The circuit's JSON; the shipped weighted-risk by default. */
  circuit?: unknown;
  sessionId?: string;
  /** One value per input, in circuit order; 80 each by default. */
  values?: number[];
  threshold?: number;
  /** Parties (the circuit's five roles, then extra ones); 5 by default. */
  parties?: number;
}

/**
 * A finished aggregation's record in the bundle's JSON form. Anyone can make one alone: they deal
 * every input themselves. Only its digest in an approved proposal makes it the departments' own.
 */
export function aggregationRecord(o: RecordOptions = {}): JsonObject {
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const rng = (n: number) => new Uint8Array(randomBytes(n));
  const circuit = loadCircuit(o.circuit ?? SHIPPED_WEIGHTED_RISK);
  const n = o.parties ?? 5;
  const parties = Array.from({ length: n }, (_, i) => ({
    id: identifierFromNumber(suite, i + 1),
    role: ROLES[i] ?? `extra-${i}`,
  }));
  const session = createAggregationSession(suite, {
    circuit,
    sessionId: o.sessionId ?? 'risk-real',
    threshold: o.threshold ?? 3,
    parties,
  });
  const dealings = circuit.inputs.map((input, i) =>
    dealInput(session, { input: input.name, dealer: session.providers[i]!, value: o.values?.[i] ?? 80 }, rng),
  );
  const shares = parties.flatMap((p) =>
    evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
  );
  const opened = openResult(session, dealings, shares, rng);
  return aggregationRecordToJson(buildAggregationRecord(session, dealings, opened)) as unknown as JsonObject;
}

/** The reference a proposal cites for `record`, whose pooled score is `value`. */
export function refFor(record: JsonObject, value: number): AggregationRef {
  return {
    circuit: 'weighted-risk',
    session_id: String(record.sessionId),
    output_digest: sha256Hex(canonicalBytes(record)),
    value,
  };
}

export interface PooledOptions {
  /** The reference the approved proposal cites; none when `null`. */
  ref: AggregationRef | null;
  /** The record the bundle carries (and the statement signs); none when absent. */
  record?: JsonObject;
  incidentId?: string;
  /** `predicate.decision.pooled`; `true` when a reference is cited, unset otherwise, by default. */
  pooled?: boolean | null;
  /** Strategy's decision; anything but `auto` (the default) leaves the incident unexecuted. */
  strategyDecision?: 'auto' | 'needs_human' | 'refuse';
}

/**
 * An approved, executed incident whose group-signed proposal (and strategy decision) cites `ref`
 * with a matching `risk.score`, its bundle carrying `record` (with `strategyDecision`, an incident
 * that stopped at strategy's decision instead).
 */
export async function makePooledInput(
  group: TestKey,
  r: TestRoster,
  o: PooledOptions,
): Promise<BuildBundleInput> {
  const { ref } = o;
  const input = await makeApprovedInput(group, r, {
    ...(o.incidentId === undefined ? {} : { incidentId: o.incidentId }),
    ...(o.strategyDecision === undefined ? {} : { strategyDecision: o.strategyDecision }),
    editProposal: (p) => {
      if (ref !== null) {
        const risk = p.risk as JsonObject;
        risk.aggregation_ref = { ...ref };
        risk.score = Math.max(Number(risk.score), ref.value);
      }
      const { proposal_digest: _d, ...core } = p;
      p.proposal_digest = sha256Hex(canonicalBytes({ domain: 'aaps.proposal-digest.v1', core }));
    },
  });
  const pooled = o.pooled === undefined ? (ref === null ? null : true) : o.pooled;
  return {
    ...input,
    ...(o.record === undefined ? {} : { aggregation: o.record }),
    decision: { ...input.decision, ...(pooled === null ? {} : { pooled }) },
  };
}

/**
 * What a party of `r` is offered for its evidence signature share on `input` (built for `group`,
 * 3-of-5), with its ledger check `confirmed` when given.
 */
export function evidenceOffer(
  input: BuildBundleInput,
  group: TestKey,
  r: TestRoster,
  confirmed?: EvidenceSigningInput['aggregationConfirmed'],
): EvidenceSigningInput {
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: canonicalBytes(buildBundleStatement(input)),
    transcript: input.transcript,
    roster: r.roster,
    ciphersuite: 'FROST-ED25519-SHA512-v1',
    groupPublicKey: group.publicKey,
    threshold: { min: 3, max: 5 },
    ...(confirmed === undefined ? {} : { aggregationConfirmed: confirmed }),
  };
}
