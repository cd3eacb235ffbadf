/**
 * What the coordinator relays between parties, signed by its sender's identity key so that a
 * relay cannot forge a message "from" a party.
 *
 * Point-to-point secrets (DKG and refresh round-2 shares, repair deltas and sigmas) are sealed to
 * the receiver's X25519 key (from its roster identity key), with associated data binding the
 * protocol, session, sender, receiver and roster digest. The box alone proves nothing about its
 * sender (anyone can seal to a public key): a repair delta, for one, carries no commitment a
 * receiver could check it against.
 *
 * Round-1 packages (DKG and refresh commitments) are public but signed the same way. A share is
 * checked against its sender's round-1 commitment, and a failed check names the sender; that is
 * only fair if the commitment is provably the sender's. Unsigned, a relay could show one party a
 * package of its own making (a valid proof of knowledge under any identifier is easy to make)
 * and have an honest peer blamed for the mismatch.
 */
import {
  base64Decode,
  base64Encode,
  bytesToHex,
  type CiphersuiteId,
  canonicalize,
  concatBytes,
  hexToBytes,
  type Identifier,
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
import { sha256 } from '@noble/hashes/sha2.js';
import { frostIdentifier, partyById, partyByIdentifier, type RosterParty } from '../../roster.js';
import type { PartyDeps } from '../context.js';
import { x25519OfIdentityHex } from '../identity-x25519.js';

/** Whether `sig` (base64, as relayed) is `party`'s identity-key signature over `bytes`. */
function signedBy(party: RosterParty, bytes: Uint8Array, sig: unknown): boolean {
  if (typeof sig !== 'string') return false;
  try {
    return verifyEd25519(hexToBytes(party.identity_key), bytes, base64Decode(sig, 'sig'));
  } catch {
    return false;
  }
}

/**
 * Round-1 signatures this process verified, by key, message digest and signature: a DKG, refresh
 * or repair relays the same signed round-1 packages in round 2 and again in round 3, and the
 * second check of identical bytes under the same key can only agree with the first. Only
 * successes are kept, and only the last {@link VERIFIED_ROUND1_MAX}.
 */
const verifiedRound1Sigs = new Set<string>();
const VERIFIED_ROUND1_MAX = 4096;

/** {@link signedBy}, remembering successes (see {@link verifiedRound1Sigs}). */
function round1SignedBy(party: RosterParty, bytes: Uint8Array, sig: unknown): boolean {
  if (typeof sig !== 'string') return false;
  const id = `${party.identity_key} ${bytesToHex(sha256(bytes))} ${sig}`;
  if (verifiedRound1Sigs.has(id)) return true;
  if (!signedBy(party, bytes, sig)) return false;
  if (verifiedRound1Sigs.size >= VERIFIED_ROUND1_MAX)
    verifiedRound1Sigs.delete(verifiedRound1Sigs.values().next().value as string);
  verifiedRound1Sigs.add(id);
  return true;
}

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

/**
 * The associated data of a relayed box. `bound` is what else the box is bound to: for DKG and
 * refresh round-2 shares, the digest of the sender's own round-1 package ({@link round1Digest}),
 * so a share travels only with the package it was computed from.
 */
export function relayAad(
  protocol: string,
  session: string,
  sender: string,
  receiver: string,
  rosterDigest: string,
  bound?: string,
): Uint8Array {
  const base = `aaps-${protocol}/v1|${session}|${sender}|${receiver}|${rosterDigest}`;
  return utf8(bound === undefined ? base : `${base}|${bound}`);
}

/** Seal `value` (encoded by `codec`) from this party to `receiver`, bound to `bound` if given. */
export function sealFor<T>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  receiver: RosterParty,
  codec: MessageCodec<T>,
  value: T,
  bound?: string,
): SealedItem {
  const aad = relayAad(protocol, session, deps.self.id, receiver.id, deps.rosterDigest, bound);
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
 * Whether `box` (a relayed box, its codec's JSON) carries `sender`'s signature `sig` over its
 * associated data for `receiver` (see {@link relayAad}); checked by the receiver before it opens
 * a box, and by a coordinator before it relays a round-2 outbox.
 */
export function boxSignedFor(
  suite: CiphersuiteId,
  args: {
    protocol: string;
    session: string;
    sender: RosterParty;
    receiver: string;
    rosterDigest: string;
    bound?: string;
  },
  box: unknown,
  sig: unknown,
): boolean {
  let bytes: Uint8Array;
  try {
    const decoded = SealedBoxCodec.fromJSON(box, suite).value;
    const aad = relayAad(
      args.protocol,
      args.session,
      args.sender.id,
      args.receiver,
      args.rosterDigest,
      args.bound,
    );
    bytes = relaySigningBytes(aad, SealedBoxCodec.encode(suite, decoded));
  } catch {
    return false;
  }
  return signedBy(args.sender, bytes, sig);
}

/**
 * Open every item addressed to this party. A box whose signature is not its claimed sender's is
 * refused without blaming the sender (`INCONSISTENT_TRANSCRIPT`: the relay changed or forged it);
 * a signed box that does not open names its sender. `boundOf` gives what each sender's box must be
 * bound to (see {@link relayAad}): a box bound to something else fails its signature check, so
 * it too blames no one.
 */
export function openAll<T>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  items: unknown,
  codec: MessageCodec<T>,
  field = 'body.sealed',
  boundOf?: (sender: RosterParty) => string | undefined,
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
      const aad = relayAad(protocol, session, sender.id, deps.self.id, deps.rosterDigest, boundOf?.(sender));
      const sig = (item as { sig?: unknown }).sig;
      const bytes = relaySigningBytes(aad, SealedBoxCodec.encode(deps.suite.id, box));
      if (!signedBy(sender, bytes, sig)) {
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

/**
 * A round-2 package opened from a signed box ({@link openAll}), held to its box: it must name the
 * box's signer as its sender and this party as its receiver, or the signer is named. A package
 * sealed under an honest peer's name (that peer's real box left out by the relay) would otherwise
 * have round 3 blame the peer for the signer's share. `what` names the package in the error.
 */
export function addressedHere<T extends { sender: Identifier; receiver: Identifier }>(
  deps: PartyDeps,
  what: string,
  { sender, value }: { sender: RosterParty; value: T },
): T {
  if (
    value.sender !== frostIdentifier(deps.roster, sender) ||
    value.receiver !== frostIdentifier(deps.roster, deps.self)
  ) {
    throw new ProtocolError('INVALID_SECRET_SHARE', `${what} from ${sender.id} is mislabelled`, [
      frostIdentifier(deps.roster, sender),
    ]);
  }
  return value;
}

/** A round-1 package as a party answers it and the coordinator relays it, unchanged. */
export interface SignedRound1 {
  /** The package in its codec's JSON form. */
  package: unknown;
  /** The sender's Ed25519 signature (base64) over {@link round1SigningBytes}. */
  signature: string;
}

const ROUND1_SIG_DST = utf8('aaps-round1-sig/v1|');

/**
 * What a party signs for its round-1 package: a domain tag, then the protocol (`dkg`, `refresh`),
 * session, roster digest, the sender's roster id and the package (its codec's JSON), as one
 * canonical JSON object, so no field can run into the next.
 */
export function round1SigningBytes(
  protocol: string,
  session: string,
  rosterDigest: string,
  sender: string,
  packageJson: unknown,
): Uint8Array {
  return concatBytes(
    ROUND1_SIG_DST,
    utf8(canonicalize({ protocol, session, roster_digest: rosterDigest, sender, package: packageJson })),
  );
}

/**
 * The digest (hex SHA-256 of its canonical JSON) of a round-1 package in its codec's JSON form:
 * what the sender's round-2 boxes are bound to. Were they not, a relay that got two signed
 * packages from one party (by asking it for round 1 of a session twice) could show a peer one and
 * hand it the shares of the other, and the share check would blame the honest sender.
 */
export function round1Digest(packageJson: unknown): string {
  return bytesToHex(sha256(utf8(canonicalize(packageJson))));
}

/** This party's round-1 package for `protocol` in `session`, signed by its identity key. */
export function signRound1<T>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  codec: MessageCodec<T>,
  pkg: T,
): SignedRound1 {
  const json = codec.toJSON(deps.suite.id, pkg);
  const sig = signBytes(
    deps.identity.secretKey,
    round1SigningBytes(protocol, session, deps.rosterDigest, deps.self.id, json),
  );
  return { package: json, signature: base64Encode(sig) };
}

/**
 * The peers' round-1 packages from the relayed `list` of {@link SignedRound1}: decoded, narrowed
 * by `peers` (which keeps the other parties' packages and refuses a wrong set, see
 * `everyRosterPeer`), then each checked against the roster key of the party whose FROST
 * identifier it carries. A bad or missing signature is the relay's doing, not that party's:
 * `INCONSISTENT_TRANSCRIPT` with no culprits.
 */
export function verifiedRound1<T extends { identifier: Identifier }>(
  deps: PartyDeps,
  protocol: string,
  session: string,
  list: unknown,
  codec: MessageCodec<T>,
  peers: (all: T[], field: string) => T[],
  field = 'body.round1_packages',
): { packages: T[]; digestOf: (sender: RosterParty) => string | undefined } {
  if (!Array.isArray(list))
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an array of signed round-1 packages`, [
      field,
    ]);
  const signatures = new Map<T, { json: unknown; sig: unknown; at: string }>();
  const all = list.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null || !('package' in item))
      throw new ValidationError('INVALID_ARGUMENT', `${at}: expected {package, signature}`, [at]);
    const { package: json, signature } = item as { package: unknown; signature?: unknown };
    const pkg = codec.fromJSON(json, deps.suite.id as CiphersuiteId).value;
    signatures.set(pkg, { json: codec.toJSON(deps.suite.id, pkg), sig: signature, at });
    return pkg;
  });
  const others = peers(all, field);
  for (const pkg of others) {
    const { json, sig, at } = signatures.get(pkg)!;
    // `peers` keeps roster parties only.
    const sender = partyByIdentifier(deps.roster, pkg.identifier)!;
    if (
      !round1SignedBy(sender, round1SigningBytes(protocol, session, deps.rosterDigest, sender.id, json), sig)
    ) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        sig === undefined
          ? `${at}: the ${protocol} round-1 package for ${sender.id} carries no signature (a relay or party older than signed round 1? every party and the gateway must run it)`
          : `${at}: the ${protocol} round-1 package for ${sender.id} is not signed by ${sender.id} (the relay changed or forged it)`,
      );
    }
  }
  const digests = new Map(others.map((pkg) => [pkg.identifier, round1Digest(signatures.get(pkg)!.json)]));
  return {
    packages: others,
    digestOf: (sender) => digests.get(frostIdentifier(deps.roster, sender)),
  };
}
