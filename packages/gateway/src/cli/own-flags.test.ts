import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { takeOwnFlags } from './own-flags.js';

const spec = { switches: ['json'], values: ['reason'], lists: ['field'] };

describe('takeOwnFlags', () => {
  it('takes switches, values (both spellings, the last counts) and repeated flags; leaves the rest in order', () => {
    const f = takeOwnFlags(
      [
        '--url',
        'http://x',
        '--field',
        'a',
        '--json',
        '--reason=first',
        '--field=b',
        '--reason',
        'second',
        'E',
      ],
      spec,
    );
    expect(f.rest).toEqual(['--url', 'http://x', 'E']);
    expect([...f.switches]).toEqual(['json']);
    expect(f.values.get('reason')).toBe('second');
    expect(f.lists.get('field')).toEqual(['a', 'b']);
  });

  it('refuses a value flag without a value, naming it; a switch given a value is left to the config parser', () => {
    for (const argv of [
      ['--reason'],
      ['--reason='],
      ['--field'],
      ['--reason', '--json'],
      ['--field', '--x'],
    ]) {
      expect(() => takeOwnFlags(argv, spec)).toThrow(ValidationError);
      expect(() => takeOwnFlags(argv, spec)).toThrow(/^--(reason|field): needs a value$/);
    }
    expect(takeOwnFlags(['--json=yes'], spec).rest).toEqual(['--json=yes']);
  });

  it('a value that starts with -- is given inline: --reason=--json', () => {
    const f = takeOwnFlags(['--reason=--json', '--field=--x'], spec);
    expect(f.values.get('reason')).toBe('--json');
    expect(f.lists.get('field')).toEqual(['--x']);
    expect(f.switches.size).toBe(0);
  });
});
