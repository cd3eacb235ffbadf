/**
 * Wire and storage form of a {@link SealedField} (`{v: 1, type: "SealedField", body}`) and of a
 * party's {@link ReleasedShare} (`{v: 2, type: "ReleasedShare", body}`; version 1 carried no
 * signature and is refused), bytes as
 * lower-case hex in JSON and byte strings in CBOR. Decoding is strict (unknown, missing or
 * malformed fields are refused, every one named as a dot path) and checks the shape a sealed field
 * must have: lengths, threshold, one share per party.
 */
import { bytesToHex } from '../bytes.js';
import { decodeCbor, displayValue, encodeCbor } from '../codec.js';
import { ValidationError } from '../errors.js';
import { assertObject, assertString } from '../guards.js';
import type { SealedBox } from '../seal.js';
import { parsePointer } from './pointer.js';
import {
  checkBox,
  checkSealedField,
  MAX_SEALING_PARTIES,
  SEALED_FIELD_VERSION,
  type SealedField,
  type SealedKeyShare,
} from './seal-field.js';

const TYPE = 'SealedField';
const RELEASE_TYPE = 'ReleasedShare';
/** Version 2: the release carries its party's signature (release-signature.ts). */
export const RELEASED_SHARE_VERSION = 2;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_CIPHERTEXT = 16 * 1024 * 1024;

type Mode = 'json' | 'cbor';
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

const out = (b: Uint8Array, mode: Mode) => (mode === 'json' ? bytesToHex(b) : Uint8Array.from(b));

function boxOut(b: SealedBox, mode: Mode) {
  return {
    ephemeralPublicKey: out(b.ephemeralPublicKey, mode),
    nonce: out(b.nonce, mode),
    ciphertext: out(b.ciphertext, mode),
  };
}

function toWire(f: SealedField, mode: Mode) {
  checkSealedField(f);
  return {
    v: SEALED_FIELD_VERSION,
    type: TYPE,
    body: {
      id: f.id,
      incidentId: f.incidentId,
      path: f.path,
      threshold: { min: f.threshold.min, max: f.threshold.max },
      nonce: out(f.nonce, mode),
      ciphertext: out(f.ciphertext, mode),
      commitment: out(f.commitment, mode),
      shares: f.shares.map((s) => ({
        party: s.party,
        commitment: out(s.commitment, mode),
        box: boxOut(s.box, mode),
      })),
    },
  };
}

class Reader {
  readonly problems: string[] = [];
  constructor(readonly mode: Mode) {}

  bad(path: string, what: string): undefined {
    this.problems.push(`${path}: ${what}`);
    return undefined;
  }

  object(v: unknown, path: string, keys: readonly string[]): Record<string, unknown> | undefined {
    if (!isObject(v)) return this.bad(path, 'expected object');
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.bad(`${path}.${k}`, 'unknown field');
    for (const k of keys) if (!(k in v)) this.bad(`${path}.${k}`, 'missing');
    return v;
  }

  bytes(v: unknown, path: string, length?: number, max = MAX_CIPHERTEXT): Uint8Array {
    let b: Uint8Array | undefined;
    if (this.mode === 'json') {
      if (typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v)) b = new Uint8Array(Buffer.from(v, 'hex'));
    } else if (v instanceof Uint8Array) b = Uint8Array.from(v);
    if (!b) {
      this.bad(path, this.mode === 'json' ? 'expected lower-case hex' : 'expected a byte string');
      return new Uint8Array(0);
    }
    if (length !== undefined && b.length !== length) this.bad(path, `expected ${length} bytes`);
    if (b.length > max) this.bad(path, `at most ${max} bytes`);
    return b;
  }

  id(v: unknown, path: string): string {
    if (typeof v !== 'string' || !ID.test(v)) this.bad(path, 'expected an id ([A-Za-z0-9._:-], 1-128)');
    // Never String(v): a hostile object (e.g. `{"toString": false}`) throws there, not here.
    return typeof v === 'string' ? v : '';
  }

  uint(v: unknown, path: string): number {
    if (!Number.isSafeInteger(v) || (v as number) < 0) this.bad(path, 'expected a non-negative integer');
    return Number.isSafeInteger(v) ? (v as number) : 0;
  }

  box(v: unknown, path: string): SealedBox {
    const o = this.object(v, path, ['ephemeralPublicKey', 'nonce', 'ciphertext']) ?? {};
    return Object.freeze({
      ephemeralPublicKey: this.bytes(o.ephemeralPublicKey, `${path}.ephemeralPublicKey`, 32),
      nonce: this.bytes(o.nonce, `${path}.nonce`, 24),
      ciphertext: this.bytes(o.ciphertext, `${path}.ciphertext`, undefined, 1024),
    });
  }

  header(raw: unknown, type: string, version: number): Record<string, unknown> {
    if (!isObject(raw))
      throw new ValidationError('DECODE_FAILED', `${type}: expected a {v, type, body} object`, ['$']);
    if (raw.v !== version)
      throw new ValidationError(
        'UNSUPPORTED_VERSION',
        `${type}: version ${displayValue(raw.v)} is not supported`,
        ['v'],
      );
    if (raw.type !== type)
      throw new ValidationError('DECODE_FAILED', `expected a ${type}, got ${displayValue(raw.type)}`, [
        'type',
      ]);
    for (const k of Object.keys(raw)) if (!['v', 'type', 'body'].includes(k)) this.bad(k, 'unknown field');
    return raw;
  }

  finish<T>(type: string, value: T): T {
    if (this.problems.length)
      throw new ValidationError(
        'DECODE_FAILED',
        `${type}: ${this.problems.join('; ')}`,
        this.problems.map((p) => p.slice(0, p.indexOf(':'))),
      );
    return value;
  }
}

