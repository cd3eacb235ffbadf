/**
 * The HTTP server of both served processes (the gateway's and a party's): Node's, with
 * `@hono/node-server`'s request listener, where every request refused before the app sees it is
 * answered as the apps answer their errors: `{"error": {"code", "message"}}` JSON (with an
 * `X-Request-Id` where the server names requests), reported once to `onRefused` (to log and count
 * it). It creates the server; the caller listens.
 *
 * What is refused there, and how:
 * - a target with a backslash in its path, or a Host header that is not a host (`gw.example/x`):
 *   `@hono/node-server` cannot build a `Request` and answered an empty `text/plain` 400; its
 *   `errorHandler` answers 400 `INVALID_ARGUMENT` (and 500 `INTERNAL`, generic, for a handler
 *   that fails outside the app's own error handling);
 * - an HTTP/1.1 request with no Host header (RFC 9112 §3.2: 400), which Node refused bare: Node's
 *   check is off and the listener answers 400 `INVALID_ARGUMENT`;
 * - what Node's parser refuses (`clientError`): not HTTP/1.1 it can read (400 `DECODE_FAILED`), a
 *   request line and headers over its 16 KiB (431 `HEADERS_TOO_LARGE`), chunk extensions over its
 *   bound (413 `PAYLOAD_TOO_LARGE`), headers not in within the deadline (408 `REQUEST_TIMEOUT`):
 *   written on the socket, as Node writes its bare status line, only when nothing of a response
 *   went out on it yet, then the connection is closed; a reset connection gets nothing;
 * - an `Expect` other than `100-continue` (417 `EXPECTATION_FAILED`) and `CONNECT` (405
 *   `METHOD_NOT_ALLOWED`: neither server is a proxy), which Node answered bare or closed unanswered.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import { HEADERS_TIMEOUT_MS } from './http-connections.js';

/** A request the server refused before the app saw it, as it was answered. */
export interface PreRouteRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /**
   * Why, for logs and counters: `request.unreadable`, `request.no_host`, `request.expectation`,
   * `request.connect`, `handler.failed`, or the code of Node's parser error (`HPE_INVALID_METHOD`,
   * `HPE_HEADER_OVERFLOW`, `ERR_HTTP_REQUEST_TIMEOUT`; `parse_error` for one that is no code).
   */
  readonly reason: string;
}

/** A served process's fetch handler (its app's `fetch`, or a wrapper of it). */
export type FetchHandler = (request: Request, env: unknown) => Response | Promise<Response>;

export interface HttpServerOptions {
  /** Who answers, in messages: `the gateway`, `the party`. */
  readonly who: string;
  /** The default host of a request that names none (HTTP/1.0). */
  readonly hostname: string;
  /** Node's server options (timeouts: `serverTimeoutOptions()`). */
  readonly serverOptions: ServerOptions;
  /** The methods the server serves, for a CONNECT's 405 and its `Allow`. */
  readonly allow: string;
  /**
   * The id of a refused request, from its `X-Request-Id` (`undefined` where it sent none or no
   * request was read): answered as `X-Request-Id`. Absent: refusals carry no id.
   */
  readonly requestId?: (given: string | undefined) => string;
  /**
   * Each refusal, once, as it is answered: `method` is the request's (`undefined` where no
   * request line was read), `requestId` the id it was answered with.
   */
  readonly onRefused: (
    refusal: PreRouteRefusal,
    method: string | undefined,
    requestId: string | undefined,
  ) => void;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
};

/** One line of at most 200 characters (a library's message about a client's request). */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

const errorJson = (r: PreRouteRefusal) => JSON.stringify({ error: { code: r.code, message: r.message } });

