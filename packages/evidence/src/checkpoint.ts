/**
 * C2SP tlog-checkpoint bodies inside C2SP signed notes.
 *
 * Body: the origin line, the tree size in ASCII decimal, the base64 root hash, then optional
 * extension lines; each line ends in a newline. Signed note: the body, a blank line, and one line
 * per signature, `— <key name> <base64(key id || signature)>`, where for Ed25519 (type 0x01) the
 * 4-byte key id is SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4] and the signature is
 * RFC 8032 over the body. Go's `golang.org/x/mod/sumdb/note` verifies these with the group key.
 * BIP-340 group keys sign under the reserved type 0xff followed by {@link BIP340_NOTE_TYPE_ID}.
 */

import { ValidationError } from '@aaps/mpc-core/verifier';
import type { MessageSigner } from './dsse.js';
import { concat, parseBase64, sha256, toBase64, toHex, utf8Encode } from './encoding.js';
import { fail } from './errors.js';
import { verifyBip340, verifyEd25519 } from './keys.js';
import { HASH_SIZE } from './merkle.js';

export interface Checkpoint {
  /** The log's origin line, a schema-less URL such as `aaps.example/log`. */
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** Optional extension lines after the root hash. */
  extensions: string[];
}

/** A checkpoint whose signed note verified under a trusted key. */
export interface SignedCheckpoint extends Checkpoint {
  /** The whole signed note as it verified. */
  note: string;
  /** The key whose signature verified. */
  key: NoteKey;
}

export type NoteSignatureType = 'ed25519' | 'bip340';

/** A note signing/verifying key: its name (conventionally the log origin), type and public key. */
export interface NoteKey {
  name: string;
  type: NoteSignatureType;
  /** Ed25519: 32 bytes. BIP-340: 32-byte x-only or 33-byte SEC1 (taken by its x coordinate). */
  publicKey: Uint8Array;
}

/** The identifier that follows 0xff for BIP-340 note signatures (an AAPS choice, not C2SP-assigned). */
export const BIP340_NOTE_TYPE_ID = 'aaps.dev/signed-note/bip340';

const EM_DASH = '\u2014';
const MAX_NOTE_SIGNATURES = 100;
const MAX_NOTE_BYTES = 1 << 20;
const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;
// Control characters other than newline are forbidden in signed notes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f\u007f]/;

function invalid(field: string, message: string): never {
  throw new ValidationError('INVALID_ARGUMENT', `${field}: ${message}`, [field]);
}

function typeBytes(type: NoteSignatureType): Uint8Array {
  return type === 'ed25519'
    ? new Uint8Array([0x01])
    : concat(new Uint8Array([0xff]), utf8Encode(BIP340_NOTE_TYPE_ID));
}

function noteKeyBytes(key: NoteKey): Uint8Array {
  const pk = key.type === 'bip340' && key.publicKey.length === 33 ? key.publicKey.subarray(1) : key.publicKey;
  return concat(typeBytes(key.type), pk);
}

export function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !/[\s+]/u.test(name) && !CONTROL_RE.test(name);
}

/** The 4-byte C2SP key id: SHA-256(name || 0x0A || type || public key)[:4]. */
export function noteKeyId(key: NoteKey): Uint8Array {
  return sha256(utf8Encode(key.name), new Uint8Array([0x0a]), noteKeyBytes(key)).slice(0, 4);
}

/** The verifier key text Go's `note.NewVerifier` takes: `<name>+<hex key id>+<base64(type || key)>`. */
export function noteVerifierKey(key: NoteKey): string {
  return `${key.name}+${toHex(noteKeyId(key))}+${toBase64(noteKeyBytes(key))}`;
}

/** The checkpoint body text (ends in a newline). */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions } = checkpoint;
  if (origin.length === 0 || origin.includes('\n') || CONTROL_RE.test(origin)) {
    invalid('origin', 'origin must be one non-empty line');
  }
  if (!Number.isSafeInteger(size) || size < 0) invalid('size', 'size must be a non-negative integer');
  if (rootHash.length !== HASH_SIZE) invalid('rootHash', 'root hash must be 32 bytes');
  for (const ext of extensions) {
    if (ext.length === 0 || ext.includes('\n') || CONTROL_RE.test(ext)) {
      invalid('extensions', 'extension lines must be non-empty single lines');
    }
  }
  return [origin, String(size), toBase64(rootHash), ...extensions].map((l) => `${l}\n`).join('');
}

