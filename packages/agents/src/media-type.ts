/**
 * Which request bodies a server of this project reads: identity-coded `application/json` in UTF-8.
 * The gateway and the party node both refuse anything else with 415 before a byte is read: they
 * decode neither compression nor other charsets, and a body they would read as plain UTF-8 anyway
 * must not be taken when its sender says it is something else.
 */

/** Which label of a body rules it out, and the message of its 415. */
export interface MediaTypeProblem {
  label: 'type' | 'charset' | 'coding';
  message: string;
}

/**
 * Why the body's labels rule it out, or `undefined` when it is identity-coded `application/json`
 * in UTF-8 (no charset means UTF-8: RFC 8259 §8.1). `github` adds what to change in GitHub's
 * webhook settings, whose default content type is form-encoded.
 */
export function unsupportedMediaType(
  contentType: string,
  contentEncoding: string | undefined,
  github = false,
): MediaTypeProblem | undefined {
  const [essence = '', ...params] = contentType.split(';');
  if (essence.trim().toLowerCase() !== 'application/json') {
    const hint = github ? " (set the GitHub webhook's content type to application/json)" : '';
    return { label: 'type', message: `the body must be application/json${hint}` };
  }
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
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
