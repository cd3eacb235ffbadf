/**
 * A threshold signing that found no quorum: one shape for `ProtocolError('QUORUM_UNREACHABLE')`'s
 * `details`, built by both coordinators (local and HTTP) and read by the workflow runner and the
 * evidence writer, so what one writes is what the others read.
 */
import { type Culprit, isAapsError, ProtocolError } from '@aaps/mpc-core';
import type { PartyRefusal } from './coordinator.js';

export interface QuorumFailure {
  /** The signed policy refusals of parties that answered. */
  refusals: PartyRefusal[];
  /** Those of veto holders (quality assurance): any one ends an approval. */
  vetoes: PartyRefusal[];
  /** Parties proven to cheat (a signature share or commitment that does not verify). */
  culprit_parties: string[];
  /** Parties that did not answer: down, timed out, or failed other than by refusing or cheating. */
  unavailable_parties: string[];
  /** Required parties (veto holders) lost without refusing or cheating: an approval waits for them. */
  required_unavailable: string[];
  /** Required parties proven to cheat: no approval can be made with them, so none is waited for. */
  required_culprits: string[];
}

const LISTS = [
  'culprit_parties',
  'unavailable_parties',
  'required_unavailable',
  'required_culprits',
] as const satisfies readonly (keyof QuorumFailure)[];

/**
 * The `QUORUM_UNREACHABLE` error for `failure` (lists not given are empty). `culprits` are the
 * protocol's culprit identifiers; `extra` keeps other details a session reported (they never
 * replace the failure's own lists).
 */
export function quorumUnreachable(
  message: string,
  failure: Partial<QuorumFailure>,
  opts: { culprits?: readonly Culprit[]; extra?: Record<string, unknown> } = {},
): ProtocolError {
  const details: QuorumFailure = {
    refusals: failure.refusals ?? [],
    vetoes: failure.vetoes ?? [],
    culprit_parties: failure.culprit_parties ?? [],
    unavailable_parties: failure.unavailable_parties ?? [],
    required_unavailable: failure.required_unavailable ?? [],
    required_culprits: failure.required_culprits ?? [],
  };
  // The message names each refusal's rule, so whoever reads only the message (a log line, a
  // caller's `String(e)`) learns which check the parties refused it under.
  const refused = details.refusals.map((r) => `${r.party} (${r.rule})`).join(', ');
  const text = refused === '' ? message : `${message}; refused: ${refused}`;
  return new ProtocolError('QUORUM_UNREACHABLE', text, opts.culprits ?? [], {
    details: { ...opts.extra, ...details },
  });
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

const refusalList = (v: unknown): PartyRefusal[] =>
  Array.isArray(v)
    ? v.filter(
        (x): x is PartyRefusal =>
          typeof x === 'object' && x !== null && typeof x.party === 'string' && typeof x.rule === 'string',
      )
    : [];

/**
 * The failure a `QUORUM_UNREACHABLE` error carries (lists it lacks read as empty), or `undefined`
 * for any other error.
 */
export function quorumFailureOf(e: unknown): QuorumFailure | undefined {
  if (!isAapsError(e) || e.code !== 'QUORUM_UNREACHABLE') return undefined;
  const d = e.details;
  const failure: QuorumFailure = {
    refusals: refusalList(d['refusals']),
    vetoes: refusalList(d['vetoes']),
    culprit_parties: [],
    unavailable_parties: [],
    required_unavailable: [],
    required_culprits: [],
  };
  for (const key of LISTS) failure[key] = strings(d[key]);
  return failure;
}
