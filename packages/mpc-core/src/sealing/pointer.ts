/**
 * JSON Pointers (RFC 6901) over plain JSON values: how sealed fields and policies name a place in
 * an incident payload. `""` is the whole document; `/spec/env/0/value` is one value; `~1` escapes
 * `/` and `~0` escapes `~` inside a key. Patterns in policies may use `*` for any one segment and
 * `**` for any number of segments (including none).
 */
import { ValidationError } from '../errors.js';
import { assertString } from '../guards.js';

export type JsonPointer = string;

const escapeSegment = (seg: string) => seg.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapeSegment = (seg: string) => seg.replace(/~1/g, '/').replace(/~0/g, '~');

/** Segments to a pointer. */
export function formatPointer(segments: readonly (string | number)[]): JsonPointer {
  if (!Array.isArray(segments) || segments.some((s) => typeof s !== 'string' && typeof s !== 'number')) {
    throw new ValidationError('INVALID_ARGUMENT', 'segments: expected an array of strings and numbers', [
      'segments',
    ]);
  }
  return segments.map((s) => `/${escapeSegment(String(s))}`).join('');
}

/** A pointer to its segments; refuses anything that is not an RFC 6901 pointer. */
export function parsePointer(pointer: string, field = 'path'): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/')))
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a JSON pointer ("/a/0/b")`, [field]);
  if (/~[^01]|~$/.test(pointer))
    throw new ValidationError('INVALID_ARGUMENT', `${field}: bad "~" escape in JSON pointer`, [field]);
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapeSegment);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function step(node: unknown, seg: string): { found: boolean; value?: unknown } {
  if (Array.isArray(node)) {
    if (!/^(?:0|[1-9][0-9]*)$/.test(seg)) return { found: false };
    const i = Number(seg);
    return i < node.length ? { found: true, value: node[i] } : { found: false };
  }
  if (isObject(node) && Object.hasOwn(node, seg)) return { found: true, value: node[seg] };
  return { found: false };
}

/** The value at `pointer`, or `undefined` when nothing is there. */
export function getAtPointer(doc: unknown, pointer: JsonPointer): { found: boolean; value?: unknown } {
  let node: unknown = doc;
  for (const seg of parsePointer(pointer)) {
    const r = step(node, seg);
    if (!r.found) return { found: false };
    node = r.value;
  }
  return { found: true, value: node };
}

/** Replace the value at an existing `pointer` in place (the caller owns `doc`). */
export function setAtPointer(doc: unknown, pointer: JsonPointer, value: unknown): void {
  const segs = parsePointer(pointer);
  if (segs.length === 0)
    throw new ValidationError('INVALID_ARGUMENT', 'path: the whole document cannot be replaced', ['path']);
  let node: unknown = doc;
  for (const seg of segs.slice(0, -1)) {
    const r = step(node, seg);
    if (!r.found) throw new ValidationError('NOT_FOUND', `path ${pointer}: nothing there`, [pointer]);
    node = r.value;
  }
  const last = segs[segs.length - 1]!;
  if (!step(node, last).found)
    throw new ValidationError('NOT_FOUND', `path ${pointer}: nothing there`, [pointer]);
  if (Array.isArray(node)) node[Number(last)] = value;
  else (node as Record<string, unknown>)[last] = value;
}

/** Whether `pointer` matches `pattern`, where a pattern segment `*` matches one segment, `**` any run. */
export function matchesPointerPattern(pattern: JsonPointer, pointer: JsonPointer): boolean {
  const p = parsePointer(pattern, 'pattern');
  const s = parsePointer(pointer);
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length;
    if (p[i] === '**') return go(i + 1, j) || (j < s.length && go(i, j + 1));
    return j < s.length && (p[i] === '*' || p[i] === s[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

/** Whether `ancestor` is `pointer` itself or one of its ancestors. */
export function isPointerPrefix(ancestor: JsonPointer, pointer: JsonPointer): boolean {
  assertString(ancestor, 'ancestor');
  assertString(pointer, 'pointer');
  return pointer === ancestor || pointer.startsWith(`${ancestor}/`);
}

/**
 * Sorted, de-duplicated pointers with every pointer under another one dropped (sealing the
 * ancestor already covers it).
 */
export function outermostPointers(pointers: Iterable<JsonPointer>): JsonPointer[] {
  const list =
    pointers !== null && typeof pointers === 'object' && Symbol.iterator in pointers
      ? [...pointers]
      : undefined;
  if (list === undefined || list.some((p) => typeof p !== 'string')) {
    throw new ValidationError('INVALID_ARGUMENT', 'pointers: expected an iterable of pointers', ['pointers']);
  }
  const sorted = [...new Set(list)].sort();
  const out: JsonPointer[] = [];
  for (const p of sorted) if (!out.some((a) => isPointerPrefix(a, p))) out.push(p);
  return out;
}
