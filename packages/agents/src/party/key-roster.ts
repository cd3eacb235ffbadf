/**
 * A party's stored key against the roster it starts with. What the key was made under (the
 * threshold, which party holds which participant number, the number of parties, the ciphersuite)
 * must still hold, or the party would sign under a roster its key does not fit: a roster that
 * swaps two parties' indexes would make the veto check (`routes/sign.ts`) look for the veto
 * holder under another party's participant. What the key does not depend on (URLs, identity keys,
 * approvers) may change, and is only noted.
 */
import {
  type AnyCiphersuite,
  getCiphersuite,
  type Identifier,
  identifierToScalar,
  ValidationError,
} from '@aaps/mpc-core';
import type { PartyConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { frostIdentifier, type Roster, type RosterParty } from '../roster.js';
import type { PartyStore, StoredKey } from '../store/level.js';

/**
 * Which roster party holds which FROST identifier under `roster`: what a key made under it records
 * (`StoredKey.participants`).
 */
export function rosterParticipants(roster: Roster): ReadonlyMap<string, Identifier> {
  return new Map(roster.parties.map((p) => [p.id, frostIdentifier(roster, p)]));
}

/**
 * What a stored key depends on in the roster that differs from it (empty: the key fits). A key
 * stored before keys recorded their participants is taken to be the roster's numbering: only this
 * party's own index is checked for it (against its key package), as before.
 */
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
  const made = stored.participants;
  if (made !== undefined) {
    // This party's index is checked against its key package itself, above; its id is checked
    // here like any other (a roster that renamed it would be refused by its peers).
    const ownIndexReported = frostIdentifier(roster, self) !== kp.identifier;
    for (const p of roster.parties) {
      if (p.id === self.id && (ownIndexReported || made.has(p.id))) continue;
      const held = made.get(p.id);
      if (held === undefined) {
        problems.push(
          `roster party ${p.id} (index ${p.index}) is not one the key was made under (${[...made.keys()].join(', ')})`,
        );
      } else if (held !== frostIdentifier(roster, p)) {
        problems.push(
          `${p.id}'s roster index ${p.index} differs from the key's participant ${participant(suite, held)}`,
        );
      }
    }
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
 * Refuse a roster the stored key was not made for (threshold, any party's index, the number of
 * parties, the ciphersuite), unless the operator allows the key to be replaced (a re-key under
 * the new roster is under way: warn). Other changes (URLs, identity keys, the gateway, approvers)
 * only warn once. Returns whether the key fits the roster.
 */
export function checkKeyAgainstRoster(
  stored: StoredKey,
  roster: Roster,
  self: RosterParty,
  digest: string,
  config: PartyConfig,
  logger: Logger,
): boolean {
  const problems = keyRosterMismatches(stored, roster, self);
  if (problems.length > 0) {
    const message =
      `${problems.join('; ')}: the key this party holds (made ${stored.createdAt}) was made under another ` +
      `roster (${stored.rosterDigest}); restore the roster it was made under, or re-key with allow_key_replace on`;
    if (!config.allowKeyReplace) throw new ValidationError('INVALID_ARGUMENT', message, ['roster']);
    logger.warn('keys.roster_mismatch', {
      note: `${message} (allow_key_replace is on: starting for the re-key)`,
    });
    return false;
  }
  if (stored.rosterDigest !== digest) {
    logger.warn('roster.changed', {
      note: `roster changed since the key was made: ${stored.rosterDigest} -> ${digest}`,
      key_roster_digest: stored.rosterDigest,
      roster_digest: digest,
    });
  }
  return true;
}

/**
 * Record in a key stored before keys held their participants which party holds which, as the
 * roster it fits numbers them (it is taken to be the roster the key was made under), so that a
 * later roster that renumbers a party is refused. A key that records them is returned as it is.
 */
export async function recordKeyParticipants(
  store: PartyStore,
  stored: StoredKey,
  roster: Roster,
  logger: Logger,
): Promise<StoredKey> {
  if (stored.participants !== undefined) return stored;
  const key = { ...stored, participants: rosterParticipants(roster) };
  await store.saveKey(key);
  logger.info('keys.participants_recorded', {
    note: "recorded which roster party holds which of the key's participants, as this roster numbers them",
  });
  return key;
}
