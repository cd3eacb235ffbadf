/**
 * Two-phase key changes. Round 3 of a DKG or of a refresh only verifies and stores the new key (or
 * refreshed share) as *pending*, beside the current key and never used to sign, and answers with
 * this party's signed statement "I verified round 3 of session S for roster digest R, giving public
 * package digest P". `key.commit` makes the pending key current only when it carries such a
 * statement from every participant (the whole roster), all for the same S, R and P.
 *
 * Why: the coordinator is not trusted for safety. Were a key taken as each party's round 3 ran, one
 * malicious party could deal good shares to some peers and bad ones to others, so that k parties
 * (itself among them) take a key or refreshed share the rest refused, and then hold the group
 * hostage by not helping repair them. With the statements, no party takes a key some participant
 * did not verify, and a coordinator cannot commit one party early: it needs every party's
 * signature, which only that party's identity key makes.
 */
import {
  AapsError,
  base64Encode,
  bytesToHex,
  displayValue,
  ProtocolError,
  PublicKeyPackageCodec,
  signBytes,
  ValidationError,
} from '@aaps/mpc-core';
import { publicPackageDigest } from '../key-digest.js';
import {
  type KeyCommitProof,
  type KeyProtocol,
  type KeyStatement,
  keyStatementBytes,
  provenStatements,
} from '../key-statement.js';
import type { PendingKey } from '../store/level.js';
import type { PartyDeps, PartyState } from './context.js';
import { installKey, withKeyLock } from './install-key.js';

export type { KeyProtocol };

/** What round 3 of a DKG or refresh answers once it staged the key: the key's public parts and the statement. */
export interface Round3Verified {
  group_public_key: string;
  verifying_share: string;
  public_package: unknown;
  package_digest: string;
  verified: KeyStatement;
}

const protocolOf = (v: unknown): KeyProtocol => {
  if (v !== 'dkg' && v !== 'refresh')
    throw new ValidationError('INVALID_ARGUMENT', `body.protocol: expected "dkg" or "refresh"`, [
      'body.protocol',
    ]);
  return v;
};

