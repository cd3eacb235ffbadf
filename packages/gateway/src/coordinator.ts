/**
 * The coordinator: how the gateway reaches the agent parties. Each agent step runs in its own
 * party (which signs its output with its own identity key), and every threshold signature is a
 * k-of-n FROST signing in which each party checks what it signs against its own policy.
 *
 * Two implementations: `coordinator-local.ts` (every party in this process, for tests and
 * `aaps up --local`) and `coordinator-http.ts` (the party processes over HTTP).
 */
import type {
  AgentRole,
  AggregationRef,
  ApprovalBacking,
  ApprovalProposal,
  CheckpointProof,
  RiskSubject,
} from '@aaps/agents';
import type { EnvelopeContext, SignedEnvelope } from '@aaps/mpc-core';

export interface PartyKeyInfo {
  id: string;
  role: string;
  url: string;
  /** Ed25519 identity key, hex. */
  identity_key: string;
  /** FROST verifying share, hex. */
  verifying_share: string;
}

export interface KeysInfo {
  ciphersuite: string;
  /** Hex. */
  group_public_key: string;
  threshold: { min: number; max: number };
  parties: PartyKeyInfo[];
}

export interface PartyRefusal {
  party: string;
  rule: string;
  message: string;
  /**
   * For a checkpoint refusal (`checkpoint.behind`, `.inconsistent`, `.fork`, `.rollback`): the tree
   * size this party last signed for the origin, from its signed refusal. A consistency proof from
   * this size lets it sign the next checkpoint.
   */
  signed_size?: number;
}

/** An RFC 9162 consistency proof from the tree of `from` leaves to a checkpoint's tree (the parties' type). */
export type ConsistencyProof = CheckpointProof;

/** What the parties sign a log checkpoint over (see {@link Coordinator.signCheckpoint}). */
export interface CheckpointSubject {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  /** Proofs that this tree extends smaller ones: a party needs one from the size it last signed. */
  consistency?: ConsistencyProof[];
}

/**
 * A signed checkpoint shown to a party that did not sign it (see {@link Coordinator.witnessCheckpoint}):
 * the signed note as the log stores it, with consistency proofs to its tree (a party needs one
 * from the size it last witnessed).
 */
export interface WitnessInput {
  note: string;
  consistency: ConsistencyProof[];
}

/** A party's answer to `checkpoint.witness`. */
export type WitnessAnswer =
  | { outcome: 'witnessed' }
  | {
      outcome: 'refused';
      rule: string;
      message: string;
      /** The size the party last witnessed, from its signed refusal. */
      signed_size?: number;
    };

export interface Misbehaviour {
  party: string;
  code: string;
  detail?: string;
}

export interface ThresholdResult {
  /** The aggregate signature under the group key. */
  signature: Uint8Array;
  /** Party ids whose shares made the signature. */
  signers: string[];
  refusals: PartyRefusal[];
  misbehaved: Misbehaviour[];
  /**
   * Parties asked that did not answer (unreachable, an error other than a policy refusal), each
   * once with its first error: the signature completed without them.
   */
  unavailable: Misbehaviour[];
}

export interface AgentStepInput {
  incidentId: string;
  traceId: string;
  /** The incident's signed envelopes so far, in order. */
  transcript: SignedEnvelope[];
  context: EnvelopeContext;
  /**
   * What the step needs that the transcript does not hold (deployment history, sources of truth,
   * the execution result, the audit record...). See `workflow/step-request.ts`.
   */
  extra?: Record<string, unknown>;
}

/** One party's answer to `sealed.release` (docs/sealing.md). */
export type PartyReleaseAnswer =
  | {
      party: string;
      outcome: 'answered';
      /** `release` is a `ReleasedShareCodec` JSON value, sealed to the requester. */
      released: { field: string; release: unknown }[];
      refused: { field: string; rule: string }[];
    }
  | { party: string; outcome: 'refused'; rule: string }
  | { party: string; outcome: 'unavailable'; code: string };

export interface ReleaseSealedInput {
  /** The signed `UnsealRequest`, as received. */
  request: unknown;
  /**
   * The `UnsealRequested` evidence bundle, as logged (signed k-of-n, with its inclusion proof):
   * each party releases only for a request the log holds.
   */
  record: unknown;
  /** `SealedFieldCodec` JSON of each requested field. */
  fields: unknown[];
  /** Field id to the detector kind recorded at intake. */
  detectors: Record<string, string>;
}

/** A pooled risk score: the reference a proposal binds, and the aggregation record behind it. */
export interface PooledRisk {
  ref: AggregationRef;
  /** The `AggregationRecord` in its JSON form (`encodeAggregationRecordJson`), for the evidence. */
  record: Record<string, unknown>;
}

