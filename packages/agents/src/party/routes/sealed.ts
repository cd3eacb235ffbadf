/**
 * Point-to-point secrets relayed by the coordinator (DKG and refresh round-2 shares, repair
 * deltas and sigmas): sealed to the receiver's X25519 key (from its roster identity key), with
 * associated data binding the protocol, session, sender, receiver and roster digest, and signed
 * by the sender's identity key. The box alone proves nothing about its sender (anyone can seal
 * to a public key), so the signature is what stops a relay from forging a message "from" a
 * party: a repair delta, for one, carries no commitment a receiver could check it against.
 */
import {
  base64Decode,
  base64Encode,
  type CiphersuiteId,
  concatBytes,
  hexToBytes,
  type MessageCodec,
  open,
  ProtocolError,
  SealedBoxCodec,
  seal,
  signBytes,
  utf8,
  ValidationError,
  verifyEd25519,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { frostIdentifier, partyById, type RosterParty } from '../../roster.js';
import type { PartyDeps } from '../context.js';
import { x25519OfIdentityHex } from '../identity-x25519.js';

export interface SealedItem {
  /** Party id of the receiver (when sending) or of the sender (when received). */
  party: string;
  box: unknown;
  /** The sender's Ed25519 signature (base64) over {@link relaySigningBytes}. */
  sig: string;
}

const RELAY_SIG_DST = utf8('aaps-relay-sig/v1|');

/** What a sender signs for a relayed box: a domain tag, the box's associated data, the box. */
export function relaySigningBytes(aad: Uint8Array, box: Uint8Array): Uint8Array {
  return concatBytes(RELAY_SIG_DST, aad, box);
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
  const aad = relayAad(protocol, session, deps.self.id, receiver.id, deps.rosterDigest);
  const box = seal(
    x25519OfIdentityHex(receiver.identity_key),
    codec.encode(deps.suite.id, value),
    aad,
    deps.rng,
  );
  const sig = signBytes(
    deps.identity.secretKey,
    relaySigningBytes(aad, SealedBoxCodec.encode(deps.suite.id, box)),
  );
  return { party: receiver.id, box: SealedBoxCodec.toJSON(deps.suite.id, box), sig: base64Encode(sig) };
}

/**
 * Open every item addressed to this party. A box whose signature is not its claimed sender's is
 * refused without blaming the sender (`INCONSISTENT_TRANSCRIPT`: the relay changed or forged it);
 * a signed box that does not open names its sender.
 */
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
      const aad = relayAad(protocol, session, sender.id, deps.self.id, deps.rosterDigest);
      const sig = (item as { sig?: unknown }).sig;
      let signed = false;
      try {
        signed =
          typeof sig === 'string' &&
          verifyEd25519(
            hexToBytes(sender.identity_key),
            relaySigningBytes(aad, SealedBoxCodec.encode(deps.suite.id, box)),
            base64Decode(sig, `${field}[${i}].sig`),
          );
      } catch {
        signed = false;
      }
      if (!signed) {
        throw new ProtocolError(
          'INCONSISTENT_TRANSCRIPT',
          `${field}[${i}]: the ${protocol} message is not signed by ${sender.id}, its claimed sender (the relay changed or forged it)`,
        );
      }
      let plain: Uint8Array;
      try {
        plain = open(mine, box, aad);
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
