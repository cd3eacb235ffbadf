/**
 * Reading the gateway's answers, once for every client command. What answers may not be the
 * gateway's JSON (a reverse proxy's 502 page, a cut connection), and a refusal's reason is in its
 * `error.code` and `error.message`: each command says which, with the status, on its one line.
 */
import { printable } from './terminal-text.js';

export type JsonAnswer =
  | { readonly ok: true; readonly status: number; readonly body: unknown }
  | { readonly ok: false; readonly status: number; readonly body: unknown; readonly failure: string };

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
      failure: `HTTP ${res.status} (a ${printable(mediaType(res))} answer, not JSON)`,
    };
  }
  if (res.ok) return { ok: true, status: res.status, body };
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' ? ` ${err.code}` : '';
  const message = typeof err?.message === 'string' ? ` ${err.message}` : '';
  return { ok: false, status: res.status, body, failure: printable(`HTTP ${res.status}${code}${message}`) };
}
