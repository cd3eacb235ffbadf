import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseGatewayConfig, SETTINGS } from './config.js';

describe('parseGatewayConfig laws', () => {
  it('law: any port given by flag wins over any given by env', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b) => {
        const r = parseGatewayConfig([`--port=${a}`], { AAPS_PORT: String(b) });
        return r.ok && r.config.port === a;
      }),
    );
  });

  it('law: a flag always beats its environment variable, for every string setting', () => {
    const strings = SETTINGS.filter(
      (s) =>
        s.kind.type === 'string' && s.flag !== 'config' && s.flag !== 'log-origin' && s.flag !== 'api-token',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...strings),
        fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/),
        fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/),
        (s, a, b) => {
          const r = parseGatewayConfig([`--${s.flag}=${a}`], { [s.env]: b });
          return r.ok && (r.config as unknown as Record<string, unknown>)[s.key] === a;
        },
      ),
    );
  });
});
