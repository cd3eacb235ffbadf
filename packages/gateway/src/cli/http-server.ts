/**
 * The served gateway's HTTP server: Node's, with `@hono/node-server`'s request listener, where
 * every request refused before the app sees it is answered as the app answers its errors:
 * `{"error": {"code", "message"}}` JSON with an `X-Request-Id`, logged `http.rejected` and counted
 * in `aaps_rejected_requests_total` (route `unmatched`; method `OTHER` where no request line
 * was read).
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
 *   `METHOD_NOT_ALLOWED`: the gateway is no proxy), which Node answered bare or closed unanswered.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@aaps/agents';
import { getRequestListener, RequestError } from '@hono/node-server';
import type { FetchHandler } from '../http-drain.js';
import type { GatewayMetrics } from '../metrics.js';
import { errorBody, methodOf } from '../middleware/errors.js';
import { chooseRequestId } from '../middleware/request-id.js';

export interface HttpServerDeps {
  /** The default host of a request that names none (HTTP/1.0). */
  hostname: string;
  /** Node's server options (timeouts). */
  serverOptions: ServerOptions;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Request ids, as the app makes them. */
  newId: () => string;
}

interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Why, for the log line: the parser's error code, or what the server found. */
  readonly reason: string;
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

/** The methods the gateway serves, for a 405's `Allow`. */
const ALLOW = 'GET, HEAD, POST';

/** One line of at most 200 characters (a library's message about a client's request). */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** What Node's parser refused (its error code), as the gateway answers it. */
function parserRefusal(code: string | undefined): Refusal {
  const reason = code ?? 'parse_error';
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'HEADERS_TOO_LARGE',
        message: 'the request line and headers are over the 16 KiB the gateway reads',
        reason,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: 'chunk extensions over the bound the gateway reads',
        reason,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: 'the request did not arrive in time (its headers are due within 10 s of its first byte)',
        reason,
      };
    default:
      return {
        status: 400,
        code: 'DECODE_FAILED',
        message: 'the request is not HTTP/1.1 the gateway can read',
        reason,
      };
  }
}

export function createHttpServer(fetch: FetchHandler, deps: HttpServerDeps): Server {
  const note = (r: Refusal, method: string, requestId: string) => {
    const where = {
      request_id: requestId,
      route: 'unmatched',
      code: r.code,
      status: r.status,
      reason: r.reason,
    };
    if (r.status >= 500) deps.logger.error('http.error', where);
    else deps.logger.info('http.rejected', where);
    deps.metrics.rejected.inc({ method, route: 'unmatched', status: String(r.status), code: r.code });
  };
  const idOf = (req: IncomingMessage | undefined) => {
    const given = req?.headers['x-request-id'];
    return chooseRequestId(typeof given === 'string' ? given : undefined, deps.newId);
  };
  /** The refusal as a full response on `res` (a request Node parsed). */
  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    r: Refusal,
    headers: Record<string, string> = {},
  ) => {
    const requestId = idOf(req);
    note(r, methodOf(req.method ?? ''), requestId);
    const body = JSON.stringify(errorBody(r.code, r.message));
    res.writeHead(r.status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Request-Id': requestId,
      Connection: 'close',
    });
    res.end(body);
  };
  /** The refusal written on `socket` (no request object to answer through), then closed. */
  const writeOn = (socket: Socket, r: Refusal, method: string, requestId: string, headers = '') => {
    note(r, method, requestId);
    const body = JSON.stringify(errorBody(r.code, r.message));
    socket.write(
      `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}\r\n${headers}` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    socket.destroy();
  };

  // The listener calls its `errorHandler` before it first waits, so the request in hand then is
  // the one it could not build (for its method and `X-Request-Id`).
  let reading: IncomingMessage | undefined;
  const listener = getRequestListener(fetch, {
    hostname: deps.hostname,
    errorHandler: (e: unknown) => {
      const r: Refusal =
        e instanceof RequestError
          ? {
              status: 400,
              code: 'INVALID_ARGUMENT',
              message: `the request target or Host header is not one the gateway can read: ${oneLine(e.message)}`,
              reason: 'request.unreadable',
            }
          : {
              status: 500,
              code: 'INTERNAL',
              message: 'the gateway could not complete the request',
              reason: 'handler.failed',
            };
      const requestId = idOf(reading);
      note(r, methodOf(reading?.method ?? ''), requestId);
      return new Response(JSON.stringify(errorBody(r.code, r.message)), {
        status: r.status,
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      });
    },
  });

  const server = createServer({ ...deps.serverOptions, requireHostHeader: false }, (req, res) => {
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
    writeOn(socket, parserRefusal(err.code), 'OTHER', deps.newId());
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    answer(req, res, {
      status: 417,
      code: 'EXPECTATION_FAILED',
      message: 'the gateway meets no Expect but 100-continue',
      reason: 'request.expectation',
    }),
  );
  server.on('connect', (req: IncomingMessage, socket: Socket) =>
    writeOn(
      socket,
      {
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        message: `no CONNECT: the gateway is no proxy; it allows ${ALLOW}`,
        reason: 'request.connect',
      },
      'OTHER',
      idOf(req),
      `Allow: ${ALLOW}\r\n`,
    ),
  );
  return server;
}
