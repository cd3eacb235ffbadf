/**
 * Signing rounds. Round 2 carries the thing to be signed, never bytes: an approval proposal with
 * the agents' signed outputs that back it (policy/backing.ts), an evidence Statement with its
 * transcript, or a checkpoint. The party checks it against its own
 * policy, derives the message itself, refuses a signing package whose message differs (or, for
 * evidence, whose signers are not exactly the ones the Statement names), and only then consumes
 * its nonce and signs.
 */

import { checkEvidenceForSigning, formatCheckpoint, verifierRoster } from '@aaps/evidence';
import {
  AapsError,
  base64Decode,
  bytesToHex,
  commitToStore,
  equalBytes,
  hexToBytes,
  type Identifier,
  MAX_REPLENISH,
  PolicyRefusal,
  Round1CommitmentBatchCodec,
  SignatureShareCodec,
  SigningPackageCodec,
  signAndReplenishFromStore,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { checkApprovalBacking } from '../../policy/backing.js';
import type { CheckpointProof, ProposedCheckpoint } from '../../policy/checkpoint-rule.js';
import { evaluateProposal } from '../../policy/evaluate.js';
import { createHumanApprovalVerifier } from '../../policy/human-approval.js';
import {
  type AggregationRef,
  type ApprovalProposal,
  parseApprovalProposal,
  proposalSigningBytes,
} from '../../policy/proposal.js';
import { approverKey, frostIdentifier, partyById, type Roster, vetoHolders } from '../../roster.js';
import type { PartyDeps, PartyState } from '../context.js';
import { foreignOrigin, witnessedLog } from '../log-origin.js';

const MAX_COMMIT_BATCH = 256;
/** Consistency proofs one checkpoint subject may carry (one per size a party may have signed). */
const MAX_CONSISTENCY_PROOFS = 64;
/** Hashes in one consistency proof (a proof between trees below 2^64 leaves is shorter). */
const MAX_PROOF_HASHES = 128;

/** A consistency proof (RFC 9162) as it crosses the wire: from the tree of `from` leaves to the checkpoint's tree. */
interface ConsistencyProofJson {
  from: number;
  /** Hex, 32 bytes each. */
  hashes: string[];
}

/**
 * What a signed refusal says beyond its rule and message: for `checkpoint.*`, the tree size this
 * party last signed for the origin (a coordinator sends a consistency proof from there next time).
 */
export interface RefusalFacts {
  signed_size?: number;
}

/**
 * The {@link RefusalFacts} in `source` (a signed refusal body, or a refusal's details): a
 * `signed_size` only when it is a non-negative safe integer.
 */
export function refusalFactsOf(source: unknown): RefusalFacts {
  const size = (source as { signed_size?: unknown } | null | undefined)?.signed_size;
  return Number.isSafeInteger(size) && (size as number) >= 0 ? { signed_size: size as number } : {};
}

/** The party's roster as the evidence verifier holds it (ids and keys only). */
export { verifierRoster };

/** Checks a human approval's `ed25519:<base64>` signature against the roster's approver key. */
export function humanApprovalVerifier(roster: Roster) {
  return createHumanApprovalVerifier((id) => approverKey(roster, id));
}

type Subject =
  | { kind: 'approval'; proposal: unknown; backing?: unknown }
  | { kind: 'evidence'; payload_type: string; payload: string; transcript: unknown[] }
  | {
      kind: 'checkpoint';
      origin: string;
      tree_size: number;
      root_hash: string;
      consistency?: ConsistencyProofJson[];
    };

/**
 * Consistency proofs as they cross the wire (`field` names them in errors), checked for shape;
 * their hashes are checked at the claim.
 */
export function consistencyProofs(raw: unknown, field = 'body.subject.consistency'): CheckpointProof[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > MAX_CONSISTENCY_PROOFS) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `consistency: expected at most ${MAX_CONSISTENCY_PROOFS} proofs`,
      [field],
    );
  }
  const sizes = new Set<number>();
  return raw.map((p: Partial<ConsistencyProofJson> | null, i) => {
    const at = `${field}[${i}]`;
    if (!p || typeof p !== 'object' || !Number.isSafeInteger(p.from) || (p.from as number) < 0) {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.from: expected a tree size`, [`${at}.from`]);
    }
    if (!Array.isArray(p.hashes) || p.hashes.length > MAX_PROOF_HASHES) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${at}.hashes: expected at most ${MAX_PROOF_HASHES} hashes`,
        [`${at}.hashes`],
      );
    }
    if (sizes.has(p.from as number)) {
      throw new ValidationError('INVALID_ARGUMENT', `${at}.from: a second proof from one size`, [
        `${at}.from`,
      ]);
    }
    sizes.add(p.from as number);
    return {
      from: p.from as number,
      hashes: p.hashes.map((h, j) => hexToBytes(String(h), `${at}.hashes[${j}]`, 32)),
    };
  });
}

/**
 * `verifyAggregationRef` checks a pooled reference an approval cites (under the party's current
 * risk view); `aggregationConfirmed` the one a Statement signs (confirmed here, whatever the view
 * since: evidence records what was decided). Without the second, the first serves both.
 */
