/**
 * Shows each signed checkpoint to the roster parties that did not sign it (`checkpoint.witness`,
 * docs/evidence.md, "What the parties check"). The coordinator asks only k parties to sign a
 * checkpoint, and in a steady state the same k every time: without this the other n - k would
 * never record the log, and one signer that lost its record (a repair or a restore) with them
 * would make a quorum that signs a fork. Shown every checkpoint, every party that is up holds
 * the newest one, so a fork needs k parties that lost their records.
 *
 * Best effort and off the incident's path: a party that is down or refuses fails nothing (it is
 * logged and counted). Coalesced: a party only needs the newest checkpoint, so one call at a time
 * per party, each carrying the newest checkpoint not yet shown to it, with a consistency proof
 * from the size the party is known to hold (from its signatures, its witness answers and its
 * signed refusals).
 */
import type { CheckpointRefusalRule, Logger } from '@aaps/agents';
import type { StoredCheckpoint } from '@aaps/evidence';
import { isAapsError } from '@aaps/mpc-core';
import type { ConsistencyProof, Coordinator, PartyRefusal } from './coordinator.js';
import type { GatewayMetrics } from './metrics.js';

export interface CheckpointWitnessOptions {
  coordinator: Coordinator;
  /** The log's RFC 9162 consistency proof from tree size `from` to `to`. */
  consistencyProof: (from: number, to: number) => Promise<Uint8Array[]>;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

/** What a checkpoint signing told about the parties: who signed, and the sizes refusals named. */
export interface CheckpointSigning {
  signers: readonly string[];
  refusals: readonly PartyRefusal[];
}

export interface CheckpointWitness {
  /**
   * A checkpoint of the log was signed and stored: the signers hold it, and every other party of
   * `parties` is shown it (in the background). Returns at once.
   */
  signed(checkpoint: StoredCheckpoint, parties: readonly string[], signing: CheckpointSigning): void;
  /** Resolves once no witness call is in flight or waiting (for tests and shutdown). */
  idle(): Promise<void>;
}

/** Refusals that are no alarm: a party behind is sent a proof from its size next. */
const ROUTINE = new Set(['checkpoint.behind']);

/**
 * The rules a party refuses a checkpoint with (`policy/checkpoint-rule.ts`; `checkpoint.origin` for
 * a checkpoint of another log, `checkpoint.signature` for a note that does not verify under the
 * group key: `party/routes/witness.ts`): the only ones counted by name. A refusal's rule is whatever
 * string its party signed, so any other is counted as `other` and logged cut to
 * {@link LOGGED_RULE_CHARS} characters (its message to {@link LOGGED_MESSAGE_CHARS}): one party must
 * not grow the label set or the log lines.
 */
const KNOWN_RULES: ReadonlySet<string> = new Set<
  CheckpointRefusalRule | 'checkpoint.origin' | 'checkpoint.signature'
>([
  'checkpoint.fork',
  'checkpoint.rollback',
  'checkpoint.behind',
  'checkpoint.inconsistent',
  'checkpoint.origin',
  'checkpoint.signature',
]);
const LOGGED_RULE_CHARS = 64;
/**
 * The most characters of a refusal's message logged: it is `<party>: <what it said>`, from the
 * party's unsigned error body (the client keeps up to 1 KiB of it), so cut further in the log line.
 */
const LOGGED_MESSAGE_CHARS = 256;

/** A refusal's rule as a metric outcome: a known rule, or `other`. */
function ruleOutcome(rule: string): string {
  return KNOWN_RULES.has(rule) ? rule : 'other';
}

/** A refusal's message as logged: at most {@link LOGGED_MESSAGE_CHARS} characters, saying when it was cut. */
function loggedMessage(message: string): string {
  return message.length <= LOGGED_MESSAGE_CHARS
    ? message
    : `${message.slice(0, LOGGED_MESSAGE_CHARS)}… (cut from ${message.length} characters)`;
}

/** A refusal's rule as logged: a known rule, or at most {@link LOGGED_RULE_CHARS} characters of it. */
function loggedRule(rule: string): string {
  return KNOWN_RULES.has(rule) || rule.length <= LOGGED_RULE_CHARS
    ? rule
    : `${rule.slice(0, LOGGED_RULE_CHARS - 1)}…`;
}

export function createCheckpointWitness(opts: CheckpointWitnessOptions): CheckpointWitness {
  const witness = opts.coordinator.witnessCheckpoint?.bind(opts.coordinator);
  /** The tree size each party is known to hold a record of. */
  const known = new Map<string, number>();
  /** The newest checkpoint each party is still to be shown. */
  const waiting = new Map<string, StoredCheckpoint>();
  /** The one call loop per party. */
  const running = new Map<string, Promise<void>>();

  const holds = (party: string) => known.get(party) ?? -1;
  const raise = (party: string, size: number) => known.set(party, Math.max(holds(party), size));
  const count = (party: string, outcome: string) => opts.metrics?.witness.inc({ party, outcome });

  /** Show `party` checkpoint `cp`, with a proof from the size it holds (learnt from a `behind` refusal if need be). */
  const show = async (party: string, cp: StoredCheckpoint, call: NonNullable<typeof witness>) => {
    let from = known.get(party);
    for (let attempt = 0; ; attempt++) {
      const consistency: ConsistencyProof[] =
        from !== undefined && from < cp.size
          ? [{ from, hashes: from === 0 ? [] : await opts.consistencyProof(from, cp.size) }]
          : [];
      const answer = await call(party, { note: cp.note, consistency });
      if (answer.outcome === 'witnessed') {
        raise(party, cp.size);
        count(party, 'witnessed');
        return;
      }
      const { rule, message, signed_size } = answer;
      if (signed_size !== undefined) known.set(party, signed_size);
      // Behind at a size this call had no proof from: once more, with one.
      if (
        rule === 'checkpoint.behind' &&
        signed_size !== undefined &&
        signed_size !== from &&
        attempt === 0
      ) {
        from = signed_size;
        continue;
      }
      const fields = {
        party,
        rule: loggedRule(rule),
        message: loggedMessage(message),
        origin: cp.origin,
        size: cp.size,
        signed_size,
      };
      // A "rollback" from a party that holds a larger tree than it was shown: it signed a newer
      // checkpoint while this call was out (a race with a signing, whether or not this gateway has
      // stored that checkpoint yet), no alarm. Whether its record is of this log is judged the
      // next time it is shown or asked to sign a checkpoint at least that large.
      const ahead = rule === 'checkpoint.rollback' && signed_size !== undefined && signed_size > cp.size;
      count(party, ahead ? 'ahead' : ruleOutcome(rule));
      // Anything else but `behind` means the party holds another history, or another log.
      if (ROUTINE.has(rule) || ahead) opts.logger?.info('checkpoint.witness_refused', fields);
      else opts.logger?.error('checkpoint.witness_refused', fields);
      return;
    }
  };

  const drain = async (party: string, call: NonNullable<typeof witness>) => {
    // Off the path of the incident whose checkpoint this is.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let cp = waiting.get(party); cp !== undefined; cp = waiting.get(party)) {
      waiting.delete(party);
      if (holds(party) >= cp.size) continue;
      try {
        await show(party, cp, call);
      } catch (e) {
        const code = isAapsError(e) ? e.code : 'INTERNAL';
        count(party, 'unavailable');
        opts.logger?.warn('checkpoint.witness_failed', { party, code, origin: cp.origin, size: cp.size });
      }
    }
  };

  const kick = (party: string, call: NonNullable<typeof witness>) => {
    if (running.has(party)) return;
    const task = drain(party, call)
      .catch(() => undefined)
      .finally(() => {
        running.delete(party);
        // A checkpoint that arrived as the loop ended.
        if (waiting.has(party)) kick(party, call);
      });
    running.set(party, task);
  };

  return {
    signed(cp, parties, { signers, refusals }) {
      for (const r of refusals) if (r.signed_size !== undefined) known.set(r.party, r.signed_size);
      for (const p of signers) {
        raise(p, cp.size);
        const next = waiting.get(p);
        if (next !== undefined && next.size <= cp.size) waiting.delete(p);
      }
      if (witness === undefined) return;
      for (const p of parties) {
        if (signers.includes(p) || holds(p) >= cp.size) continue;
        const next = waiting.get(p);
        if (next === undefined || next.size < cp.size) waiting.set(p, cp);
        kick(p, witness);
      }
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
  };
}
