/** Duplicate keys in JSON text: which key, and where (the dot path a config error names). */
import { describe, expect, it } from 'vitest';
import { findDuplicate, findDuplicateKey } from './json-keys.js';

describe('findDuplicateKey', () => {
  it('finds a key twice in one object, escapes decoded, and nothing else', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeUndefined();
    expect(findDuplicateKey('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(findDuplicateKey('{"x":{"a":1, "a" :2}}')).toBe('a');
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(findDuplicateKey('{"a":"\\"a\\":","b":"a:","c":["a","a"]}')).toBeUndefined();
    expect(findDuplicateKey('{"k\\\\":1,"k\\\\":2}')).toBe('k\\');
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    expect(findDuplicateKey(`{${many.join(',')}}`)).toBeUndefined();
    expect(findDuplicateKey(`{${many.join(',')},"k7":0}`)).toBe('k7');
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
