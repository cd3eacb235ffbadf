import { describe, expect, it } from 'vitest';
import { parseMediaType, unsupportedMediaType } from './media-type.js';

describe('unsupportedMediaType', () => {
  it('accepts application/json with no charset, utf-8 in any case or quoted, and identity coding', () => {
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json;charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json; charset="utf-8"',
      'application/json; charset=utf8',
      'application/json; foo=bar',
    ]) {
      expect(unsupportedMediaType(type, undefined), type).toBeUndefined();
    }
    expect(unsupportedMediaType('application/json', 'identity')).toBeUndefined();
    expect(unsupportedMediaType('application/json', 'IDENTITY')).toBeUndefined();
    expect(unsupportedMediaType('application/json', '')).toBeUndefined();
  });

  it('names which label rules a body out', () => {
    expect(unsupportedMediaType('text/plain', undefined)?.label).toBe('type');
    expect(unsupportedMediaType('application/json-seq', undefined)?.label).toBe('type');
    expect(unsupportedMediaType('application/json; charset=iso-8859-1', undefined)?.label).toBe('charset');
    expect(unsupportedMediaType('application/json; charset=utf-16le', undefined)?.label).toBe('charset');
    for (const coding of ['gzip', 'br', 'deflate', 'gzip, identity']) {
      expect(unsupportedMediaType('application/json', coding)?.label, coding).toBe('coding');
    }
  });

  it("tells a GitHub sender to change its webhook's content type", () => {
    expect(unsupportedMediaType('application/x-www-form-urlencoded', undefined, true)?.message).toContain(
      "GitHub webhook's content type",
    );
  });
});

describe('parseMediaType (RFC 9110 §8.3.1; the Content-Type and Accept reader of both servers)', () => {
  it('lower-cases type, subtype and parameter names; unquotes values; skips empty parameters', () => {
    expect(parseMediaType('Application/JSON ; Charset="UTF-8";; p="a;b,\\"c"')).toEqual({
      type: 'application',
      subtype: 'json',
      params: [
        { name: 'charset', value: 'UTF-8' },
        { name: 'p', value: 'a;b,"c' },
      ],
    });
    expect(parseMediaType('application/vnd.dev.sigstore.trustedroot+json;version=0.1')?.params).toEqual([
      { name: 'version', value: '0.1' },
    ]);
  });

  it('no media type: no slash, a type or subtype or parameter name that is no token, a parameter with no =', () => {
    for (const text of [
      '',
      'json',
      'application/',
      '/json',
      'application/json/x',
      'a b/json',
      'application/json; charset',
      'application/json; =x',
      'application/json; a b=c',
    ])
      expect(parseMediaType(text), text).toBeUndefined();
  });

  it('application/json with a parameter that does not parse is refused saying so, not that the type is wrong', () => {
    for (const text of ['application/json; charset', 'application/json; =x', 'Application/JSON; a b=c']) {
      const problem = unsupportedMediaType(text, undefined);
      expect(problem?.label, text).toBe('type');
      expect(problem?.message, text).toMatch(/parameter that does not parse/);
    }
    expect(unsupportedMediaType('text/plain; charset', undefined)?.message).toBe(
      'the body must be application/json',
    );
  });

  it('a semicolon inside a quoted parameter value is no parameter boundary (a body is not refused for it)', () => {
    expect(unsupportedMediaType('application/json; p="x;charset=utf-16"', undefined)).toBeUndefined();
    expect(unsupportedMediaType('application/json; p="x"; charset=utf-16', undefined)?.label).toBe('charset');
  });
});
