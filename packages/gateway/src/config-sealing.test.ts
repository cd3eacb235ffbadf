import { describe, expect, it } from 'vitest';
import { takeUnsealFlags } from './cli/unseal.js';
import { parseGatewayConfig, sealingPolicy } from './config.js';

const ok = (r: ReturnType<typeof parseGatewayConfig>) => {
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('sealing settings', () => {
  it('seal with every detector when nothing is set', () => {
    expect(sealingPolicy(ok(parseGatewayConfig([], {})))).toEqual({});
  });

  it('take detectors, paths, ignores and key words from flags or the environment', () => {
    const c = ok(
      parseGatewayConfig(['--seal-detectors', 'env,pem', '--seal-paths', '/payload/metadata/patient/**'], {
        AAPS_SEAL_IGNORE: '/payload/metadata/labels/*',
        AAPS_SEAL_KEY_WORDS: 'ssn,iban',
      }),
    );
    expect(sealingPolicy(c)).toEqual({
      detectors: ['env', 'pem'],
      paths: ['/payload/metadata/patient/**'],
      ignore: ['/payload/metadata/labels/*'],
      extraKeyWords: ['ssn', 'iban'],
    });
  });

  it('turn off with --sealing false or AAPS_SEALING=0', () => {
    expect(sealingPolicy(ok(parseGatewayConfig(['--sealing=false'], {})))).toBeUndefined();
    expect(sealingPolicy(ok(parseGatewayConfig([], { AAPS_SEALING: '0' })))).toBeUndefined();
  });

  it('name an unknown detector and a path that is not a pointer', () => {
    const r = parseGatewayConfig(['--seal-detectors', 'env,telepathy'], { AAPS_SEAL_PATHS: 'payload/x' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.some((e) => e.startsWith('--seal-detectors: telepathy'))).toBe(true);
      expect(r.errors.some((e) => e.startsWith('AAPS_SEAL_PATHS:'))).toBe(true);
    }
  });
});

describe('aaps unseal flags', () => {
  it('collect repeated --field, leave the rest for the config parser', () => {
    const f = takeUnsealFlags([
      'ev',
      '--field',
      '/payload/a',
      '--field=abc',
      '--reason',
      'rotate',
      '--out',
      'x.json',
      '--json',
      '--data-dir',
      'd',
    ]);
    expect(f).toEqual({
      rest: ['ev', '--data-dir', 'd'],
      fields: ['/payload/a', 'abc'],
      reason: 'rotate',
      out: 'x.json',
      json: true,
      trustServedRoot: false,
    });
    expect(takeUnsealFlags(['ev', '--trust-served-root']).trustServedRoot).toBe(true);
  });

  it('refuse a flag without its value, naming it', () => {
    expect(() => takeUnsealFlags(['ev', '--field'])).toThrowError(
      expect.objectContaining({ fields: ['field'] }),
    );
  });
});