function fromWire(raw: unknown, mode: Mode): SealedField {
  const r = new Reader(mode);
  const env = r.header(raw, TYPE, SEALED_FIELD_VERSION);
  const b =
    r.object(env.body, 'body', [
      'id',
      'incidentId',
      'path',
      'threshold',
      'nonce',
      'ciphertext',
      'commitment',
      'shares',
    ]) ?? {};
  const path = typeof b.path === 'string' ? b.path : '';
  try {
    if (parsePointer(path).length === 0) r.bad('body.path', 'expected a non-empty JSON pointer');
  } catch {
    r.bad('body.path', 'expected a JSON pointer');
  }
  const t = r.object(b.threshold, 'body.threshold', ['min', 'max']) ?? {};
  const threshold = { min: r.uint(t.min, 'body.threshold.min'), max: r.uint(t.max, 'body.threshold.max') };
  if (!(threshold.min >= 2 && threshold.max >= threshold.min && threshold.max <= MAX_SEALING_PARTIES))
    r.bad('body.threshold', `expected 2 <= min <= max <= ${MAX_SEALING_PARTIES}`);
  const shares: SealedKeyShare[] = [];
  if (!Array.isArray(b.shares)) r.bad('body.shares', 'expected array');
  else {
    if (b.shares.length !== threshold.max) r.bad('body.shares', `expected ${threshold.max} shares`);
    const seen = new Set<string>();
    b.shares.slice(0, MAX_SEALING_PARTIES).forEach((s: unknown, i: number) => {
      const p = `body.shares[${i}]`;
      const o = r.object(s, p, ['party', 'commitment', 'box']) ?? {};
      const party = r.id(o.party, `${p}.party`);
      if (seen.has(party)) r.bad(`${p}.party`, 'duplicate party');
      seen.add(party);
      shares.push(
        Object.freeze({
          party,
          commitment: r.bytes(o.commitment, `${p}.commitment`, 32),
          box: r.box(o.box, `${p}.box`),
        }),
      );
    });
  }
  const field: SealedField = Object.freeze({
    version: SEALED_FIELD_VERSION,
    id: r.id(b.id, 'body.id'),
    incidentId: r.id(b.incidentId, 'body.incidentId'),
    path,
    threshold,
    nonce: r.bytes(b.nonce, 'body.nonce', 24),
    ciphertext: r.bytes(b.ciphertext, 'body.ciphertext'),
    commitment: r.bytes(b.commitment, 'body.commitment', 32),
    shares: Object.freeze(shares),
  });
  return r.finish(TYPE, field);
}

/**
 * One party's share, re-sealed to the requester (see `unseal.ts`), with the party's Ed25519
 * signature over what it released (`release-signature.ts`).
 */
export interface ReleasedShare {
  readonly party: string;
  readonly box: SealedBox;
  /** 64 bytes: the party's identity-key signature of `releaseSignatureBytes`. */
  readonly signature: Uint8Array;
}

export const SealedFieldCodec = Object.freeze({
  type: TYPE,
  toJSON: (field: SealedField) => toWire(field, 'json'),
  fromJSON: (json: unknown): SealedField => fromWire(json, 'json'),
  encode: (field: SealedField): Uint8Array => encodeCbor(toWire(field, 'cbor')),
  decode: (bytes: Uint8Array): SealedField => fromWire(decodeCbor(bytes), 'cbor'),
});

function releaseToWire(r: ReleasedShare, mode: Mode) {
  assertObject(r, 'release');
  assertString(r.party, 'release.party');
  checkBox(r.box, 'release.box');
  if (!(r.signature instanceof Uint8Array) || r.signature.length !== 64)
    throw new ValidationError('INVALID_LENGTH', 'release.signature: expected 64 bytes', [
      'release.signature',
    ]);
  return {
    v: RELEASED_SHARE_VERSION,
    type: RELEASE_TYPE,
    body: { party: r.party, box: boxOut(r.box, mode), signature: out(r.signature, mode) },
  };
}

function releaseFromWire(raw: unknown, mode: Mode): ReleasedShare {
  const r = new Reader(mode);
  const env = r.header(raw, RELEASE_TYPE, RELEASED_SHARE_VERSION);
  const b = r.object(env.body, 'body', ['party', 'box', 'signature']) ?? {};
  const value = Object.freeze({
    party: r.id(b.party, 'body.party'),
    box: r.box(b.box, 'body.box'),
    signature: r.bytes(b.signature, 'body.signature', 64),
  });
  return r.finish(RELEASE_TYPE, value);
}

export const ReleasedShareCodec = Object.freeze({
  type: RELEASE_TYPE,
  toJSON: (release: ReleasedShare) => releaseToWire(release, 'json'),
  fromJSON: (json: unknown): ReleasedShare => releaseFromWire(json, 'json'),
  encode: (release: ReleasedShare): Uint8Array => encodeCbor(releaseToWire(release, 'cbor')),
  decode: (bytes: Uint8Array): ReleasedShare => releaseFromWire(decodeCbor(bytes), 'cbor'),
});
