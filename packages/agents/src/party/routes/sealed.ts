/**
 * Point-to-point secrets relayed by the coordinator (DKG and refresh round-2 shares, repair
 * deltas and sigmas): sealed to the receiver's X25519 key (from its roster identity key), with
 * associated data binding the protocol, session, sender, receiver and roster digest.
 */
import {
  type CiphersuiteId,
  type MessageCodec,
  open,
  ProtocolError,
  SealedBoxCodec,
  seal,
  utf8,
  ValidationError,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { frostIdentifier, partyById, type RosterParty } from '../../roster.js';
import type { PartyDeps } from '../context.js';
import { x25519OfIdentityHex } from '../identity-x25519.js';

export interface SealedItem {
  /** Party id of the receiver (when sending) or of the sender (when received). */
  party: string;
  box: unknown;
}

export function relayAad(
  protocol: string,
  session: string,
  sender: string,
  receiver: string,
  rosterDigest: string,
): Uint8Array {
  return utf8(`aaps-${protocol}/v1|${session}|${sender}|${receiver}|${rosterDigest}`);
}

/** Seal `value` (encoded by `codec`) from this party to `receiver`. */
export function sealFor<T>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  receiver: RosterParty,
  codec: MessageCodec<T>,
  value: T,
): SealedItem {
  const box = seal(
    x25519OfIdentityHex(receiver.identity_key),
    codec.encode(deps.suite.id, value),
    relayAad(protocol, session, deps.self.id, receiver.id, deps.rosterDigest),
    deps.rng,
  );
  return { party: receiver.id, box: SealedBoxCodec.toJSON(deps.suite.id, box) };
}

/** Open every item addressed to this party; a box that does not open names its sender. */
export function openAll<T>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  items: unknown,
  codec: MessageCodec<T>,
  field = 'body.sealed',
): { sender: RosterParty; value: T }[] {
  if (!Array.isArray(items))
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected array`, [field]);
  const mine = x25519FromIdentitySecretKey(deps.identity.secretKey);
  try {
    return items.map((item, i) => {
      const senderId = (item as { party?: unknown })?.party;
      const sender = partyById(deps.roster, senderId);
      if (!sender)
        throw new ValidationError('UNKNOWN_IDENTIFIER', `${field}[${i}].party is not in the roster`, [
          `${field}[${i}].party`,
        ]);
      const box = SealedBoxCodec.fromJSON(
        (item as { box?: unknown }).box,
        deps.suite.id as CiphersuiteId,
      ).value;
      let plain: Uint8Array;
      try {
        plain = open(mine, box, relayAad(protocol, session, sender.id, deps.self.id, deps.rosterDigest));
      } catch (cause) {
        throw new ProtocolError(
          'INVALID_SECRET_SHARE',
          `${protocol} message from ${sender.id} does not open`,
          [frostIdentifier(deps.roster, sender)],
          {
            cause,
          },
        );
      }
      const value = codec.decode(plain, deps.suite.id).value;
      plain.fill(0);
      return { sender, value };
    });
  } finally {
    mine.wipe();
  }
}