export interface Coordinator {
  keys(): Promise<KeysInfo>;
  /**
   * Run one agent's workflow step in that agent's party; the results are envelopes signed by that
   * agent's identity key, in the order the role emits them (the problem solver emits an
   * `RCAReport` and a `FixProposal`; every other role one envelope).
   */
  agentStep(role: AgentRole, input: AgentStepInput): Promise<SignedEnvelope[]>;
  /**
   * k-of-n FROST over the approval proposal; each party checks that the agents' signed outputs in
   * `backing` (the strategy party's decision, the problem solver's fix) propose exactly it
   * (`checkApprovalBacking`), applies its own policy and derives the signed bytes itself
   * (`proposalSigningBytes`). Throws `ProtocolError('QUORUM_UNREACHABLE')` with
   * `details.refusals` when fewer than k sign.
   */
  signApproval(proposal: ApprovalProposal, backing: ApprovalBacking): Promise<ThresholdResult>;
  /**
   * k-of-n FROST over the DSSE PAE of the evidence Statement; parties re-derive the PAE from the
   * statement and check its subject against the transcript. A party signs only when the Statement
   * names it, so only the parties it names (`predicate.signers`) are asked: none substitutes.
   */
  signEvidence(input: { statement: unknown; transcript: SignedEnvelope[] }): Promise<ThresholdResult>;
  /**
   * k-of-n FROST over a C2SP checkpoint body. Each party acts as a witness of the log: it signs the
   * first checkpoint of an origin on trust, and after that only one that extends the last it signed
   * for the origin, proved by a proof in `consistency` from that size; it refuses a missing proof as
   * `checkpoint.behind` (with `signed_size`), a bad one as `checkpoint.inconsistent`, another root
   * at its size as `checkpoint.fork` and a smaller size as `checkpoint.rollback`.
   */
  signCheckpoint(input: CheckpointSubject): Promise<ThresholdResult>;
  /**
   * Show one party a checkpoint the group signed (`checkpoint.witness`): the party signs nothing,
   * checks the group signature, the origin and consistency with its own record, and advances its
   * record, so parties outside the signing quorums follow the log too. Answers the party's
   * acceptance or signed refusal; throws when the party cannot be reached or fails otherwise.
   * Optional: the in-process coordinator's parties sign every checkpoint they accept.
   */
  witnessCheckpoint?(party: string, input: WitnessInput): Promise<WitnessAnswer>;
  /**
   * Ask every party, in parallel, to release its share of the fields to the requester
   * (`sealed.release`). Never throws for one party: each answer, refusal or failure is returned.
   * Optional: a coordinator without it cannot unseal (503).
   */
  releaseSealed?(input: ReleaseSealedInput): Promise<PartyReleaseAnswer[]>;
  /**
   * Pool the departments' private risk scores for a fix (docs/aggregation.md, "Pooled risk"):
   * every party derives its own score from the subject and deals it into the `weighted-risk`
   * circuit; the coordinator opens only the weighted sum, shows every party the record, and
   * returns the reference strategy binds into the proposal, with the record for the evidence.
   * Throws (`UNAVAILABLE`) when fewer than k parties, or not the strategy party, confirmed the
   * result; `undefined` only from a coordinator that does not pool. Optional: without it the
   * workflow scores with the formula alone.
   */
  poolRisk?(subject: RiskSubject, opts?: { traceId?: string }): Promise<PooledRisk | undefined>;
  /**
   * Proactive share refresh across every party (docs/api.md, "Refreshing the key shares"): the
   * group key stays, every share and verifying share changes, and shares stolen before it are
   * useless with those after it. Signings wait while it runs. A party left on another package
   * (one a refresh missed, or a lost key) is repaired from k holders first; after a refresh that
   * failed part-way, the package k parties hold wins and the others are repaired onto it.
   * Throws `CONFLICT` when one is already running, `UNAVAILABLE` when a party is unreachable (a
   * refresh needs every party). Optional: the in-process coordinator has no separate shares to
   * protect.
   */
  refreshKeys?(opts?: { progress?: (line: string) => void; reason?: string }): Promise<KeyRefreshResult>;
  /**
   * Repair parties' key shares onto the gateway's package (docs/api.md, "Repairing a party's key
   * share"): `parties`, or every party that answers and is not on it (a wiped disk, a refresh it
   * missed, an old backup restored), each helped by k holders. Needs only those parties and k
   * holders up; the group key and verifying shares stay, and signings go on meanwhile. Throws
   * `CONFLICT` when a refresh or another repair is running or fewer than k parties hold the
   * package, `INVALID_ARGUMENT` for a party not in the roster, and `UNAVAILABLE` (naming who was
   * repaired and who was not, and why) when a party's repair failed. Optional, as `refreshKeys`.
   */
  repairKeys?(opts: {
    reason: string;
    parties?: readonly string[];
    progress?: (line: string) => void;
  }): Promise<KeyRepairResult>;
}

/** What `repairKeys` did (every party named was repaired or already held the package). */
export interface KeyRepairResult {
  /** Hex; unchanged by a repair. */
  group_public_key: string;
  /** Parties repaired onto the gateway's package. */
  repaired: string[];
  /** Parties that already held it (named ones, or with none named, every party that answered). */
  up_to_date: string[];
  /** What happened, a line a step (also in the gateway's log, as `keys.repair`). */
  steps: string[];
  took_ms: number;
}

/** What `refreshKeys` did. */
export interface KeyRefreshResult {
  /** Hex; unchanged by a refresh. */
  group_public_key: string;
  /** Each party's verifying share before and after. */
  parties: { id: string; previous_verifying_share: string; verifying_share: string }[];
  /** Parties repaired onto the group's package, before the refresh or after a partial one. */
  repaired: string[];
  /** What happened, a line a step (also in the gateway's log). */
  steps: string[];
  took_ms: number;
}
