/**
 * The stream splitter's laws: how a stream is cut into chunks never changes what it splits into;
 * NDJSON and pretty-printed objects come back byte for byte; an object over the limit is reported
 * with its exact size wherever the chunks cut it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonStreamSplitter, type StreamItem, splitJsonValues } from './json-stream.js';

const tooLarge = (size: number) => `${size} bytes, over the limit`;

/** Split `bytes` pushed in pieces cut at `cuts` (offsets, any order). */
function splitInChunks(bytes: Uint8Array, cuts: number[], limit = Number.MAX_SAFE_INTEGER): StreamItem[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const splitter = new JsonStreamSplitter(limit, tooLarge);
  const out: StreamItem[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    // Each chunk is a copy in memory of its own, as a stream delivers it.
    out.push(...splitter.push(bytes.slice(from, to)));
    from = to;
  }
  out.push(...splitter.end());
  return out;
}

/** Items as comparable values: an error, or the object's offsets and text. */
const shown = (items: StreamItem[]) =>
  items.map((i) =>
    'error' in i ? i : { start: i.start, end: i.end, text: Buffer.from(i.bytes).toString() },
  );

/** Pieces a stream is made of: objects (compact or pretty), whitespace, stray text, broken objects. */
const piece = fc.oneof(
  fc.object().map((o) => JSON.stringify(o)),
  fc.object().map((o) => JSON.stringify(o, null, 2)),
  fc.constantFrom(' ', '\n', '\r\n', '\t', '\n\n'),
  fc.constantFrom('xx', 'null', ']', '\ufeff', '"a{b}"'),
  fc.object().map((o) => JSON.stringify({ cut: o }).slice(0, -1)),
  fc.constantFrom('{"a":"raw\nnewline"}', '{"a":"\\\\"}', '{"a":"\\"}"}', '{"a":{\n{"b":1}', '{"ü":"{é}"}'),
);

describe('JsonStreamSplitter', () => {
  it('splits the same however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(piece, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bom, pieces, cuts) => {
          const bytes = Buffer.from(`${bom ? '\ufeff' : ''}${pieces.join('\n')}`);
          expect(shown(splitInChunks(bytes, cuts))).toEqual(shown(splitJsonValues(bytes)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives back every object of an NDJSON or pretty stream byte for byte, cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.object(), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 30 }),
        (objects, pretty, cuts) => {
          const texts = objects.map((o) => JSON.stringify(o, null, pretty ? 2 : undefined));
          const items = splitInChunks(Buffer.from(`${texts.join('\n')}\n`), cuts);
          expect(items.map((i) => ('error' in i ? i : Buffer.from(i.bytes).toString()))).toEqual(texts);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports an object over the limit with its exact size, and keeps splitting after it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 400 }), fc.array(fc.nat(), { maxLength: 40 }), (pad, cuts) => {
        const big = JSON.stringify({ pad: 'x'.repeat(pad) });
        const text = `{"a":1}\n${big}\n{"b":2}\n`;
        const items = splitInChunks(Buffer.from(text), cuts, 50);
        expect(items.map((i) => ('error' in i ? i.error : Buffer.from(i.bytes).toString()))).toEqual([
          '{"a":1}',
          tooLarge(Buffer.byteLength(big)),
          '{"b":2}',
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('tells a stream cut inside a byte-order mark or an object from one that ends cleanly', () => {
    expect(splitInChunks(Buffer.from([0xef, 0xbb]), [1])).toEqual([{ error: 'stray text at offset 0' }]);
    expect(shown(splitInChunks(Buffer.from('\ufeff{"a":1}'), [1, 2, 3]))).toEqual([
      { start: 3, end: 10, text: '{"a":1}' },
    ]);
    expect(splitInChunks(Buffer.from('{"a":"\\'), [6])).toEqual([
      { error: 'truncated bundle at end of input' },
    ]);
    // A line that starts with { ends the object before it unfinished, also when a chunk ends
    // right after the newline or right after the unfinished object's last brace.
    for (const cut of [[7], [6], [8], []])
      expect(
        splitInChunks(Buffer.from('{"a":{\n{"b":1}'), cut).map((i) => ('error' in i ? i.error : i.start)),
      ).toEqual(['unfinished bundle at offset 0 (resumed at the next line that starts with {)', 7]);
    // An escape that ends one chunk escapes the quote that starts the next.
    expect(shown(splitInChunks(Buffer.from('{"a":"\\"}"}'), [7]))).toEqual([
      { start: 0, end: 11, text: '{"a":"\\"}"}' },
    ]);
  });
});
