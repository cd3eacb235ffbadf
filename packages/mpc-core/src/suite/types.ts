/**
 * The ciphersuite abstraction: a prime-order group, its scalar field and the RFC 9591 hash
 * functions. Protocol code (keygen, signing, aggregation) is written once against this interface;
 * the maths underneath always comes from `@noble/curves` (and, for Ed25519, optionally from
 * libsodium's WebAssembly build, proven byte-identical by the differential tests).
 */

export type CiphersuiteId =
  | 'FROST-ED25519-SHA512-v1'
  | 'FROST-secp256k1-SHA256-v1'
  | 'FROST-secp256k1-SHA256-TR-v1';

export const CIPHERSUITE_IDS: readonly CiphersuiteId[] = [
  'FROST-ED25519-SHA512-v1',
  'FROST-secp256k1-SHA256-v1',
  'FROST-secp256k1-SHA256-TR-v1',
];

/**
 * Cryptographically secure random bytes: `rng(n)` returns `n` fresh bytes. Every draw checks the
 * answer (`randomBytesOf` in `rng.ts`): any other length is refused with a `ValidationError`.
 */
export type Rng = (n: number) => Uint8Array;

/** The scalar field Z_q of the group. Scalars are canonical bigints in [0, q). */
export interface ScalarField {
  readonly ORDER: bigint;
  readonly BYTES: number;
  readonly isLE: boolean;
  create(n: bigint): bigint;
  add(a: bigint, b: bigint): bigint;
  sub(a: bigint, b: bigint): bigint;
  mul(a: bigint, b: bigint): bigint;
  neg(a: bigint): bigint;
  inv(a: bigint): bigint;
  isZero(a: bigint): boolean;
  /** Strict decode: exact length, canonical (< ORDER). Throws `ValidationError(INVALID_SCALAR)`. */
  fromBytes(bytes: Uint8Array, field?: string): bigint;
  toBytes(a: bigint): Uint8Array;
  /**
   * A uniformly random non-zero scalar. Consumes `rng` exactly as noble's FROST does
   * (`mapHashToField` over `getMinHashLength(q)` bytes), so a shared `rng` stream yields the same
   * scalars in both implementations.
   */
  random(rng: Rng): bigint;
}

/**
 * A prime-order group. `E` is the backend's element type (a noble point, or a canonical 32-byte
 * encoding for the libsodium backend). Members are methods so that a `Group<Uint8Array>` is
 * usable where a `Group<unknown>` is expected.
 */
export interface Group<E> {
  readonly elementLength: number;
  readonly base: E;
  readonly zero: E;
  add(a: E, b: E): E;
  sub(a: E, b: E): E;
  neg(a: E): E;
  equals(a: E, b: E): boolean;
  isZero(a: E): boolean;
  /** k*G. Constant-time in the backend where it offers it (secret scalars pass here). */
  mulBase(k: bigint): E;
  /** k*P for a valid element P and a PUBLIC scalar k (variable time). Secret scalars use mulBase. */
  mul(p: E, k: bigint): E;
  /** Sum of k_i*P_i over public inputs (variable time is fine). */
  msm(points: readonly E[], scalars: readonly bigint[]): E;
  /** Evaluate a committed polynomial sum_j C_j * x^j at a public x (VSS). */
  evalCommitment(commitments: readonly E[], x: bigint): E;
  serialize(p: E): Uint8Array;
  /**
   * RFC 9591 DeserializeElement: exact length, canonical encoding, on the curve, not the
   * identity, in the prime-order subgroup. Throws `ValidationError(INVALID_POINT)` naming `field`.
   */
  deserialize(bytes: Uint8Array, field?: string): E;
  /** `mul(deserialize(bytes), k)`; backends may fuse the validation into the multiplication. */
  deserializeMul(bytes: Uint8Array, k: bigint, field?: string): E;
  /**
   * sum_i k_i * deserialize(encoded_i) over public scalars: each element is fully validated
   * (`fields[i]` names it in errors); backends pick the fastest route (one MSM, or fused
   * validate-and-multiply calls).
   */
  msmEncoded(encoded: readonly Uint8Array[], scalars: readonly bigint[], fields: readonly string[]): E;
  /** Whether the element's affine y is even (secp256k1 BIP-340 only; others return true). */
  hasEvenY(p: E): boolean;
}

/**
 * Suite-specific adjustments (BIP-340 / Taproot for `FROST-secp256k1-SHA256-TR-v1`). The generic
 * protocol applies them at the same points as noble's `schnorr_FROST`, so outputs match byte for byte.
 */
export interface SuiteHooks<E> {
  /** Normalise a fresh secret scalar so that its public point has even y. */
  adjustScalar(k: bigint): bigint;
  /** Normalise a public point to even y. */
  evenPoint(p: E): E;
  /** True when the group key must be negated (odd y): signers negate shares and verifying shares. */
  keyNeedsNegation(groupKey: E): boolean;
  /** True when the group commitment has odd y: signers negate their nonces, commitment shares flip. */
  commitmentNeedsNegation(groupCommitment: E): boolean;
  /** Signature wire form: 64 bytes (x-only R || z) instead of SerializeElement(R) || z. */
  encodeSignature(R: E, z: bigint): Uint8Array;
  decodeSignatureR(bytes: Uint8Array): E;
  readonly signatureRLength: number;
  /** BIP-341 TapTweak scalar for the (even) group key and a merkle root. */
  tapTweak(groupKey: E, merkleRoot: Uint8Array): bigint;
  /** Public key in the form external verifiers take (x-only 32 bytes). */
  externalPublicKey(groupKey: E): Uint8Array;
}

export interface Ciphersuite<E> {
  readonly id: CiphersuiteId;
  /** Which implementation carries the group maths: `noble` or `libsodium`. */
  readonly backend: 'noble' | 'libsodium';
  readonly group: Group<E>;
  readonly field: ScalarField;
  /** RFC 9591 H1 (rho), H2 (chal), H3 (nonce): to scalars; H4 (msg), H5 (com): to bytes. */
  H1(m: Uint8Array): bigint;
  H2(m: Uint8Array): bigint;
  H3(m: Uint8Array): bigint;
  H4(m: Uint8Array): Uint8Array;
  H5(m: Uint8Array): Uint8Array;
  /** frost-rs DKG proof-of-knowledge challenge hash (`contextString || "dkg"`). */
  HDKG(m: Uint8Array): bigint;
  /** frost-rs identifier derivation hash (`contextString || "id"`). */
  HID(m: Uint8Array): bigint;
  /** Hash to scalar under an explicit domain-separation tag (aggregation proofs use it). */
  hashToScalar(m: Uint8Array, dst: Uint8Array): bigint;
  /** RFC 9380 hash-to-curve, used for generators nobody knows the discrete log of. */
  hashToGroup(m: Uint8Array, dst: Uint8Array): E;
  /** The Schnorr challenge c = H2(R || PK || msg) (BIP-340 tagged hash for TR). */
  challenge(R: E, PK: E, msg: Uint8Array): bigint;
  /** Verify a final signature against an encoded group public key (fast path where available). */
  verifySignature(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  readonly signatureLength: number;
  readonly hooks?: SuiteHooks<E>;
}

/** A ciphersuite of any backend, as public APIs take it. */
export type AnyCiphersuite = Ciphersuite<unknown>;