export function createSignHandlers(
  deps: PartyDeps,
  state: PartyState,
  verifyAggregationRef?: (ref: AggregationRef, proposal: ApprovalProposal) => boolean | 'stale',
  aggregationConfirmed:
    | ((ref: AggregationRef, proposal: ApprovalProposal) => boolean | 'stale')
    | undefined = verifyAggregationRef,
) {
  const { suite, roster } = deps;
  const now = deps.now ?? (() => new Date());
  const vroster = verifierRoster(roster);
  const roles = Object.fromEntries(roster.parties.map((p) => [p.id, p.role]));
  // The veto holders and their FROST identifiers: fixed with the roster, read per approval.
  const vetoIds = vetoHolders(roster).map((p) => ({ id: p.id, identifier: frostIdentifier(roster, p) }));
  const verifyHumanApproval = humanApprovalVerifier(roster);
  /** Whether the package's commitments come from exactly the `named` parties, one each. */
  const signsAsNamed = (commitments: readonly { identifier: Identifier }[], named: readonly string[]) => {
    const expected = new Set<Identifier>();
    for (const id of named) {
      const party = partyById(roster, id);
      if (party === undefined) return false;
      expected.add(frostIdentifier(roster, party));
    }
    const actual = new Set(commitments.map((c) => c.identifier));
    return (
      commitments.length === expected.size &&
      actual.size === expected.size &&
      [...actual].every((identifier) => expected.has(identifier))
    );
  };
  const requireKey = () => {
    if (!state.key) throw new AapsError('NO_KEY', 'this party holds no key yet: run the DKG first');
    return state.key;
  };
  const refuse = async (session: string, rule: string, message: string, facts: RefusalFacts = {}) => {
    await deps.store.audit({
      at: now().toISOString(),
      event: 'sign.refused',
      session,
      detail: { rule, ...facts },
    });
    // The facts go into the party's signed refusal (app.ts).
    throw new PolicyRefusal(rule, message, { details: { rule, ...facts } });
  };

  /** Derive the exact bytes to sign from the subject, applying this party's policy. */
  async function messageFor(
    session: string,
    subject: Subject,
  ): Promise<{
    message: Uint8Array;
    what: Record<string, unknown>;
    checkpoint?: ProposedCheckpoint;
    /** For evidence: the parties the Statement names as its signers (ids). */
    signers?: readonly string[];
  }> {
    switch (subject?.kind) {
      case 'approval': {
        const verdict = evaluateProposal(deps.policy, deps.self.role, subject.proposal, {
          now: now().getTime(),
          verifyHumanApproval,
          ...(verifyAggregationRef ? { verifyAggregationRef } : {}),
        });
        if (verdict.decision === 'refuse') return refuse(session, verdict.rule, verdict.message);
        const backed = checkApprovalBacking(subject.proposal, subject.backing, roster);
        if (!backed.ok) return refuse(session, backed.rule, backed.message);
        const p = subject.proposal as { incident_id: string; action: string; proposal_digest: string };
        return {
          message: proposalSigningBytes(subject.proposal),
          what: { incident_id: p.incident_id, action: p.action, proposal_digest: p.proposal_digest },
        };
      }
      case 'evidence': {
        const { publicPackage } = requireKey();
        let payload: Uint8Array;
        try {
          payload = base64Decode(subject.payload, 'payload');
        } catch {
          return refuse(session, 'evidence.payload', 'evidence payload is not base64');
        }
        const checked = checkEvidenceForSigning({
          payloadType: subject.payload_type,
          payload,
          transcript: subject.transcript,
          roster: vroster,
          // The roster's roles: a party's envelopes must be its role's outputs (evidence.transcript).
          roles,
          ciphersuite: suite.id,
          groupPublicKey: publicPackage.groupPublicKey,
          threshold: publicPackage.threshold,
          signer: deps.self.id,
          // The aggregation record the Statement signs must be one this party confirmed itself,
          // pooled for the proposal that cites it (the same ledger check as for an approval).
          aggregationConfirmed: (ref, proposal) =>
            aggregationConfirmed?.(ref, parseApprovalProposal(proposal)) === true,
        });
        if (!checked.ok) return refuse(session, checked.rule, checked.message);
        return {
          message: checked.message,
          what: { subject: checked.subject, transcript_sha256: checked.transcriptSha256 },
          signers: checked.signers,
        };
      }
      case 'checkpoint': {
        const size = subject.tree_size;
        const root = hexToBytes(String(subject.root_hash), 'root_hash', 32);
        if (!Number.isSafeInteger(size) || size < 0)
          throw new ValidationError('INVALID_ARGUMENT', 'tree_size', ['body.subject.tree_size']);
        if (typeof subject.origin !== 'string')
          throw new ValidationError('INVALID_ARGUMENT', 'origin', ['body.subject.origin']);
        // A party signs checkpoints of the one log it witnesses (configured, or pinned by its
        // first checkpoint): a fresh origin would be trusted on first use, and with it a rewritten
        // log or a side log. Checked here to spend no nonce, and again, atomically, at the claim.
        const foreign = foreignOrigin(witnessedLog(deps.config, deps.store), subject.origin);
        if (foreign !== undefined) return refuse(session, 'checkpoint.origin', foreign);
        // Fork, rollback and consistency are checked when the checkpoint is claimed, just before
        // signing (round2), with the proofs decoded here.
        const consistency = consistencyProofs(subject.consistency);
        const text = formatCheckpoint({ origin: subject.origin, size, rootHash: root, extensions: [] });
        return {
          message: new TextEncoder().encode(text),
          what: { origin: subject.origin, tree_size: size, root_hash: bytesToHex(root) },
          checkpoint: { size, root, consistency },
        };
      }
      default:
        throw new ValidationError(
          'INVALID_ARGUMENT',
          'subject.kind: expected approval, evidence or checkpoint',
          ['body.subject.kind'],
        );
    }
  }

  return {
    async commit(_session: string, body: Record<string, unknown>) {
      const key = requireKey();
      const count = body.count ?? 1;
      if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > MAX_COMMIT_BATCH) {
        throw new ValidationError('INVALID_ARGUMENT', `count: expected 1..${MAX_COMMIT_BATCH}`, [
          'body.count',
        ]);
      }
      const commitments = await commitToStore(suite, key.keyPackage, deps.store, count as number, deps.rng);
      return { commitments: Round1CommitmentBatchCodec.toJSON(suite.id, { commitments }) };
    },

    async round2(session: string, body: Record<string, unknown>) {
      const key = requireKey();
      const replenish = body.replenish ?? 0;
      if (
        !Number.isSafeInteger(replenish) ||
        (replenish as number) < 0 ||
        (replenish as number) > MAX_REPLENISH
      ) {
        throw new ValidationError('INVALID_ARGUMENT', `replenish: expected 0..${MAX_REPLENISH}`, [
          'body.replenish',
        ]);
      }
      const pkg = SigningPackageCodec.fromJSON(body.signing_package, suite.id).value;
      const subject = body.subject as Subject;
      const { message, what, checkpoint, signers } = await messageFor(session, subject);
      if (!equalBytes(message, pkg.message)) {
        return refuse(
          session,
          'message.mismatch',
          'the signing package message is not what this party derives from the subject',
        );
      }
      if (subject.kind === 'approval') {
        // A veto holder's refusal must be final: sign no approval whose signers leave one out.
        const signers = new Set(pkg.commitments.map((c) => c.identifier));
        const missing = vetoIds.filter((p) => !signers.has(p.identifier));
        if (missing.length > 0) {
          return refuse(
            session,
            'approval.veto_quorum',
            `an approval's signers must include ${missing.map((p) => p.id).join(', ')}, which hold a veto`,
          );
        }
      }
      if (subject.kind === 'evidence') {
        // The Statement says who signed it: the package's signers must be exactly those, or a
        // coordinator with unnamed accomplices could have this share attest for named parties
        // that never saw the evidence.
        if (signers === undefined) throw new AapsError('INTERNAL', 'evidence without its signers');
        if (!signsAsNamed(pkg.commitments, signers)) {
          return refuse(
            session,
            'evidence.signers',
            `the signing package's signers are not the ones the statement names (${signers.join(', ')})`,
          );
        }
      }
      // A checkpoint is claimed before the share leaves, one claim at a time: it must extend (with
      // a proof) the last checkpoint this party signed for the origin. The claim is made only once
      // the share is computed (every check passed, the nonce consumed), so a package that could
      // never be signed records no checkpoint.
      let beforeRelease: (() => Promise<void>) | undefined;
      if (subject.kind === 'checkpoint') {
        if (checkpoint === undefined) throw new AapsError('INTERNAL', 'a checkpoint without its proofs');
        beforeRelease = async () => {
          const rule = witnessedLog(deps.config, deps.store).claimRule;
          const claim = await deps.store.claimCheckpoint(subject.origin, checkpoint, rule);
          if (!claim.ok)
            await refuse(
              session,
              claim.rule,
              claim.message,
              'signed_size' in claim ? { signed_size: claim.signed_size } : {},
            );
        };
      }
      // Fresh commitments asked for ride back with the share: their nonces are saved in the same
      // synced write that spends this one (round one riding on round two).
      const { share, commitments } = await signAndReplenishFromStore(
        suite,
        key.keyPackage,
        deps.store,
        pkg,
        key.publicPackage,
        replenish as number,
        deps.rng,
        { ...(beforeRelease ? { beforeRelease } : {}) },
      );
      await deps.store.audit({
        at: now().toISOString(),
        event: 'sign.share',
        session,
        detail: {
          ...what,
          message_sha256: bytesToHex(sha256(message)),
          share_sha256: bytesToHex(sha256(share.share)),
        },
      });
      return {
        share: SignatureShareCodec.toJSON(suite.id, share),
        ...(commitments.length > 0
          ? { commitments: Round1CommitmentBatchCodec.toJSON(suite.id, { commitments: [...commitments] }) }
          : {}),
      };
    },
  };
}
