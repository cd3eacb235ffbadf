/** Duplicate keys in JSON text: which key, and where (the dot path a config error names). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findDuplicate, parseJsonRefusingRepeats, printableKeyPath } from './json-keys.js';

/** The key `text` gives twice, as {@link parseJsonRefusingRepeats} names it, or `undefined`. */
const repeatedKey = (text: string): string | undefined => {
  const read = parseJsonRefusingRepeats(text);
  return 'repeated' in read ? read.repeated.key : undefined;
};

describe('parseJsonRefusingRepeats', () => {
  it('finds a key twice in one object, escapes decoded, and nothing else', () => {
    expect(repeatedKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeUndefined();
    expect(repeatedKey('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(repeatedKey('{"x":{"a":1, "a" :2}}')).toBe('a');
    expect(repeatedKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(repeatedKey('{"a":"\\"a\\":","b":"a:","c":["a","a"]}')).toBeUndefined();
    expect(repeatedKey('{"k\\\\":1,"k\\\\":2}')).toBe('k\\');
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    expect(repeatedKey(`{${many.join(',')}}`)).toBeUndefined();
    expect(repeatedKey(`{${many.join(',')},"k7":0}`)).toBe('k7');
  });

  it('names a key holding control or bidirectional characters escaped: the line it makes is printed on a terminal', () => {
    // A file someone else wrote (a trusted root, a backup, a roster): its key must not retitle the
    // terminal or reorder the line the reader sees.
    const text = '{"a":{"\\u001b]0;owned\\u0007\\u202ex":1,"\\u001b]0;owned\\u0007\\u202ex":2}}';
    expect(parseJsonRefusingRepeats(text)).toEqual({
      repeated: {
        key: '\u001b]0;owned\u0007\u202ex',
        path: 'a.\u001b]0;owned\u0007\u202ex',
        segments: ['a', '\u001b]0;owned\u0007\u202ex'],
        shown: 'a.\\u001b]0;owned\\u0007\\u202ex',
        problem:
          'a.\\u001b]0;owned\\u0007\\u202ex is given twice in one object (JSON parsers differ on which one counts)',
      },
    });
  });

  it('gives the value of JSON without a repeated key, and the SyntaxError of text that is no JSON', () => {
    expect(parseJsonRefusingRepeats('{"a":[1,{"b":2}],"c":{"b":3}}')).toEqual({
      value: { a: [1, { b: 2 }], c: { b: 3 } },
    });
    const read = parseJsonRefusingRepeats('{"a":1,"a":');
    expect('notJson' in read && read.notJson).toBeInstanceOf(SyntaxError);
  });
});

describe('printableKeyPath', () => {
  it('escapes C0 and C1 controls, DEL, line separators and bidirectional marks, and nothing else', () => {
    expect(printableKeyPath('a\u0000\u001b\u007f\u0085\u061c\u200e\u2028\u202e\u2066 é"\\.[0]')).toBe(
      'a\\u0000\\u001b\\u007f\\u0085\\u061c\\u200e\\u2028\\u202e\\u2066 é"\\.[0]',
    );
  });
});

describe('findDuplicate', () => {
  it('names the dot path of the key given twice, through objects and array indices', () => {
    expect(findDuplicate('{"bounds":{"namespaces":{"allow":["a"],"allow":["*"]}}}')).toEqual({
      key: 'allow',
      path: 'bounds.namespaces.allow',
      segments: ['bounds', 'namespaces', 'allow'],
    });
    expect(findDuplicate('{"a":1,"a":2}')).toEqual({ key: 'a', path: 'a', segments: ['a'] });
    expect(findDuplicate('{"parties":[{"id":"x"},{"id":"y","n":[1,2],"s":"a,b","id":"z"}]}')).toEqual({
      key: 'id',
      path: 'parties.1.id',
      segments: ['parties', 1, 'id'],
    });
    expect(findDuplicate('[[1,2],{"k":[{},{"q":1,"q":2}]}]')).toEqual({
      key: 'q',
      path: '1.k.1.q',
      segments: [1, 'k', 1, 'q'],
    });
    expect(findDuplicate('{"a":{"b":1},"c":{"b":2}}')).toBeUndefined();
  });
});

/** `v` as JSON text, with the first key of the object at `target` given twice: a decoy first, `\u`-escaped. */
function withDuplicate(
  v: unknown,
  target: readonly (string | number)[],
  at: (string | number)[] = [],
): string {
  if (Array.isArray(v)) return `[${v.map((x, i) => withDuplicate(x, target, [...at, i])).join(',')}]`;
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const entries = Object.entries(v);
  const parts = entries.map(([k, x]) => `${JSON.stringify(k)}:${withDuplicate(x, target, [...at, k])}`);
  if (entries.length > 0 && at.length === target.length && at.every((s, i) => s === target[i])) {
    const escaped = [...entries[0]![0]]
      .map((ch) => [...ch].map((_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''))
      .join('');
    parts.unshift(`"${escaped}" : {"decoy":[1,"x"]}`);
  }
  return `{${parts.join(',')}}`;
}

/** The paths of the objects in `v` that have a key. */
function objectPaths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => objectPaths(x, [...at, i]));
  if (typeof v !== 'object' || v === null) return [];
  const entries = Object.entries(v);
  return [...(entries.length > 0 ? [at] : []), ...entries.flatMap(([k, x]) => objectPaths(x, [...at, k]))];
}

describe('findDuplicate over generated JSON', () => {
  it('finds none in JSON.stringify output, compact or indented', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2, 4, '\t'), (v, space) => {
        expect(findDuplicate(JSON.stringify(v, null, space))).toBeUndefined();
      }),
    );
  });

  it('finds a key given twice (the first written escaped) with its path, wherever the object is', () => {
    const withObject = fc
      .jsonValue()
      .map((v) => ({ v, paths: objectPaths(v) }))
      .filter(({ paths }) => paths.length > 0);
    fc.assert(
      fc.property(withObject, fc.nat(), ({ v, paths }, pick) => {
        const target = paths[pick % paths.length]!;
        const text = withDuplicate(v, target);
        expect(() => JSON.parse(text)).not.toThrow();
        const key = Object.keys(
          target.reduce<unknown>((o, s) => (o as Record<string, object>)[s], v) as object,
        )[0]!;
        const segments = [...target, key];
        expect(findDuplicate(text)).toEqual({ key, path: segments.join('.'), segments });
      }),
    );
  });
});
