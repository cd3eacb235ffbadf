/** The tokens file's content: what it accepts, every problem on one line, never a token in a message. */
import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { parseTokenGrants } from './token-file.js';

const T1 = 'alertmanager-0123456789abcdef0123456789';
const T2 = 'grafana-0123456789abcdef0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef0123456789';

function problem(value: unknown, opts: { adminToken?: string } = {}): string {
  try {
    parseTokenGrants(value, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    for (const t of [T1, T2, ADMIN, 'short-token']) expect(message).not.toContain(t);
    return message;
  }
  throw new Error('accepted');
}

describe('parseTokenGrants', () => {
  it('takes a list of {name, token, scopes}', () => {
    expect(
      parseTokenGrants(
        [
          { name: 'alertmanager', token: T1, scopes: ['submit'] },
          { name: 'grafana', token: T2, scopes: ['read', 'approve'] },
        ],
        { adminToken: ADMIN },
      ),
    ).toEqual([
      { name: 'alertmanager', token: T1, scopes: ['submit'] },
      { name: 'grafana', token: T2, scopes: ['read', 'approve'] },
    ]);
    expect(parseTokenGrants([])).toEqual([]);
  });

  it.each([
    [{ tokens: [] }, 'expected a JSON list'],
    [['x'], 'tokens[0]: expected an object'],
    [
      [{ name: 'a', token: T1, scopes: ['wirte'] }],
      'tokens[0].scopes: unknown scope "wirte" (expected submit, approve, read, admin)',
    ],
    [[{ name: 'a', token: T1, scopes: [] }], 'tokens[0].scopes: expected a non-empty list'],
    [[{ name: 'a', token: T1, scopes: ['read', 'read'] }], 'tokens[0].scopes: "read" is listed twice'],
    [
      [{ name: 'a', token: 'short-token', scopes: ['read'] }],
      'tokens[0].token: too short: at least 32 characters',
    ],
    [
      [{ name: 'a', token: `${T1} x`, scopes: ['read'] }],
      'tokens[0].token: expected at most 512 printable ASCII',
    ],
    [[{ name: 'a', scopes: ['read'] }], 'tokens[0].token: expected a string'],
    [
      [{ name: 'admin', token: T1, scopes: ['read'] }],
      'tokens[0].name: "admin" is the name of AAPS_API_TOKEN',
    ],
    [[{ name: 'a b', token: T1, scopes: ['read'] }], 'tokens[0].name: expected 1 to 64 letters'],
    [[{ name: 'a', token: T1, scope: ['read'] }], 'tokens[0].scope: unknown key'],
    [
      [
        { name: 'a', token: T1, scopes: ['read'] },
        { name: 'a', token: T2, scopes: ['read'] },
      ],
      'tokens[1].name: "a" is also the name of tokens[0]',
    ],
    [
      [
        { name: 'a', token: T1, scopes: ['read'] },
        { name: 'b', token: T1, scopes: ['submit'] },
      ],
      'tokens[1].token: the same token as tokens[0]',
    ],
    [[{ name: 'a', token: ADMIN, scopes: ['read'] }], 'tokens[0].token: the same token as AAPS_API_TOKEN'],
  ])('refuses %j: %s', (value, why) => {
    expect(problem(value, { adminToken: ADMIN })).toContain(why);
  });

  it('names every problem at once', () => {
    const m = problem([
      { name: 'a', token: 'short-token', scopes: ['read'] },
      { name: 'b', token: T2, scopes: ['nope'] },
    ]);
    expect(m).toContain('tokens[0].token');
    expect(m).toContain('tokens[1].scopes');
  });
});
