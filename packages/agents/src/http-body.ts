/**
 * Reading a request body with a size cap. A `Content-Length` over the cap is refused before any
 * byte is read, and a body sent without one (chunked) is read only until it passes the cap: a
 * sender cannot make the server buffer more than `max` bytes. The party node's authentication and
 * the gateway's body-limit middleware both read bodies through this.
 */

/** First allocation for a body of unknown length; it doubles as the body grows, up to the cap. */
const FIRST_CHUNK = 64 * 1024;

/**
 * The body's bytes, or `undefined` when it is (declared or found to be) over `max` bytes. Bytes go
 * into one buffer as they arrive, grown by doubling, never kept as the stream's chunks, so memory
 * stays within about twice what was sent (three times for a moment while the buffer grows),
 * however it is chunked.
 */
export async function readBodyCapped(request: Request, max: number): Promise<Uint8Array | undefined> {
  const header = request.headers.get('content-length');
  const declared = header === null ? Number.NaN : Number(header);
  if (declared > max) return undefined;
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  // Grown as bytes arrive (never allocated from the header alone: a sender must send what it declares).
  const known = Number.isSafeInteger(declared) && declared >= 0 ? declared : FIRST_CHUNK;
  let buffer = new Uint8Array(Math.min(max, FIRST_CHUNK, known));
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    if (size + value.byteLength > buffer.length) {
      const grown = new Uint8Array(Math.min(max, Math.max(2 * buffer.length, size + value.byteLength)));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(value, size);
    size += value.byteLength;
  }
  return buffer.subarray(0, size);
}
