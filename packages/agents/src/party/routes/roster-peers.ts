/**
 * A key-maintenance round that takes the whole roster (DKG, refresh) must see exactly one round-1
 * package from every other roster party. Over a subset, or a different subset shown to each party,
 * the parties' shares would not lie on one polynomial: a DKG would leave parties with different
 * group keys, a refresh would lose the key while the group key looks unchanged.
 */
import { type Identifier, ValidationError } from '@aaps/mpc-core';
import { frostIdentifier, type Roster } from '../../roster.js';

/**
 * A check for `roster` as seen by party `myId`: it returns the packages of the other parties (its
 * own, if present, is dropped) when there is one from each of them and nothing else, and throws
 * `INVALID_ARGUMENT` naming `field` otherwise. `round` names the protocol in the message.
 */
export function everyRosterPeer(roster: Roster, myId: Identifier, round: string) {
  const peers = roster.parties.map((p) => frostIdentifier(roster, p)).filter((id) => id !== myId);
  return <P extends { identifier: Identifier }>(all: readonly P[], field: string): P[] => {
    const others = all.filter((p) => p.identifier !== myId);
    // As many as the peers, and each peer among them: so each peer exactly once.
    const got = new Set(others.map((p) => p.identifier));
    if (others.length !== peers.length || peers.some((id) => !got.has(id))) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${field}: ${round} needs one package from each of the ${peers.length} other roster parties`,
        [field],
      );
    }
    return others;
  };
}
