/**
 * The statements behind a two-phase key change (see `party/key-commit.ts`): after round 3 of a DKG
 * or refresh verified a key, each party signs "I verified round 3 of session S for roster digest R,
 * giving public package digest P"; a party commits the key only with one such statement from every
 * roster party. Shared by the parties (which sign and check them) and the coordinator (which
 * gathers, checks and relays them).
 */
import { base64Decode, canonicalize, concatBytes, hexToBytes, utf8, verifyEd25519 } from '@aaps/mpc-core';
import type { Roster, RosterParty } from './roster.js';

/** The ceremonies that change a key in two phases. */
export type KeyProtocol = 'dkg' | 'refresh';

/** One party's signature (base64) over its "I verified round 3" statement. */
export interface KeyStatement {
  party: string;
  sig: string;
}

/** Every participant's statement for one package: what a commit carries and what it leaves stored. */
export interface KeyCommitProof {
  protocol: KeyProtocol;
  session: string;
  packageDigest: string;
  statements: KeyStatement[];
}

/** What a statement is about. */
export interface KeyStatementSubject {
  protocol: KeyProtocol;
  session: string;
  rosterDigest: string;
  packageDigest: string;
}

const KEY_STATEMENT_DST = utf8('aaps-key-verified/v1|');

/** What `party` signs once its round 3 verified a key: a domain tag, then one canonical object. */
export function keyStatementBytes(subject: KeyStatementSubject, party: string): Uint8Array {
  return concatBytes(
    KEY_STATEMENT_DST,
    utf8(
      canonicalize({
        protocol: subject.protocol,
        session: subject.session,
        roster_digest: subject.rosterDigest,
        party,
        package_digest: subject.packageDigest,
      }),
    ),
  );
}

/** Whether `statement` (as relayed: anything) is `party`'s valid signed statement about `subject`. */
export function statementHolds(
  party: RosterParty,
  subject: KeyStatementSubject,
  statement: unknown,
): boolean {
  const s = statement as Partial<KeyStatement> | null;
  if (typeof s !== 'object' || s === null || s.party !== party.id || typeof s.sig !== 'string') return false;
  try {
    return verifyEd25519(
      hexToBytes(party.identity_key),
      keyStatementBytes(subject, party.id),
      base64Decode(s.sig, 'sig'),
    );
  } catch {
    return false;
  }
}

/**
 * One valid statement about `subject` per roster party, found in `statements` (as relayed: any
 * value; anything else in it is ignored, never kept), and the parties without one. `missing`
 * empty: every participant verified the key.
 */
export function provenStatements(
  roster: Roster,
  subject: KeyStatementSubject,
  statements: unknown,
): { statements: KeyStatement[]; missing: string[] } {
  const list = Array.isArray(statements) ? (statements as unknown[]) : [];
  const found: KeyStatement[] = [];
  const missing: string[] = [];
  for (const p of roster.parties) {
    const valid = list.find((s) => statementHolds(p, subject, s)) as KeyStatement | undefined;
    if (valid === undefined) missing.push(p.id);
    else found.push({ party: valid.party, sig: valid.sig });
  }
  return { statements: found, missing };
}
