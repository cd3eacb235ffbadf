/**
 * Values a hostile JSON (or JS) caller can put where a number or string belongs, that cannot print:
 * `String(v)` and a template literal throw a `TypeError` on each.
 */
export const UNPRINTABLE: readonly [string, () => unknown][] = [
  ['{"toString":0,"valueOf":0} (JSON)', () => JSON.parse('{"toString":0,"valueOf":0}')],
  ['Object.create(null)', () => Object.create(null)],
  ['[Object.create(null)]', () => [Object.create(null)]],
  ['Symbol()', () => Symbol('x')],
];
