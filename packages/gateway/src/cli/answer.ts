/**
 * Reading the gateway's answers, once for every client command. What answers may not be the
 * gateway's JSON (a reverse proxy's 502 page, a cut connection), and a refusal's reason is in its
 * `error.code` and `error.message`: each command says which, with the status, on its one line.
 */
import { printable } from './terminal-text.js';

export type JsonAnswer =
  | { readonly ok: true; readonly status: number; readonly body: unknown }
  | { readonly ok: false; readonly status: number; readonly body: unknown; readonly failure: string };

/** What was asked for an answer: the method, the URL, and the `--url` it was built on. */
export interface Asked {
  readonly method: string;
  readonly base: string;
  readonly path: string;
}

/**
 * The request each answer came from, set by the one helper every client command asks the gateway
 * through (`reach`, submit.ts), so that {@link readJson} can name the URL of an answer about the URL.
 */
const asked = new WeakMap<Response, Asked>();

/** Record that `res` answers `request`. */
export function noteAsked(res: Response, request: Asked): void {
  asked.set(res, request);
}

/**
 * For an answer about the URL itself (404: nothing there; 405: not that method), the URL asked,
 * and, when `--url` has a path, that `--url` is the gateway's base URL (the API's `/v1/…` paths go
 * under it): `--url http://host:8080/v1` asks `http://host:8080/v1/v1/…`.
 */
function urlNote(res: Response): string {
  const request = asked.get(res);
  if (request === undefined || (res.status !== 404 && res.status !== 405)) return '';
  const url = `${request.base}${request.path}`;
  const basePath = new URL(request.base).pathname;
  const hint =
    basePath === '/' || basePath === ''
      ? ''
      : `; --url is the gateway's base URL, under which aaps asks /v1/…: is ${basePath} part of the gateway's address?`;
  return ` (${request.method} ${url}${hint})`;
}

/** The media type of a response, without parameters (`text/html`), or `untyped`. */
function mediaType(res: Response): string {
  return (res.headers.get('content-type') ?? '').split(';')[0]?.trim() || 'untyped';
}

/**
 * The JSON body of `res` when it succeeded and is JSON; otherwise `failure`, one line for a
 * person: `HTTP 403 FORBIDDEN this token lacks the read scope`, or `HTTP 502 (a text/html answer,
 * not JSON)`. Text from the answer is escaped for the terminal.
 */
export async function readJson(res: Response): Promise<JsonAnswer> {
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      status: res.status,
      body: undefined,
      failure: printable(`HTTP ${res.status} (the answer was cut off: ${why})`),
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {
      ok: false,
      status: res.status,
      body: undefined,
      failure: printable(`HTTP ${res.status} (a ${mediaType(res)} answer, not JSON)${urlNote(res)}`),
    };
  }
  if (res.ok) return { ok: true, status: res.status, body };
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' ? ` ${err.code}` : '';
  const message = typeof err?.message === 'string' ? ` ${err.message}` : '';
  return {
    ok: false,
    status: res.status,
    body,
    failure: printable(`HTTP ${res.status}${code}${message}${urlNote(res)}`),
  };
}
