/**
 * Export to Sigstore: an evidence bundle as a Sigstore bundle v0.3, and a `trusted_root.json`
 * holding the log key (as a transparency log) plus, in an `aaps` extension, the group key and the
 * roster, so `@sigstore/verify` and `aaps-verify` can both verify offline from one file.
 *
 * Sigstore-js verifies: the DSSE signature under the key its `publicKey.hint` names (the group key
 * id, looked up in the keys the caller passes), the checkpoint's signed note under a trusted tlog
 * (matched by the first four bytes of its `checkpointKeyId` and by its `baseUrl` matching the
 * signature's key name), the inclusion proof of `canonicalizedBody` (our log leaf) under that
 * checkpoint's root, and that the leaf's `dsse` body names the envelope's signature and payload
 * hash. Only the Ed25519 suite is exportable: Sigstore has no BIP-340 key type.
 */
import { displayValue, ValidationError } from '@aaps/mpc-core/verifier';
import type { EvidenceBundle } from './bundle/types.js';
import type { BundleVerifierOptions } from './bundle/verify.js';
import { type NoteKey, noteKeyId, parseCheckpoint, parseSignedNote } from './checkpoint.js';
import { parseBase64, parseHex, sha256, toBase64, toHex } from './encoding.js';
import { ED25519_SUITE, ed25519FromSpki, ed25519Spki, keyIdOf } from './keys.js';
import { LOG_ENTRY_API_VERSION, LOG_ENTRY_KIND, logLeaf } from './log-leaf.js';
import type { Threshold, VerifierRoster } from './statement.js';
import { knownPartyRoles, type PartyRoles } from './transcript-authority.js';

export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

/** Sigstore bundle v0.3, in its protobuf-JSON form (bytes as base64, int64 as decimal strings). */
export interface SigstoreBundle {
  mediaType: typeof SIGSTORE_BUNDLE_MEDIA_TYPE;
  verificationMaterial: {
    publicKey: { hint: string };
    tlogEntries: Array<{
      logIndex: string;
      logId: { keyId: string };
      kindVersion: { kind: string; version: string };
      integratedTime: string;
      inclusionProof: {
        logIndex: string;
        rootHash: string;
        treeSize: string;
        hashes: string[];
        checkpoint: { envelope: string };
      };
      canonicalizedBody: string;
    }>;
    timestampVerificationData: { rfc3161Timestamps: [] };
  };
  dsseEnvelope: {
    payload: string;
    payloadType: string;
    signatures: Array<{ sig: string; keyid: string }>;
  };
}

/** A public key in Sigstore's protobuf-JSON form. */
export interface SigstorePublicKey {
  rawBytes: string;
  keyDetails: 'PKIX_ED25519';
  validFor: { start: string };
}

export interface TrustedRootInput {
  /** The raw 32-byte Ed25519 group public key. */
  groupPublicKey: Uint8Array;
  threshold: Threshold;
  /** The checkpoint-signing key; by default the group key itself. */
  logKey: NoteKey;
  /** The log's origin line (the checkpoint's first line). */
  origin: string;
  roster?: VerifierRoster;
  /**
   * Each party's role by id (the system roster's), so that a verifier holds each party to its
   * role's outputs (`transcript.authority`); only roles the evidence rules know are written.
   */
  partyRoles?: PartyRoles;
  /** RFC 3339 start of the keys' validity. */
  validFrom: string;
}

/** The `aaps` extension of a trusted root (ignored by Sigstore clients). */
export interface AapsTrustExtension {
  groupKey: {
    hint: string;
    ciphersuite: typeof ED25519_SUITE;
    /** Lower-case hex of the raw group key, as `aaps-verify --key` takes it. */
    publicKeyHex: string;
    publicKey: SigstorePublicKey;
    threshold: Threshold;
  };
  log: {
    origin: string;
    keyName: string;
    keyType: NoteKey['type'];
    publicKeyHex: string;
  };
  roster?: VerifierRoster;
  /** Each party's role by id, when the gateway knew them (see {@link TrustedRootInput.partyRoles}). */
  partyRoles?: Record<string, string>;
}

