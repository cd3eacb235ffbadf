/**
 * What a wrapped error says beyond its wrapper: the innermost `Error` of its cause chain (none when
 * it has no cause, or the chain ends in something else; a looping chain ends), and the first line
 * of a message.
 */
import { describe, expect, it } from 'vitest';
import { firstMessageLine, innermostCause, ValidationError } from './errors.js';

/** As LevelDB reports a database it cannot open: its own error wrapping the I/O error. */
const io = Object.assign(new Error('IO error: lock /tmp/db/LOCK: already held by process'), {
  code: 'LEVEL_IO_ERROR',
});
const failedToOpen = new Error('Database failed to open', { cause: io });

describe('innermostCause', () => {
  it('follows the chain to its end', () => {
    expect(innermostCause(failedToOpen)).toBe(io);
    const wrapped = new ValidationError('UNAVAILABLE', 'cannot open the database', [], {
      cause: failedToOpen,
    });
    expect(innermostCause(wrapped)).toBe(io);
  });

  it('is undefined with no cause, or a chain that ends in something other than an Error', () => {
    expect(innermostCause(io)).toBeUndefined();
    expect(innermostCause(new Error('wrapper', { cause: 'a string' }))).toBeUndefined();
    expect(innermostCause(new Error('wrapper', { cause: failedToOpen.message }))).toBeUndefined();
    for (const thrown of [undefined, null, 'text', 7, {}]) expect(innermostCause(thrown)).toBeUndefined();
  });

  it('ends on a chain that loops', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(innermostCause(new Error('top', { cause: a }))).toBe(a);
    const self = new Error('self');
    self.cause = self;
    expect(innermostCause(self)).toBeUndefined();
  });
});

describe('firstMessageLine', () => {
  it("takes an Error's message, else the thrown value as text, up to its first line break", () => {
    expect(firstMessageLine(new Error('no space left\n    at write (fs.js:1)'))).toBe('no space left');
    expect(firstMessageLine(io)).toBe(io.message);
    expect(firstMessageLine('two\nlines')).toBe('two');
    expect(firstMessageLine(7)).toBe('7');
    expect(firstMessageLine(new Error(''))).toBe('');
  });
});
