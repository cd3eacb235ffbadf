/**
 * Whether this party may take a new key (a DKG's or a repaired share) now. A party with no key
 * always may. Over a key it holds, only when the coordinator asks to replace it *and* the operator
 * allows that (`allow_key_replace`, off by default): the coordinator alone can never swap a
 * department's key, so a compromised gateway cannot re-key the group behind the operators' backs.
 */
import { AapsError } from '@aaps/mpc-core';
import type { PartyConfig } from '../config.js';

export function assertMayTakeKey(
  config: Pick<PartyConfig, 'allowKeyReplace'>,
  holdsKey: boolean,
  replace: boolean,
  action: string,
): void {
  if (!holdsKey) return;
  if (!replace)
    throw new AapsError('KEY_EXISTS', `this party already holds a key; pass replace: true to ${action}`);
  if (!config.allowKeyReplace) {
    throw new AapsError(
      'FORBIDDEN',
      `this party holds a key and its operator has not allowed replacing it: to ${action} over it, ` +
        'restart the party with --allow-key-replace true (AAPS_PARTY_ALLOW_KEY_REPLACE), then turn it off again',
    );
  }
}