export interface TrustedRoot {
  mediaType: typeof TRUSTED_ROOT_MEDIA_TYPE;
  tlogs: Array<{
    baseUrl: string;
    hashAlgorithm: 'SHA2_256';
    publicKey: SigstorePublicKey;
    logId: { keyId: string };
    checkpointKeyId: { keyId: string };
  }>;
  certificateAuthorities: [];
  ctlogs: [];
  timestampAuthorities: [];
  aaps: AapsTrustExtension;
}

function ed25519Key(raw: Uint8Array, validFrom: string): SigstorePublicKey {
  return { rawBytes: toBase64(ed25519Spki(raw)), keyDetails: 'PKIX_ED25519', validFor: { start: validFrom } };
}

/**
 * Sigstore matches a checkpoint signature to a tlog by `baseUrl.match(keyName)`, so the base URL is
 * `https://` + the key name (key names are schema-less URLs by C2SP convention).
 */
export function tlogBaseUrl(keyName: string): string {
  return `https://${keyName}`;
}

/** The Sigstore log id of a note key: SHA-256 of its DER SubjectPublicKeyInfo. */
function tlogLogId(key: NoteKey): Uint8Array {
  return sha256(ed25519Spki(key.publicKey));
}

/** Build the `trusted_root.json` for a group key and log key (Ed25519 only). */
export function buildTrustedRoot(input: TrustedRootInput): TrustedRoot {
  const fields: string[] = [];
  if (!(input.groupPublicKey instanceof Uint8Array) || input.groupPublicKey.length !== 32)
    fields.push('groupPublicKey');
  if (input.logKey?.type !== 'ed25519' || input.logKey.publicKey?.length !== 32) fields.push('logKey');
  if (Number.isNaN(Date.parse(input.validFrom))) fields.push('validFrom');
  if (fields.length > 0) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `cannot build a trusted root: ${fields.join(', ')}`,
      fields,
    );
  }
  const validFrom = new Date(input.validFrom).toISOString();
  const aaps: AapsTrustExtension = {
    groupKey: {
      hint: keyIdOf(input.groupPublicKey),
      ciphersuite: ED25519_SUITE,
      publicKeyHex: Buffer.from(input.groupPublicKey).toString('hex'),
      publicKey: ed25519Key(input.groupPublicKey, validFrom),
      threshold: { min: input.threshold.min, max: input.threshold.max },
    },
    log: {
      origin: input.origin,
      keyName: input.logKey.name,
      keyType: input.logKey.type,
      publicKeyHex: Buffer.from(input.logKey.publicKey).toString('hex'),
    },
  };
  if (input.roster !== undefined) aaps.roster = input.roster;
  const roles =
    input.partyRoles === undefined ? undefined : knownPartyRoles(rolesAsParties(input.partyRoles));
  if (roles !== undefined) aaps.partyRoles = { ...roles };
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [
      {
        baseUrl: tlogBaseUrl(input.logKey.name),
        hashAlgorithm: 'SHA2_256',
        publicKey: ed25519Key(input.logKey.publicKey, validFrom),
        logId: { keyId: toBase64(tlogLogId(input.logKey)) },
        checkpointKeyId: { keyId: toBase64(noteKeyId(input.logKey)) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
    aaps,
  };
}

/**
 * Export a logged evidence bundle as a Sigstore bundle v0.3. `logKey` is the key that signed the
 * checkpoint (its log id goes in the entry). Throws `INVALID_ARGUMENT` for a bundle not yet in the
 * log or not signed with the Ed25519 suite.
 */
export function toSigstoreBundle(bundle: EvidenceBundle, logKey: NoteKey): SigstoreBundle {
  const log = bundle.transparencyLog;
  if (log === undefined)
    throw new ValidationError('INVALID_ARGUMENT', 'the bundle is not in the log yet', ['transparencyLog']);
  if (bundle.verificationMaterial.ciphersuite !== ED25519_SUITE || logKey.type !== 'ed25519') {
    throw new ValidationError('INVALID_ARGUMENT', 'only Ed25519 bundles export to Sigstore', ['ciphersuite']);
  }
  const checkpoint = parseCheckpoint(parseSignedNote(log.checkpoint).text);
  const groupKey = parseHex(bundle.verificationMaterial.groupPublicKey);
  if (groupKey === undefined)
    throw new ValidationError('DECODE_FAILED', 'groupPublicKey is not hex', ['groupPublicKey']);
  const hint = keyIdOf(groupKey);
  const hashes = log.inclusionProof.map((h) => {
    const bytes = parseHex(h);
    if (bytes === undefined)
      throw new ValidationError('DECODE_FAILED', 'inclusion proof is not hex', ['inclusionProof']);
    return toBase64(bytes);
  });
  return {
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint },
      tlogEntries: [
        {
          logIndex: String(log.logIndex),
          logId: { keyId: toBase64(tlogLogId(logKey)) },
          kindVersion: { kind: LOG_ENTRY_KIND, version: LOG_ENTRY_API_VERSION },
          integratedTime: '0',
          inclusionProof: {
            logIndex: String(log.logIndex),
            rootHash: toBase64(checkpoint.rootHash),
            treeSize: String(log.treeSize),
            hashes,
            checkpoint: { envelope: log.checkpoint },
          },
          canonicalizedBody: toBase64(logLeaf(bundle.dsseEnvelope)),
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: {
      payload: bundle.dsseEnvelope.payload,
      payloadType: bundle.dsseEnvelope.payloadType,
      signatures: bundle.dsseEnvelope.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid })),
    },
  };
}

