/**
 * Reading a request body with a size cap. A `Content-Length` over the cap is refused before any
 * byte is read, and a body sent without one (chunked) is read only until it passes the cap: a
 * sender cannot make the server buffer more than `max` bytes. The party node's authentication and
 * the gateway's body-limit middleware both read bodies through this.
 */
import { concatBytes } from '@aaps/mpc-core';

/** The body's bytes, or `undefined` when it is (declared or found to be) over `max` bytes. */
export async function readBodyCapped(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > max) return undefined;
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}
