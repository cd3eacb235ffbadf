/** Reading bundles for aaps-verify: JSON or CBOR bytes, files, and streams of concatenated JSON. */
import { readFileSync, statSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { type CborScan, firstMessageLine, innermostCause, scanCbor } from '@aaps/mpc-core/verifier';
import { decodeBundleCbor, decodeScannedBundleCbor } from '../bundle/codec.js';
import { type BundleReport, failureReport } from '../bundle/verify.js';
import { hasBom, isSpace } from '../json-bytes.js';
import { parseJsonRefusingRepeats, printableKeyPath } from '../json-keys.js';

/** A usage error or unreadable input: exit 2. */
export class InputError extends Error {}

/**
 * Input that reads but is no well-formed bundle before the verifier sees it (a JSON object with a
 * duplicate key): the bundle is invalid, `bundle.format` (exit 1), not unreadable.
 */
export class BundleFormatError extends Error {}

/** The report of a bundle refused with {@link BundleFormatError}: `bundle.format` failed, nothing else run. */
export function bundleFormatReport(error: BundleFormatError): BundleReport {
  return failureReport('bundle.format', error.message, {});
}

/**
 * Parse JSON text of a bundle: throws `InputError` if it is no JSON, `BundleFormatError` on a
 * duplicate key (named as a JSON string, with what JSON leaves raw of control and bidirectional
 * characters escaped: the report is printed).
 */
function parseBundleJson(text: string, notJson: string): unknown {
  const read = parseJsonRefusingRepeats(text);
  if ('notJson' in read) throw new InputError(notJson);
  if ('repeated' in read)
    throw new BundleFormatError(
      `duplicate key ${printableKeyPath(JSON.stringify(read.repeated.key))} in one JSON object`,
    );
  return read.value;
}

/**
 * One bundle to verify, as named in the output: bytes (JSON or CBOR), a JSON text, a file to read
 * (read where it is verified, so worker threads share the reading), or why it is unreadable.
 */
export type BundleSource = { name: string } & (
  | { bytes: Uint8Array }
  | { text: string }
  | { path: string }
  | { error: string }
);

/** Where the data starts: after a UTF-8 byte-order mark and whitespace. */
export function firstDataByte(bytes: Uint8Array): number | undefined {
  let i = hasBom(bytes) ? 3 : 0;
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return bytes[i];
}

/**
 * Whether `bytes` start as a CBOR bundle does: with a map head (major type 5, 0xa0-0xbf). No text
 * starts so (those are UTF-8 continuation bytes), so it tells CBOR from JSON and other text.
 */
export function startsAsCborMap(bytes: Uint8Array): boolean {
  const b = firstDataByte(bytes);
  return b !== undefined && b >= 0xa0 && b <= 0xbf;
}

/**
 * Parse a bundle's bytes, JSON or CBOR; throws `InputError` (its message names no file: the caller
 * does) if they are neither, `BundleFormatError` on a duplicate key. A UTF-8 byte-order mark before
 * JSON is skipped, as at the start of a stream on stdin.
 */
export function parseBundleBytes(bytes: Uint8Array): unknown {
  if (hasBom(bytes)) bytes = bytes.subarray(3);
  if (firstDataByte(bytes) === 0x7b) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return parseBundleJson(text, 'not JSON');
  }
  // Anything that does not start as a CBOR map is neither a JSON nor a CBOR bundle; one that does
  // and does not decode is CBOR cut short or damaged.
  const notCbor = (e: unknown): InputError | BundleFormatError => {
    if (!startsAsCborMap(bytes)) return notABundle(bytes);
    const cause = innermostCause(e) ?? e;
    // Well-formed CBOR nested deeper than the decoder recurses is a bundle of the wrong shape (as
    // the same nesting in JSON is), not unreadable input.
    if (cause instanceof RangeError) return new BundleFormatError('CBOR nested too deep for a bundle');
    if ((cause as { incomplete?: unknown }).incomplete === true)
      return new InputError('truncated CBOR: the data ends inside the bundle');
    return new InputError(`invalid CBOR: ${firstMessageLine(cause)}`);
  };
  // The scan comes first: a tag (a bundle has none; cbor-x would build shared references or class
  // instances from one) or a repeated key is a bundle of the wrong format, refused before decoding.
  let scan: CborScan | undefined;
  try {
    scan = scanCbor(bytes);
  } catch {
    // Not well-formed: the decoder says why (a cut-short item is `incomplete`).
  }
  if (scan?.tag)
    throw new BundleFormatError(
      `CBOR tag ${scan.tag.number} at byte ${scan.tag.offset}: a bundle has no CBOR tags`,
    );
  if (scan?.duplicateKey !== undefined)
    throw new BundleFormatError(`duplicate key ${JSON.stringify(scan.duplicateKey)} in one CBOR map`);
  try {
    // Scanned clean: decoded as it is; else decodeBundleCbor scans again and lets the decoder say why.
    return scan === undefined ? decodeBundleCbor(bytes) : decodeScannedBundleCbor(bytes);
  } catch (e) {
    throw notCbor(e);
  }
}

/**
 * Why bytes that are no CBOR map are no bundle: JSON of another kind than an object (`null`, an
 * array, a number, ...) reads fine and is a bundle of the wrong shape, as `{}` is (exit 1); anything
 * else is unreadable (exit 2).
 */
function notABundle(bytes: Uint8Array): InputError | BundleFormatError {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return new InputError('neither JSON nor CBOR');
  }
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return new BundleFormatError(`the JSON is ${kind}, not a bundle (a JSON object)`);
}

/** Why reading a file failed: its error code (EACCES, EISDIR, ...), else the message. */
export function readFailure(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/**
 * The most bytes one bundle may have: a bundle is read and parsed whole, and JSON takes several
 * times its size in heap, so one far larger than any real bundle (a few KiB; about 1 MiB with a
 * 1,000-element aggregation record) is refused before it is read, not left to end the process
 * out of memory: 64 MiB, or a sixteenth of the heap limit when that is smaller.
 */
export const MAX_BUNDLE_BYTES = Math.min(
  64 * 1024 * 1024,
  Math.floor(getHeapStatistics().heap_size_limit / 16),
);

/** Why a bundle of `size` bytes, more than {@link MAX_BUNDLE_BYTES}, is not read. */
export function tooLarge(size: number): string {
  return `${size} bytes, more than the ${MAX_BUNDLE_BYTES} bytes one bundle may have`;
}

/** Why a bundle of `size` bytes is not read, or `undefined` when it is not too large. */
export function oversize(size: number): string | undefined {
  return size > MAX_BUNDLE_BYTES ? tooLarge(size) : undefined;
}

/**
 * A bundle file's bytes; throws `InputError` for one over {@link MAX_BUNDLE_BYTES} (checked
 * before reading), and the file system's error when it cannot be read.
 */
export function readBundleFile(path: string): Uint8Array {
  const tooLarge = oversize(statSync(path).size);
  if (tooLarge !== undefined) throw new InputError(tooLarge);
  return readFileSync(path);
}

function readPath(path: string): Uint8Array {
  try {
    return readBundleFile(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read: ${readFailure(e)}`);
  }
}

/**
 * The parsed value of a source; throws `InputError` when it cannot be read, `BundleFormatError`
 * when it reads but has a duplicate key.
 */
export function loadSource(source: BundleSource): unknown {
  if ('error' in source) throw new InputError(source.error);
  if ('bytes' in source) return parseBundleBytes(source.bytes);
  if ('path' in source) return parseBundleBytes(readPath(source.path));
  return parseBundleJson(source.text, 'not JSON');
}
