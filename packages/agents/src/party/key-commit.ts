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
  base64Decode,
  base64Encode,
  bytesToHex,
  canonicalize,
  concatBytes,
  displayValue,
  hexToBytes,
  ProtocolError,
  PublicKeyPackageCodec,
  signBytes,
  utf8,
  ValidationError,
  verifyEd25519,
} from '@aaps/mpc-core';
import { publicPackageDigest } from '../key-digest.js';
import type { Roster } from '../roster.js';
import type { KeyCommitProof, KeyStatement, PendingKey, PendingKeyMeta } from '../store/level.js';
import type { PartyDeps, PartyState } from './context.js';
import { installKey, withKeyLock } from './install-key.js';
import { assertMayTakeKey } from './key-replace.js';

export type KeyProtocol = PendingKeyMeta['protocol'];

const KEY_STATEMENT_DST = utf8('aaps-key-verified/v1|');

/** What a party signs once its round 3 verified a key: a domain tag, then one canonical object. */
export function keyStatementBytes(
  protocol: KeyProtocol,
  session: string,
  rosterDigest: string,
  party: string,
  packageDigest: string,
): Uint8Array {
  return concatBytes(
    KEY_STATEMENT_DST,
    utf8(
      canonicalize({ protocol, session, roster_digest: rosterDigest, party, package_digest: packageDigest }),
    ),
  );
}

/**
 * The roster parties whose statement for (`protocol`, `session`, `packageDigest`) is missing from
 * `statements`, or not signed by their identity key. Empty: every participant verified the key.
 * A party named twice must be right both times.
 */
export function unprovenParties(
  roster: Roster,
  rosterDigest: string,
  protocol: KeyProtocol,
  session: string,
  packageDigest: string,
  statements: unknown,
): string[] {
  const list = Array.isArray(statements) ? (statements as unknown[]) : [];
  return roster.parties
    .filter((p) => {
      const mine = list.filter((s) => (s as { party?: unknown } | null)?.party === p.id);
      if (mine.length === 0) return true;
      const bytes = keyStatementBytes(protocol, session, rosterDigest, p.id, packageDigest);
      return !mine.every((s) => {
        const sig = (s as { sig?: unknown }).sig;
        if (typeof sig !== 'string') return false;
        try {
          return verifyEd25519(hexToBytes(p.identity_key), bytes, base64Decode(sig, 'sig'));
        } catch {
          return false;
        }
      });
    })
    .map((p) => p.id);
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
     * Store `key` as this party's pending key for `session` (replacing any other pending key) and
     * sign that it verified it. Call inside {@link withKeyLock}; `replaces` is the current key
     * when round 3 checked it, which a commit requires to be still current.
     */
    async stage(
      protocol: KeyProtocol,
      session: string,
      key: NonNullable<PartyState['key']>,
      replace: boolean,
    ): Promise<{ statement: KeyStatement; packageDigest: string }> {
      const packageDigest = publicPackageDigest(suite.id, key.publicPackage);
      const sig = signBytes(
        deps.identity.secretKey,
        keyStatementBytes(protocol, session, deps.rosterDigest, self.id, packageDigest),
      );
      const statement = { party: self.id, sig: base64Encode(sig) };
      const pending: PendingKey = {
        key,
        meta: { protocol, session, packageDigest, replaces: digestOf(state.key), replace, statement },
      };
      await deps.store.savePendingKey(pending);
      state.pending = pending;
      return { statement, packageDigest };
    },

    /** Forget a pending key not of `session` (a new ceremony supersedes a failed one). */
    async dropOther(session: string): Promise<void> {
      if (state.pending === undefined || state.pending.meta.session === session) return;
      await deps.store.dropPendingKey();
      state.pending = undefined;
    },

    /**
     * `key.commit`: make the pending key of `session` current, given every participant's signed
     * statement for its package. A commit repeated after it took effect answers the same.
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
            return answer(state.key, done.packageDigest);
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
        const missing = unprovenParties(roster, deps.rosterDigest, protocol, session, named, body.statements);
        if (missing.length > 0) {
          throw new ValidationError(
            'INVALID_ARGUMENT',
            `a commit needs every participant's signed statement that it verified package ${named}: none valid from ${missing.join(', ')}`,
            ['body.statements'],
          );
        }
        const current = digestOf(state.key);
        if (current !== p.meta.replaces) {
          throw new AapsError(
            'CONFLICT',
            `this party's key changed since round 3 of ${session} verified the pending one: ${protocol} again`,
          );
        }
        if (protocol === 'dkg')
          assertMayTakeKey(deps.config, state.key !== undefined, p.meta.replace, 'commit a new DKG');
        const statements = (body.statements as KeyStatement[]).map((s) => ({ party: s.party, sig: s.sig }));
        const proof: KeyCommitProof = { protocol, session, packageDigest: named, statements };
        await installKey(
          deps,
          state,
          p.key,
          { event: `${protocol}.completed`, session, at: now().toISOString() },
          () => deps.store.commitPendingKey(p.key, proof),
        );
        state.pending = undefined;
        return answer(p.key, named);
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
