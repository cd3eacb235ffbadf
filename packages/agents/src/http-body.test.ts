import { describe, expect, it } from 'vitest';
import { readBodyCapped } from './http-body.js';

/** A chunked request body of `chunks` chunks of `size` bytes each, counting the chunks pulled. */
function streamed(chunks: number, size: number, headers: Record<string, string> = {}) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) {
        controller.close();
        return;
      }
      controller.enqueue(new Uint8Array(size).fill(pulled % 256));
      pulled++;
    },
  });
  const request = new Request('http://party.test/v1/sign/round2', {
    method: 'POST',
    headers,
    body,
    duplex: 'half',
  } as RequestInit);
  return { request, pulled: () => pulled };
}

describe('readBodyCapped', () => {
  it('returns a body within the cap byte for byte, from one chunk or many', async () => {
    const one = await readBodyCapped(new Request('http://x.test', { method: 'POST', body: 'hello' }), 5);
    expect(new TextDecoder().decode(one)).toBe('hello');
    const { request } = streamed(4, 1000);
    const many = await readBodyCapped(request, 4000);
    expect(many?.length).toBe(4000);
    expect([many![0], many![1000], many![2999], many![3999]]).toEqual([0, 1, 2, 3]);
    expect(await readBodyCapped(new Request('http://x.test'), 10)).toEqual(new Uint8Array(0));
  });

  it('refuses a declared length over the cap before reading a byte', async () => {
    const { request, pulled } = streamed(100, 1000, { 'content-length': '100000' });
    expect(await readBodyCapped(request, 50_000)).toBeUndefined();
    expect(pulled()).toBeLessThanOrEqual(1); // a stream may pre-pull one chunk; nothing is read
  });

  it('stops reading a chunked body as soon as it passes the cap', async () => {
    const { request, pulled } = streamed(10_000, 1024);
    expect(await readBodyCapped(request, 64 * 1024)).toBeUndefined();
    // 64 chunks fill the cap, the 65th passes it; the stream is cancelled there, not drained.
    expect(pulled()).toBeLessThan(70);
  });
});

describe('readBodyCapped with tiny chunks', () => {
  it('reads 200,000 one-byte chunks into one buffer (no per-chunk arrays, no argument spread)', async () => {
    const { request } = streamed(200_000, 1);
    const body = await readBodyCapped(request, 1024 * 1024);
    expect(body?.length).toBe(200_000);
    expect(body![199_999]).toBe(199_999 % 256);
    const over = streamed(200_000, 1);
    expect(await readBodyCapped(over.request, 150_000)).toBeUndefined();
    expect(over.pulled()).toBeLessThan(150_010);
  });
});