/** What a verifier takes from a trusted root. */
export interface TrustedKeys {
  groupPublicKey: Uint8Array;
  ciphersuite: typeof ED25519_SUITE;
  threshold: Threshold;
  logKeys: NoteKey[];
  origin: string;
  roster?: VerifierRoster;
  partyRoles?: PartyRoles;
}

/**
 * What a bundle verifier trusts from a trusted root's keys: the group key, suite and threshold,
 * the log key and origin, and the roster and roles when the root holds them (as `aaps-verify
 * --trusted-root` and `aaps unseal --trusted-root` verify).
 */
export function trustedRootOptions(keys: TrustedKeys): BundleVerifierOptions {
  const options: BundleVerifierOptions = {
    groupPublicKey: keys.groupPublicKey,
    ciphersuite: keys.ciphersuite,
    threshold: keys.threshold,
    logKeys: keys.logKeys,
    logOrigin: keys.origin,
  };
  if (keys.roster !== undefined) options.roster = keys.roster;
  if (keys.partyRoles !== undefined) options.partyRoles = keys.partyRoles;
  return options;
}

/** Roles by id as a roster's parties list them, for {@link knownPartyRoles}. */
function rolesAsParties(roles: PartyRoles): { id: string; role: string }[] {
  return Object.entries(roles).map(([id, role]) => ({ id, role }));
}

/**
 * The `aaps.partyRoles` of a trusted root: an object of role names by party id, each id a party of
 * the root's roster when it has one (else `undefined`, a malformed field). Roles the evidence rules
 * do not know are left out, as a roster.json's are.
 */
function readPartyRoles(
  value: unknown,
  roster: VerifierRoster | undefined,
): PartyRoles | 'malformed' | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'malformed';
  const entries = Object.entries(value as Record<string, unknown>);
  const parties: unknown = roster?.parties;
  const ids = Array.isArray(parties)
    ? new Set(parties.map((p) => (p as { id?: unknown } | null)?.id))
    : undefined;
  if (entries.some(([id, role]) => typeof role !== 'string' || (ids !== undefined && !ids.has(id))))
    return 'malformed';
  return knownPartyRoles(rolesAsParties(value as PartyRoles));
}

/**
 * The group key a trusted root names three times (`publicKeyHex` for `aaps-verify`, `publicKey`
 * and `hint` for Sigstore clients) must be one key: a root whose fields disagree is refused, since
 * the two kinds of verifier would trust different keys.
 */