export function createKeyCommitHandlers(deps: PartyDeps, state: PartyState) {
  const { suite, roster, self } = deps;
  const now = deps.now ?? (() => new Date());
  const digestOf = (key: PartyState['key']) =>
    key ? publicPackageDigest(suite.id, key.publicPackage) : null;
  const answer = (key: NonNullable<PartyState['key']>, packageDigest: string) => ({
    group_public_key: bytesToHex(key.publicPackage.groupPublicKey),
    verifying_share: bytesToHex(key.keyPackage.verifyingShare),
    package_digest: packageDigest,
  });

  return {
    /**
     * Refuse a round 3 while a key of another ceremony is pending here: one key change at a time
     * (a new round 1 drops a pending key a failed ceremony left). Call inside {@link withKeyLock}.
     */
    assertNoOtherPending(session: string): void {
      const other = state.pending;
      if (other !== undefined && other.meta.session !== session) {
        throw new AapsError(
          'CONFLICT',
          `a key of another ceremony (${other.meta.protocol} ${other.meta.session}) is pending here: one key change at a time`,
        );
      }
    },

    /**
     * Store `key` as this party's pending key for `session` (replacing any other pending key), sign
     * that it verified it, and answer round 3 with both. The current key is recorded as the one the
     * pending key replaces: a commit requires it to be still current. Call inside
     * {@link withKeyLock}, with round 3's checks (a round 3 and its stage are one key change).
     */
    async stage(
      protocol: KeyProtocol,
      session: string,
      key: NonNullable<PartyState['key']>,
    ): Promise<Round3Verified> {
      const packageDigest = publicPackageDigest(suite.id, key.publicPackage);
      const subject = { protocol, session, rosterDigest: deps.rosterDigest, packageDigest };
      const sig = signBytes(deps.identity.secretKey, keyStatementBytes(subject, self.id));
      const statement = { party: self.id, sig: base64Encode(sig) };
      const pending: PendingKey = {
        key,
        meta: { protocol, session, packageDigest, replaces: digestOf(state.key), statement },
      };
      await deps.store.savePendingKey(pending);
      state.pending = pending;
      return {
        ...answer(key, packageDigest),
        public_package: PublicKeyPackageCodec.toJSON(suite.id, key.publicPackage),
        verified: statement,
      };
    },

    /** Forget a pending key not of `session` (a new ceremony supersedes a failed one). */
    dropOther(session: string): Promise<void> {
      return withKeyLock(state, async () => {
        if (state.pending === undefined || state.pending.meta.session === session) return;
        await deps.store.dropPendingKey();
        state.pending = undefined;
      });
    },

    /**
     * `key.commit`: make the pending key of `session` current, given every participant's signed
     * statement for its package. A commit repeated after it took effect answers the same, with
     * `installed: false`.
     *
     * Not checked again here: the operator's `allow_key_replace` for a DKG over a held key. Round 3
     * checked it when it staged the key, and the commit takes effect only over the key round 3
     * saw (`replaces`); asking again would strand a commit a crash cut short once the operator
     * switched it off, leaving the parties on two keys.
     */
    commit(session: string, body: Record<string, unknown>) {
      const protocol = protocolOf(body.protocol);
      return withKeyLock(state, async () => {
        const named = body.package_digest;
        const p = state.pending;
        if (p === undefined || p.meta.session !== session || p.meta.protocol !== protocol) {
          const done = await deps.store.loadCommitProof();
          if (
            state.key &&
            done?.session === session &&
            done.protocol === protocol &&
            done.packageDigest === named &&
            digestOf(state.key) === named
          )
            return { ...answer(state.key, done.packageDigest), installed: false };
          throw new AapsError(
            'NOT_FOUND',
            `no ${protocol} key of session ${displayValue(session)} is pending here (superseded, or round 3 did not pass here)`,
          );
        }
        if (named !== p.meta.packageDigest) {
          throw new ProtocolError(
            'INCONSISTENT_TRANSCRIPT',
            `the commit names key package ${displayValue(named)}, and this party verified ${p.meta.packageDigest}`,
          );
        }
        const proven = provenStatements(
          roster,
          { protocol, session, rosterDigest: deps.rosterDigest, packageDigest: named },
          body.statements,
        );
        if (proven.missing.length > 0) {
          throw new ValidationError(
            'INVALID_ARGUMENT',
            `a commit needs every participant's signed statement that it verified package ${named}: none valid from ${proven.missing.join(', ')}`,
            ['body.statements'],
          );
        }
        if (digestOf(state.key) !== p.meta.replaces) {
          throw new AapsError(
            'CONFLICT',
            `this party's key changed since round 3 of ${session} verified the pending one: ${protocol} again`,
          );
        }
        // Only the valid statements are kept, one a party: the proof others' commits are finished from.
        const proof: KeyCommitProof = {
          protocol,
          session,
          packageDigest: named,
          statements: proven.statements,
        };
        await installKey(
          deps,
          state,
          p.key,
          { event: `${protocol}.completed`, session, at: now().toISOString() },
          () => deps.store.commitPendingKey(p.key, proof),
        );
        state.pending = undefined;
        return { ...answer(p.key, named), installed: true };
      });
    },

    /**
     * `key.pending`: this party's pending key (with its own statement) and the proof its current
     * key was committed with, so a coordinator restarted after a crash between commits can finish
     * them. Everything in it that counts is signed by the parties themselves.
     */
    async pendingInfo() {
      const p = state.pending;
      const committed = await deps.store.loadCommitProof();
      return {
        pending:
          p === undefined
            ? null
            : {
                protocol: p.meta.protocol,
                session: p.meta.session,
                package_digest: p.meta.packageDigest,
                public_package: PublicKeyPackageCodec.toJSON(suite.id, p.key.publicPackage),
                statement: p.meta.statement,
              },
        committed:
          committed === undefined
            ? null
            : {
                protocol: committed.protocol,
                session: committed.session,
                package_digest: committed.packageDigest,
                statements: committed.statements,
              },
      };
    },
  };
}

export type KeyCommitHandlers = ReturnType<typeof createKeyCommitHandlers>;
