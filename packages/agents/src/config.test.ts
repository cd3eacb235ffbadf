/** The party's log origin setting: from the file, a flag or the environment, checked as an origin line. */
import { describe, expect, it } from 'vitest';
import { parsePartyArgs, resolvePartyConfig } from './config.js';

const base = { id: 'monitoring', data_dir: '/var/lib/aaps', roster: '/etc/aaps/roster.json' };

describe('log_origin', () => {
  it('is unset by default, and read from the file, a flag or the environment', () => {
    expect(resolvePartyConfig(base, {}, '/etc/aaps').logOrigin).toBeUndefined();
    expect(resolvePartyConfig({ ...base, log_origin: 'aaps.example/log' }, {}).logOrigin).toBe(
      'aaps.example/log',
    );
    const flag = parsePartyArgs(['--log-origin', 'aaps.flag/log'], {});
    expect(resolvePartyConfig(base, flag).logOrigin).toBe('aaps.flag/log');
    const env = parsePartyArgs([], { AAPS_PARTY_LOG_ORIGIN: 'aaps.env/log' });
    expect(resolvePartyConfig({ ...base, log_origin: 'aaps.file/log' }, env).logOrigin).toBe('aaps.env/log');
  });

  it('refuses what is no checkpoint origin line, naming the setting', () => {
    for (const bad of ['', ' leading space', 'two\nlines', 'x'.repeat(257), 'naïve']) {
      const e = (() => {
        try {
          resolvePartyConfig({ ...base, log_origin: bad }, {});
        } catch (x) {
          return x as { fields?: string[] };
        }
        return undefined;
      })();
      expect(e?.fields, JSON.stringify(bad)).toContain('log-origin');
    }
  });
});
