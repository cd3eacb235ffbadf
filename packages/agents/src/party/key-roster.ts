/**
 * A party's stored key against the roster it starts with. What the key was made under (the
 * threshold, this party's participant number, the number of parties, the ciphersuite) must still
 * hold, or the party would sign under a roster its key does not fit; what the key does not depend
 * on (URLs, display ids, approvers) may change, and is only noted.
 */
import { type AnyCiphersuite, getCiphersuite, identifierToScalar, ValidationError } from '@aaps/mpc-core';
import type { PartyConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { frostIdentifier, type Roster, type RosterParty } from '../roster.js';
import type { StoredKey } from '../store/level.js';

/** What a stored key depends on in the roster that differs from it (empty: the key fits). */
export function keyRosterMismatches(stored: StoredKey, roster: Roster, self: RosterParty): string[] {
  const kp = stored.keyPackage;
  if (kp.suite !== roster.ciphersuite)
    return [`roster ciphersuite ${roster.ciphersuite} differs from the key's ${kp.suite}`];
  const suite = getCiphersuite(roster.ciphersuite);
  const problems: string[] = [];
  const t = roster.threshold;
  if (kp.threshold.min !== t.min || kp.threshold.max !== t.max) {
    problems.push(
      `roster threshold ${t.min}-of-${t.max} differs from the key's ${kp.threshold.min}-of-${kp.threshold.max}`,
    );
  }
  if (frostIdentifier(roster, self) !== kp.identifier) {
    problems.push(
      `${self.id}'s roster index ${self.index} differs from the key's participant ${participant(suite, kp.identifier)}`,
    );
  }
  const shares = Object.keys(stored.publicPackage.verifyingShares);
  if (shares.length !== roster.parties.length) {
    problems.push(
      `the roster's ${roster.parties.length} parties differ from the key's ${shares.length} verifying shares`,
    );
  } else {
    const unknown = roster.parties.filter((p) => !shares.includes(frostIdentifier(roster, p)));
    if (unknown.length > 0) {
      problems.push(
        `roster index ${unknown.map((p) => `${p.index} (${p.id})`).join(', ')} has no verifying share in the key ` +
          `(its participants: ${shares.map((s) => participant(suite, s)).join(', ')})`,
      );
    }
  }
  return problems;
}

/** A FROST identifier as its participant number when it is one (RFC 9591 numbering), else hex. */
function participant(suite: AnyCiphersuite, identifier: string): string {
  try {
    const n = identifierToScalar(suite, identifier);
    return n <= 65_535n ? String(n) : identifier;
  } catch {
    return identifier;
  }
}

/**
 * Refuse a roster the stored key was not made for (threshold, this party's identifier, the number
 * of parties, the ciphersuite), unless the operator allows the key to be replaced (a re-key under
 * the new roster is under way: warn). Other changes (URLs, display ids, approvers) only warn once.
 */
export function checkKeyAgainstRoster(
  stored: StoredKey,
  roster: Roster,
  self: RosterParty,
  digest: string,
  config: PartyConfig,
  logger: Logger,
): void {
  const problems = keyRosterMismatches(stored, roster, self);
  if (problems.length > 0) {
    const message =
      `${problems.join('; ')}: the key this party holds (made ${stored.createdAt}) was made under another ` +
      `roster (${stored.rosterDigest}); restore the roster it was made under, or re-key with allow_key_replace on`;
    if (!config.allowKeyReplace) throw new ValidationError('INVALID_ARGUMENT', message, ['roster']);
    logger.warn('keys.roster_mismatch', {
      note: `${message} (allow_key_replace is on: starting for the re-key)`,
    });
    return;
  }
  if (stored.rosterDigest !== digest) {
    logger.warn('roster.changed', {
      note: `roster changed since the key was made: ${stored.rosterDigest} -> ${digest}`,
      key_roster_digest: stored.rosterDigest,
      roster_digest: digest,
    });
  }
}
