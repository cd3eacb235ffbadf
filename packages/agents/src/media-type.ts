/**
 * Media types as RFC 9110 writes them (§8.3.1: `type "/" subtype *( OWS ";" OWS [ parameter ] )`,
 * a parameter `name "=" ( token / quoted-string )`), read once for both servers: the `Content-Type`
 * of a request body, and each range of an `Accept` (the gateway's `accept.ts`).
 *
 * And which request bodies a server of this project reads: identity-coded `application/json` in
 * UTF-8. The gateway and the party node both refuse anything else with 415 before a byte is read:
 * they decode neither compression nor other charsets, and a body they would read as plain UTF-8
 * anyway must not be taken when its sender says it is something else.
 */

/** A media type (or an `Accept` range: `*` is a token) with its parameters. */
export interface MediaType {
  /** Lower-cased. */
  readonly type: string;
  /** Lower-cased. */
  readonly subtype: string;
  /** In order; names lower-cased, values as sent less the quotes of a quoted string. */
  readonly params: readonly { readonly name: string; readonly value: string }[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `text` split at `sep` outside quoted strings (a `\` in one escapes the next character). */
export function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let part = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted && ch === '\\' && i + 1 < text.length) {
      part += ch + (text[i + 1] as string);
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(part);
      part = '';
    } else part += ch;
  }
  out.push(part);
  return out;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1).replace(/\\(.)/g, '$1')
    : value;
}

/**
 * `text` as a media type, or `undefined` when it is none: a type or subtype that is no token, a
 * parameter with no `=` or whose name is no token. Empty parameters (`;;`) are skipped, as RFC
 * 9110 allows; whitespace around names and values is dropped.
 */
export function parseMediaType(text: string): MediaType | undefined {
  const [head = '', ...rest] = splitOutsideQuotes(text, ';').map((p) => p.trim());
  const slash = head.indexOf('/');
  if (slash < 0) return undefined;
  const type = head.slice(0, slash).toLowerCase();
  const subtype = head.slice(slash + 1).toLowerCase();
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  const params: { name: string; value: string }[] = [];
  for (const p of rest) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return undefined;
    const name = p.slice(0, eq).trim().toLowerCase();
    if (!TOKEN.test(name)) return undefined;
    params.push({ name, value: unquote(p.slice(eq + 1).trim()) });
  }
  return { type, subtype, params };
}

/** Which label of a body rules it out, and the message of its 415. */
export interface MediaTypeProblem {
  label: 'type' | 'charset' | 'coding';
  message: string;
}

/**
 * Why the body's labels rule it out, or `undefined` when it is identity-coded `application/json`
 * in UTF-8 (no charset means UTF-8: RFC 8259 §8.1). A `Content-Type` that is no media type
 * ({@link parseMediaType}) is not `application/json`. `github` adds what to change in GitHub's
 * webhook settings, whose default content type is form-encoded.
 */
export function unsupportedMediaType(
  contentType: string,
  contentEncoding: string | undefined,
  github = false,
): MediaTypeProblem | undefined {
  const media = parseMediaType(contentType);
  if (media?.type !== 'application' || media.subtype !== 'json') {
    // application/json whose parameters do not parse (`; charset` with no value): say that, not
    // that the type is wrong.
    if (media === undefined && /^\s*application\/json\s*;/i.test(contentType))
      return {
        label: 'type',
        message:
          'the Content-Type application/json has a parameter that does not parse (name=value, RFC 9110 §5.6.6)',
      };
    const hint = github ? " (set the GitHub webhook's content type to application/json)" : '';
    return { label: 'type', message: `the body must be application/json${hint}` };
  }
  for (const param of media.params) {
    if (param.name !== 'charset') continue;
    const charset = param.value.toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      return {
        label: 'charset',
        message: `the body must be UTF-8 JSON; charset=${charset.slice(0, 40)} is not supported`,
      };
  }
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding !== '' && coding !== 'identity')
    return {
      label: 'coding',
      message: `the body must be sent uncompressed; Content-Encoding: ${coding.slice(0, 40)} is not supported`,
    };
  return undefined;
}