function checkGroupKeyAgrees(groupKey: Partial<AapsTrustExtension['groupKey']>, key: Uint8Array): void {
  const hex = toHex(key);
  const raw = parseBase64(groupKey.publicKey?.rawBytes);
  const sigstoreKey = raw === undefined ? undefined : ed25519FromSpki(raw);
  if (sigstoreKey === undefined || groupKey.publicKey?.keyDetails !== 'PKIX_ED25519') {
    throw new ValidationError(
      'DECODE_FAILED',
      'malformed trusted root: aaps.groupKey.publicKey (not an Ed25519 public key)',
      ['aaps.groupKey.publicKey'],
    );
  }
  if (toHex(sigstoreKey) !== hex) {
    throw new ValidationError(
      'DECODE_FAILED',
      `trusted root names two group keys: aaps.groupKey.publicKeyHex ${hex} and aaps.groupKey.publicKey (Sigstore) ${toHex(sigstoreKey)}`,
      ['aaps.groupKey.publicKeyHex', 'aaps.groupKey.publicKey'],
    );
  }
  if (groupKey.hint !== keyIdOf(key)) {
    throw new ValidationError(
      'DECODE_FAILED',
      `trusted root names two group keys: aaps.groupKey.publicKeyHex ${hex} (key id ${keyIdOf(key)}) and aaps.groupKey.hint ${displayValue(groupKey.hint)}`,
      ['aaps.groupKey.publicKeyHex', 'aaps.groupKey.hint'],
    );
  }
}

/**
 * Read the keys `aaps-verify` needs from a parsed `trusted_root.json`; throws `DECODE_FAILED`
 * listing every malformed field. The log key is cross-checked against the Sigstore `tlogs` entry,
 * and the group key against the Sigstore form of it (`aaps.groupKey.publicKey`, `hint`).
 */
export function parseTrustedRoot(value: unknown): TrustedKeys {
  const root = value as Partial<TrustedRoot> | null;
  const ext = root?.aaps;
  const fields: string[] = [];
  if (root?.mediaType !== TRUSTED_ROOT_MEDIA_TYPE) fields.push('mediaType');
  const groupKey = parseHex(ext?.groupKey?.publicKeyHex);
  if (groupKey?.length !== 32) fields.push('aaps.groupKey.publicKeyHex');
  if (ext?.groupKey?.ciphersuite !== ED25519_SUITE) fields.push('aaps.groupKey.ciphersuite');
  const t = ext?.groupKey?.threshold;
  if (!Number.isSafeInteger(t?.min) || !Number.isSafeInteger(t?.max)) fields.push('aaps.groupKey.threshold');
  const logKeyBytes = parseHex(ext?.log?.publicKeyHex);
  if (logKeyBytes?.length !== 32 || ext?.log?.keyType !== 'ed25519') fields.push('aaps.log.publicKeyHex');
  if (typeof ext?.log?.keyName !== 'string' || ext.log.keyName.length === 0) fields.push('aaps.log.keyName');
  if (typeof ext?.log?.origin !== 'string' || ext.log.origin.length === 0) fields.push('aaps.log.origin');
  const partyRoles = readPartyRoles(ext?.partyRoles, ext?.roster);
  if (partyRoles === 'malformed') fields.push('aaps.partyRoles');
  if (logKeyBytes !== undefined && fields.length === 0) {
    const spki = toBase64(ed25519Spki(logKeyBytes));
    // Whatever JSON the root holds there: only an array of objects can list the log key.
    const tlogs: unknown = root?.tlogs;
    const listed =
      Array.isArray(tlogs) &&
      tlogs.some((tl: unknown) => {
        const key: unknown =
          typeof tl === 'object' && tl !== null ? (tl as { publicKey?: unknown }).publicKey : undefined;
        return typeof key === 'object' && key !== null && (key as { rawBytes?: unknown }).rawBytes === spki;
      });
    if (!listed) fields.push('tlogs');
  }
  if (fields.length > 0) {
    throw new ValidationError('DECODE_FAILED', `malformed trusted root: ${fields.join(', ')}`, fields);
  }
  checkGroupKeyAgrees(ext!.groupKey, groupKey!);
  const out: TrustedKeys = {
    groupPublicKey: groupKey!,
    ciphersuite: ED25519_SUITE,
    threshold: { min: t!.min, max: t!.max },
    logKeys: [{ name: ext!.log.keyName, type: 'ed25519', publicKey: logKeyBytes! }],
    origin: ext!.log.origin,
  };
  if (ext!.roster !== undefined) out.roster = ext!.roster;
  if (partyRoles !== undefined && partyRoles !== 'malformed') out.partyRoles = partyRoles;
  return out;
}
