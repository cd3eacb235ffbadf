/**
 * The party client's default transport: `node:http` with a keep-alive agent, shaped as `fetch`.
 * Undici's `fetch` costs about 15% of the gateway's CPU per incident in streams, abort-signal and
 * WHATWG plumbing that a JSON POST over loopback never uses; this sends the body as one buffer
 * and reads the answer into one, up to a bound (`maxAnswerBytes`; `maxErrorBytes` for an error
 * answer). Only what `PartyClient` uses is
 * supported: a URL, `method`, `headers` as a plain object, a string or byte `body`, and `signal`.
 */
import { Agent, request } from 'node:http';
import { AapsError } from '@aaps/mpc-core';

// Idle sockets close after 4 s, before a Node server's 5 s keep-alive timeout closes them under a
// request about to reuse them.
const agent = new Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8, timeout: 4000 });

/**
 * The most bytes of an answer read when the caller names no bound: the largest request a party
 * accepts (an aggregation body, `MAX_BODY_ALLOWANCE` plus its base limit), so no honest answer is
 * near it.
 */
export const MAX_ANSWER_BYTES = 65 * 1024 * 1024;

/**
 * `fetch`'s init, plus the most bytes of answer to read (`maxAnswerBytes`, default
 * {@link MAX_ANSWER_BYTES}) and of an answer whose status is not 2xx (`maxErrorBytes`, default
 * `maxAnswerBytes`; never more).
 */
export type HttpPostInit = RequestInit & { maxAnswerBytes?: number; maxErrorBytes?: number };

/**
 * An answer over its bound: the transport stopped reading it and closed the connection (so one
 * party cannot make its caller buffer without end). `details.max_bytes` is the bound it passed.
 */
export function answerTooLarge(max: number): AapsError {
  return new AapsError('PAYLOAD_TOO_LARGE', `the answer is over ${max} bytes`, {
    details: { max_bytes: max },
  });
}

export const httpPost = (input: string | URL | Request, init: HttpPostInit = {}): Promise<Response> =>
  new Promise<Response>((resolve, reject) => {
    const maxAnswer = init.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    const maxError = Math.min(maxAnswer, init.maxErrorBytes ?? maxAnswer);
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
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
        const max = ok ? maxAnswer : maxError;
        const chunks: Buffer[] = [];
        let size = 0;
        const tooLarge = () => {
          res.destroy();
          req.destroy();
          reject(answerTooLarge(max));
        };
        if (Number(res.headers['content-length']) > max) {
          tooLarge();
          return;
        }
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) tooLarge();
          else chunks.push(c);
        });
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
