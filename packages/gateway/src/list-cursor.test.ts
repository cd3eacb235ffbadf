/** The incident list's cursor: what it issues reads back; anything else is refused naming `cursor`. */
import { createHash } from 'node:crypto';
import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { decodeListCursor, encodeListCursor } from './list-cursor.js';

const KEY = '2026-11-25T16:00:00.123Z|inc-0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

function refusal(cursor: string): string {
  try {
    decodeListCursor(cursor);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).code).toBe('INVALID_ARGUMENT');
    expect((e as ValidationError).fields).toEqual(['cursor']);
    return (e as ValidationError).message;
  }
  throw new Error(`${cursor}: read as a cursor`);
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('list cursors', () => {
  it('a cursor it issued reads back as its listing key, ids of any spelling the store holds', () => {
    expect(decodeListCursor(encodeListCursor(KEY))).toBe(KEY);
    expect(decodeListCursor(encodeListCursor('2026-11-25T16:00:00.000Z|a'))).toBe(
      '2026-11-25T16:00:00.000Z|a',
    );
  });

  it('a foreign or corrupted cursor is refused: plain base64url of a key, garbage, the old form', () => {
    refusal(b64('garbage|cursor'));
    refusal(b64(KEY));
    refusal('bm9wZQ');
    refusal('');
    refusal('...');
  });

  it('a cursor cut short, or with one character changed, is refused', () => {
    const good = encodeListCursor(KEY);
    for (const n of [1, 2, 5, 13, 20])
      expect(refusal(good.slice(0, good.length - n)), `cut by ${n}`).toMatch(/cursor: not a cursor/);
    const [body = '', check = ''] = good.split('.');
    for (const cut of [1, 4, 8])
      expect(refusal(`${body.slice(0, body.length - cut)}.${check}`)).toMatch(/damaged|form/);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    expect(refusal(`${flip(body, 10)}.${check}`)).toMatch(/damaged|form/);
    expect(refusal(`${body}.${flip(check, 3)}`)).toMatch(/damaged/);
  });

  it('a well-checked cursor whose parts are not a version, a creation time and an id is refused', () => {
    // Checked as the gateway checks them (so only the parts can refuse it), naming nothing it issues.
    const forge = (body: string) =>
      `${b64(body)}.${createHash('sha256').update(`aaps.list-cursor|${body}`, 'utf8').digest().subarray(0, 9).toString('base64url')}`;
    expect(decodeListCursor(forge(`1|${KEY}`))).toBe(KEY);
    expect(refusal(forge('2|2026-11-25T16:00:00.000Z|inc-1'))).toMatch(/unknown version/);
    expect(refusal(forge('1|2026-11-25T16:00:00.000Z'))).toMatch(/no incident id/);
    expect(refusal(forge('1|yesterday|inc-1'))).toMatch(/no creation time/);
    expect(refusal(forge('1|2026-02-30T00:00:00.000Z|inc-1'))).toMatch(/no creation time/);
    expect(refusal(forge('1|2026-11-25T16:00:00Z|inc-1'))).toMatch(/no creation time/);
    expect(refusal(forge('1|2026-11-25T16:00:00.000Z|'))).toMatch(/no incident id/);
    expect(refusal(forge('1|2026-11-25T16:00:00.000Z|inc\n1'))).toMatch(/no incident id/);
    expect(refusal(forge(`1|2026-11-25T16:00:00.000Z|${'x'.repeat(257)}`))).toMatch(/no incident id/);
  });
});