/** Parse a checkpoint body; throws `log.checkpoint` if it is not one. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') fail('log.checkpoint', 'checkpoint body must be a string');
  if (!text.endsWith('\n')) fail('log.checkpoint', 'checkpoint body must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || origin.length === 0) fail('log.checkpoint', 'missing origin line');
  if (sizeLine === undefined || !SIZE_RE.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    fail('log.checkpoint', 'tree size must be ASCII decimal without leading zeros');
  }
  const rootHash = parseBase64(rootLine);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE)
    fail('log.checkpoint', 'root hash must be base64 of 32 bytes');
  if (extensions.some((e) => e.length === 0)) fail('log.checkpoint', 'extension lines must be non-empty');
  return { origin, size: Number(sizeLine), rootHash, extensions };
}

/** Sign `text` (ending in a newline) as a signed note with one signature line. */
export async function signNote(text: string, key: NoteKey, sign: MessageSigner): Promise<string> {
  if (!isValidKeyName(key.name)) invalid('key.name', 'key name must be non-empty, without spaces or +');
  if (!text.endsWith('\n') || CONTROL_RE.test(text)) {
    invalid('text', 'note text must end in a newline and hold no control characters');
  }
  const signature = await sign(utf8Encode(text));
  return `${text}\n${EM_DASH} ${key.name} ${toBase64(concat(noteKeyId(key), signature))}\n`;
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  signature: Uint8Array;
}

/** Split a signed note into its text and signature lines; throws `log.checkpoint` if malformed. */
export function parseSignedNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string' || utf8Encode(note).length > MAX_NOTE_BYTES) {
    fail('log.checkpoint', 'signed note must be a string of at most 1 MiB');
  }
  if (CONTROL_RE.test(note)) fail('log.checkpoint', 'signed note holds control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) fail('log.checkpoint', 'signed note has no signature block');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) fail('log.checkpoint', 'too many signature lines');
  const signatures = lines.map((line) => {
    const parts = line.split(' ');
    const sig = parseBase64(parts[2]);
    if (
      parts.length !== 3 ||
      parts[0] !== EM_DASH ||
      !isValidKeyName(parts[1]) ||
      sig === undefined ||
      sig.length < 5
    ) {
      fail('log.checkpoint', 'malformed signature line');
    }
    return { name: parts[1]!, keyId: sig.subarray(0, 4), signature: sig.subarray(4) };
  });
  return { text, signatures };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Verify a signed note against trusted keys, as C2SP requires: lines from unknown keys are
 * ignored, a failing line from a known key rejects the note, and at least one known key must sign.
 */
export function verifyNote(note: string, keys: readonly NoteKey[]): { text: string; key: NoteKey } {
  const { text, signatures } = parseSignedNote(note);
  const message = utf8Encode(text);
  let verifiedBy: NoteKey | undefined;
  for (const line of signatures) {
    for (const key of keys) {
      if (key.name !== line.name || !sameBytes(noteKeyId(key), line.keyId)) continue;
      const ok =
        key.type === 'ed25519'
          ? verifyEd25519(key.publicKey, message, line.signature)
          : verifyBip340(key.publicKey, message, line.signature);
      if (!ok) fail('log.checkpoint', 'a signature from a trusted key does not verify', { key: key.name });
      verifiedBy ??= key;
    }
  }
  if (verifiedBy === undefined)
    fail('log.checkpoint', 'no signature from a trusted key', { names: keys.map((k) => k.name) });
  return { text, key: verifiedBy };
}

/** Verify a signed checkpoint note and parse its body. */
export function openCheckpoint(note: string, keys: readonly NoteKey[]): SignedCheckpoint {
  const { text, key } = verifyNote(note, keys);
  return { ...parseCheckpoint(text), note, key };
}

/** Sign a checkpoint body as a signed note. */
export async function signCheckpoint(
  checkpoint: Checkpoint,
  key: NoteKey,
  sign: MessageSigner,
): Promise<string> {
  return signNote(formatCheckpoint(checkpoint), key, sign);
}

/** The origin line of a signed checkpoint note, unverified (to pick a key by name). */
export function peekOrigin(note: string): string | undefined {
  if (typeof note !== 'string') return undefined;
  const end = note.indexOf('\n');
  return end > 0 ? note.slice(0, end) : undefined;
}

/**
 * Refuse a fork: two checkpoints of one size with different roots prove the log equivocated.
 * Throws `log.consistency`.
 */
export function assertNoFork(a: Checkpoint, b: Checkpoint): void {
  if (a.origin === b.origin && a.size === b.size && !sameBytes(a.rootHash, b.rootHash)) {
    fail('log.consistency', 'two checkpoints of one size with different roots', { size: a.size });
  }
}
