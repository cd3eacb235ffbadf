/**
 * The party client's default transport: `node:http` with a keep-alive agent, shaped as `fetch`.
 * Undici's `fetch` costs about 15% of the gateway's CPU per incident in streams, abort-signal and
 * WHATWG plumbing that a JSON POST over loopback never uses; this sends the body as one buffer
 * and reads the answer into one. Only what `PartyClient` uses is supported: a URL, `method`,
 * `headers` as a plain object, a string or byte `body`, and `signal`.
 */
import { Agent, request } from 'node:http';
import { AapsError } from '@aaps/mpc-core';

// Idle sockets close after 4 s, before a Node server's 5 s keep-alive timeout closes them under a
// request about to reuse them.
const agent = new Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8, timeout: 4000 });

export const httpPost: typeof fetch = (input, init = {}) =>
  new Promise<Response>((resolve, reject) => {
    const url = input instanceof URL ? input : new URL(String(input instanceof Request ? input.url : input));
    if (url.protocol !== 'http:') {
      reject(new AapsError('INVALID_ARGUMENT', `httpPost: ${url.protocol} is not supported (use fetch)`));
      return;
    }
    const raw = init.body;
    const body =
      raw === undefined || raw === null
        ? Buffer.alloc(0)
        : typeof raw === 'string'
          ? Buffer.from(raw)
          : raw instanceof Uint8Array
            ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
            : undefined;
    if (body === undefined) {
      reject(new AapsError('INVALID_ARGUMENT', 'httpPost: body must be a string or bytes'));
      return;
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    headers['content-length'] = String(body.length);
    const req = request(
      url,
      { method: init.method ?? 'GET', headers, agent, ...(init.signal ? { signal: init.signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (typeof v === 'string') out.set(k, v);
            else if (Array.isArray(v)) for (const x of v) out.append(k, x);
          }
          const status = res.statusCode ?? 502;
          // A Response cannot carry a body with 204/304.
          const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(payload, { status, statusText: res.statusMessage ?? '', headers: out }));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
