/**
 * The tokens file (`--tokens-file` / `AAPS_TOKENS_FILE`): bearer tokens with limited scopes for
 * integrations (Alertmanager, Argo CD, event exporters: `submit`; dashboards: `read`; approvers:
 * `approve`), beside the admin token (`AAPS_API_TOKEN`). A JSON list:
 *
 * ```json
 * [{ "name": "alertmanager", "token": "<at least 32 characters>", "scopes": ["submit"] }]
 * ```
 *
 * Read once at start (`cli/tokens-file.ts` reads the file; this checks what it holds). Every
 * problem is reported at once, on one line, naming the entry and the field; a token value never
 * appears in a message.
 */
import { ValidationError } from '@aaps/mpc-core';
import { SCOPES, type Scope } from '../http-env.js';
import type { TokenGrant } from './auth.js';

/** Shortest token the file accepts (`openssl rand -hex 32` gives 64 characters). */
export const MIN_FILE_TOKEN_LENGTH = 32;
/** The name of the `AAPS_API_TOKEN` grant: the file may not use it. */
export const ADMIN_TOKEN_NAME = 'admin';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** What the `Authorization: Bearer` parser accepts: a token with other characters could never match. */
const TOKEN = /^[\x21-\x7e]{1,512}$/;
const KEYS = new Set(['name', 'token', 'scopes']);

/**
 * Checks a parsed tokens file. `adminToken` (when known) may not appear in it: two grants for one
 * token would make the caller's name and scopes depend on the order of the table.
 */
export function parseTokenGrants(value: unknown, opts: { adminToken?: string } = {}): TokenGrant[] {
  if (!Array.isArray(value)) {
    throw new ValidationError('INVALID_ARGUMENT', 'expected a JSON list of {name, token, scopes}', ['$']);
  }
  const problems: string[] = [];
  const fields: string[] = [];
  const grants: TokenGrant[] = [];
  const names = new Map<string, number>();
  const tokens = new Map<string, number>();
  value.forEach((entry: unknown, i) => {
    const at = `tokens[${i}]`;
    const bad = (field: string, why: string) => {
      problems.push(`${at}${field === '' ? '' : `.${field}`}: ${why}`);
      fields.push(`${at}${field === '' ? '' : `.${field}`}`);
    };
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      bad('', 'expected an object {name, token, scopes}');
      return;
    }
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!KEYS.has(k)) bad(k, 'unknown key (expected name, token, scopes)');
    const name = e['name'];
    let nameOk = false;
    if (typeof name !== 'string' || !NAME.test(name)) {
      bad('name', 'expected 1 to 64 letters, digits, ".", "_" or "-"');
    } else if (name === ADMIN_TOKEN_NAME) {
      bad('name', `"${ADMIN_TOKEN_NAME}" is the name of AAPS_API_TOKEN's grant; choose another`);
    } else if (names.has(name)) {
      bad('name', `"${name}" is also the name of tokens[${names.get(name)}]`);
    } else {
      names.set(name, i);
      nameOk = true;
    }
    const token = e['token'];
    let tokenOk = false;
    if (typeof token !== 'string') bad('token', 'expected a string');
    else if (token.length < MIN_FILE_TOKEN_LENGTH)
      bad('token', `too short: at least ${MIN_FILE_TOKEN_LENGTH} characters (openssl rand -hex 32)`);
    else if (!TOKEN.test(token)) bad('token', 'expected at most 512 printable ASCII characters, no spaces');
    else if (opts.adminToken !== undefined && token === opts.adminToken)
      bad('token', 'the same token as AAPS_API_TOKEN (the admin token)');
    else if (tokens.has(token)) bad('token', `the same token as tokens[${tokens.get(token)}]`);
    else {
      tokens.set(token, i);
      tokenOk = true;
    }
    const scopes = e['scopes'];
    let scopesOk = false;
    if (!Array.isArray(scopes) || scopes.length === 0) {
      bad('scopes', `expected a non-empty list of ${SCOPES.join(', ')}`);
    } else {
      const unknown = scopes.filter(
        (s) => typeof s !== 'string' || !(SCOPES as readonly unknown[]).includes(s),
      );
      const repeated = scopes.filter((s, j) => scopes.indexOf(s) !== j);
      if (unknown.length > 0)
        bad(
          'scopes',
          `unknown scope ${unknown.map((s) => JSON.stringify(s)).join(', ')} (expected ${SCOPES.join(', ')})`,
        );
      else if (repeated.length > 0) bad('scopes', `${JSON.stringify(repeated[0])} is listed twice`);
      else scopesOk = true;
    }
    if (nameOk && tokenOk && scopesOk)
      grants.push({ name: name as string, token: token as string, scopes: scopes as Scope[] });
  });
  if (problems.length > 0) throw new ValidationError('INVALID_ARGUMENT', problems.join('; '), fields);
  return grants;
}

/** One line for the start-up output: each grant's name and scopes, never its token. */
export function describeGrants(grants: readonly TokenGrant[]): string {
  return grants.map((g) => `${g.name} (${g.scopes.join(', ')})`).join(', ');
}
