import { describe, expect, it } from 'vitest';
import { unsupportedMediaType } from './media-type.js';

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
