/** `negotiate`: RFC 9110 §12.5.1 ranking of the media types a route offers against `Accept`. */
import { describe, expect, it } from 'vitest';
import { negotiate, parseAccept } from './accept.js';

const BUNDLE = 'application/vnd.aaps.evidence.v1+json';
const OFFERS = [BUNDLE, 'application/json', 'application/cbor'] as const;
const pick = (accept: string | undefined) => negotiate(accept, OFFERS);

describe('negotiate', () => {
  it('no Accept, an empty one, or one with nothing readable: the first offer', () => {
    expect(pick(undefined)).toBe(BUNDLE);
    expect(pick('')).toBe(BUNDLE);
    expect(pick(' , ,')).toBe(BUNDLE);
    expect(pick('garbage, also/bad/too, */json')).toBe(BUNDLE);
  });

  it('*/* and application/* accept every offer: the first offer, unless a weight says otherwise', () => {
    expect(pick('*/*')).toBe(BUNDLE);
    expect(pick('application/*')).toBe(BUNDLE);
    expect(pick('application/cbor;q=0.9, */*')).toBe(BUNDLE);
    expect(pick('*/*;q=0.5, application/cbor')).toBe('application/cbor');
    expect(pick('application/*;q=0.2, application/cbor;q=0.3')).toBe('application/cbor');
  });

  it('the most specific range decides an offer’s weight: q=0 there makes it not acceptable', () => {
    expect(pick(`${BUNDLE};q=0, application/json;q=0, */*`)).toBe('application/cbor');
    expect(pick('application/cbor;q=0, */*')).toBe(BUNDLE);
    expect(pick('application/*;q=0, application/cbor')).toBe('application/cbor');
    // A type the client names at q=0 stays refused whatever a wider range says.
    expect(pick('application/cbor;q=0, application/*;q=1')).toBe(BUNDLE);
  });

  it('nothing offered acceptable: undefined (the route answers 406)', () => {
    expect(pick('text/html')).toBeUndefined();
    expect(pick('text/*, image/png;q=0.9')).toBeUndefined();
    expect(pick('*/*;q=0')).toBeUndefined();
    expect(pick(`application/*;q=0`)).toBeUndefined();
    expect(pick(`${BUNDLE};q=0, application/json;q=0, application/cbor;q=0`)).toBeUndefined();
  });

  it('equal weights: the more specific range, then the one listed first, then the route’s order', () => {
    expect(pick('*/*, application/cbor')).toBe('application/cbor');
    expect(pick('application/cbor, application/json')).toBe('application/cbor');
    expect(pick('application/json, application/cbor')).toBe('application/json');
    expect(pick('application/cbor;q=0.5, application/json;q=0.5')).toBe('application/cbor');
  });

  it('names are case-insensitive; charset is no part of a match; other parameters must be offered', () => {
    expect(pick('Application/CBOR')).toBe('application/cbor');
    expect(pick('application/json; charset=utf-8, application/cbor;q=0.1')).toBe('application/json');
    expect(pick('application/cbor;level=2')).toBeUndefined();
    expect(negotiate('application/x;version=0.1', ['application/x;version=0.1'])).toBe(
      'application/x;version=0.1',
    );
    expect(negotiate('application/x;version=0.2', ['application/x;version=0.1'])).toBeUndefined();
  });

  it('a weight that is no RFC 9110 qvalue drops its element; Q is read as q', () => {
    expect(pick('application/cbor;q=2, application/json;q=0.5')).toBe('application/json');
    expect(pick('application/cbor;q=0.1234, application/json;q=0.5')).toBe('application/json');
    expect(pick('application/cbor;Q=0.9, application/json;q=0.5')).toBe('application/cbor');
    expect(pick('application/cbor;q=1.000, application/json;q=0.999')).toBe('application/cbor');
  });

  it('quoted parameter values may hold commas and semicolons', () => {
    const ranges = parseAccept('application/x;p="a,b;c", application/cbor;q=0');
    expect(ranges.map((r) => [r.type, r.subtype, r.quality, [...r.params]])).toEqual([
      ['application', 'x', 1000, [['p', 'a,b;c']]],
      ['application', 'cbor', 0, []],
    ]);
  });
});