/** What Node's parser refused (its error code), as `who` answers it. */
function parserRefusal(who: string, code: string | undefined): PreRouteRefusal {
  // Node's codes are a small fixed set; anything else is not taken as a label.
  const reason = code !== undefined && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'parse_error';
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'HEADERS_TOO_LARGE',
        message: `the request line and headers are over the 16 KiB ${who} reads`,
        reason,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: `chunk extensions over the bound ${who} reads`,
        reason,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: `the request did not arrive in time (its headers are due within ${HEADERS_TIMEOUT_MS / 1000} s of its first byte)`,
        reason,
      };
    default:
      return {
        status: 400,
        code: 'DECODE_FAILED',
        message: `the request is not HTTP/1.1 ${who} can read`,
        reason,
      };
  }
}

/** The server for `fetch`, answering what it refuses before `fetch` sees it as `options` say. */
export function createHttpServer(fetch: FetchHandler, options: HttpServerOptions): Server {
  const { who, allow } = options;
  const idOf = (req: IncomingMessage | undefined) => {
    if (options.requestId === undefined) return undefined;
    const given = req?.headers['x-request-id'];
    return options.requestId(typeof given === 'string' ? given : undefined);
  };
  const idHeader = (requestId: string | undefined): Record<string, string> =>
    requestId === undefined ? {} : { 'X-Request-Id': requestId };
  /** The refusal as a full response on `res` (a request Node parsed). */
  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    r: PreRouteRefusal,
    headers: Record<string, string> = {},
  ) => {
    const requestId = idOf(req);
    options.onRefused(r, req.method, requestId);
    const body = errorJson(r);
    res.writeHead(r.status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      ...idHeader(requestId),
      Connection: 'close',
    });
    res.end(body);
  };
  /** The refusal written on `socket` (no request object to answer through), then closed. */
  const writeOn = (
    socket: Socket,
    r: PreRouteRefusal,
    method: string | undefined,
    requestId: string | undefined,
    headers: Record<string, string> = {},
  ) => {
    options.onRefused(r, method, requestId);
    const body = errorJson(r);
    const lines = Object.entries({
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      ...idHeader(requestId),
      Connection: 'close',
    }).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}\r\n${lines.join('')}\r\n${body}`);
    socket.destroy();
  };

  // The listener calls its `errorHandler` before it first waits, so the request in hand then is
  // the one it could not build (for its method and `X-Request-Id`).
  let reading: IncomingMessage | undefined;
  const listener = getRequestListener(fetch, {
    hostname: options.hostname,
    errorHandler: (e: unknown) => {
      const r: PreRouteRefusal =
        e instanceof RequestError
          ? {
              status: 400,
              code: 'INVALID_ARGUMENT',
              message: `the request target or Host header is not one ${who} can read: ${oneLine(e.message)}`,
              reason: 'request.unreadable',
            }
          : {
              status: 500,
              code: 'INTERNAL',
              message: `${who} could not complete the request`,
              reason: 'handler.failed',
            };
      const requestId = idOf(reading);
      options.onRefused(r, reading?.method, requestId);
      return new Response(errorJson(r), {
        status: r.status,
        headers: {
          'content-type': 'application/json',
          ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
        },
      });
    },
  });

  const server = createServer({ ...options.serverOptions, requireHostHeader: false }, (req, res) => {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      answer(req, res, {
        status: 400,
        code: 'INVALID_ARGUMENT',
        message: 'an HTTP/1.1 request needs a Host header',
        reason: 'request.no_host',
      });
      return;
    }
    reading = req;
    try {
      void listener(req, res);
    } finally {
      reading = undefined;
    }
  });

  const answered = new WeakSet<Socket>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (
      answered.has(socket) ||
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      inFlight?.headersSent === true
    ) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    writeOn(socket, parserRefusal(who, err.code), undefined, options.requestId?.(undefined));
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    answer(req, res, {
      status: 417,
      code: 'EXPECTATION_FAILED',
      message: `${who} meets no Expect but 100-continue`,
      reason: 'request.expectation',
    }),
  );
  server.on('connect', (req: IncomingMessage, socket: Socket) =>
    writeOn(
      socket,
      {
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        message: `no CONNECT: ${who} is no proxy; it allows ${allow}`,
        reason: 'request.connect',
      },
      'CONNECT',
      idOf(req),
      { Allow: allow },
    ),
  );
  return server;
}
