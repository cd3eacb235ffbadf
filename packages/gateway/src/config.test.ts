import { describe, expect, it } from 'vitest';
import { GATEWAY_DEFAULTS, parseGatewayConfig, SETTINGS } from './config.js';

const ok = (r: ReturnType<typeof parseGatewayConfig>) => {
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('parseGatewayConfig', () => {
  it('runs with nothing set', () => {
    const c = ok(parseGatewayConfig([], {}));
    expect(c).toMatchObject({
      port: 8080,
      dataDir: '.aaps',
      executor: 'dry-run',
      threshold: 3,
      parties: 5,
      local: false,
    });
    expect(c.apiToken).toBeUndefined();
  });

  it('aaps up takes a directory of per-party policies by flag or environment', () => {
    expect(ok(parseGatewayConfig(['--party-policy-dir', '/etc/aaps/policies'], {})).partyPolicyDir).toBe(
      '/etc/aaps/policies',
    );
    expect(ok(parseGatewayConfig([], { AAPS_PARTY_POLICY_DIR: '/p' })).partyPolicyDir).toBe('/p');
    expect(ok(parseGatewayConfig([], {})).partyPolicyDir).toBeUndefined();
  });

  it('--tokens-file by flag, environment or config file key', () => {
    expect(ok(parseGatewayConfig(['--tokens-file', '/etc/aaps/tokens.json'], {})).tokensFile).toBe(
      '/etc/aaps/tokens.json',
    );
    expect(ok(parseGatewayConfig([], { AAPS_TOKENS_FILE: '/t.json' })).tokensFile).toBe('/t.json');
    expect(ok(parseGatewayConfig([], {}, { 'tokens-file': 'f.json' })).tokensFile).toBe('f.json');
    expect(ok(parseGatewayConfig([], {})).tokensFile).toBeUndefined();
  });

  it('--valid-for is at most 86400, the longest approval the parties accept', () => {
    expect(ok(parseGatewayConfig(['--valid-for', '86400'], {})).validFor).toBe(86400);
    const r = parseGatewayConfig(['--valid-for', '86401'], {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([expect.stringMatching(/^--valid-for:/)]);
    expect(parseGatewayConfig([], { AAPS_APPROVAL_VALID_FOR: '172800' }).ok).toBe(false);
  });

  it('--recurrence-window-seconds: default an hour, 0 turns it off, at most a week', () => {
    expect(ok(parseGatewayConfig([], {})).recurrenceWindowSeconds).toBe(3600);
    expect(ok(parseGatewayConfig([], { AAPS_RECURRENCE_WINDOW_SECONDS: '0' })).recurrenceWindowSeconds).toBe(
      0,
    );
    const over = parseGatewayConfig(['--recurrence-window-seconds', '604801'], {});
    expect(over.ok).toBe(false);
  });

  it('stream and connection caps: defaults 1000 and 100 streams, connections from the fd limit unless given', () => {
    const d = ok(parseGatewayConfig([], {}));
    expect([d.maxEventStreams, d.maxEventStreamsPerToken]).toEqual([1000, 100]);
    expect([d.maxConnections, d.maxConnectionsPerAddress]).toEqual([undefined, undefined]);
    const c = ok(
      parseGatewayConfig(['--max-event-streams', '50', '--max-connections', '400'], {
        AAPS_MAX_EVENT_STREAMS_PER_TOKEN: '5',
        AAPS_MAX_CONNECTIONS_PER_ADDRESS: '40',
      }),
    );
    expect([
      c.maxEventStreams,
      c.maxEventStreamsPerToken,
      c.maxConnections,
      c.maxConnectionsPerAddress,
    ]).toEqual([50, 5, 400, 40]);
    const zero = parseGatewayConfig(['--max-event-streams-per-token', '0', '--max-connections', '0'], {});
    expect(zero.ok).toBe(false);
    if (!zero.ok)
      expect(zero.errors).toEqual([
        expect.stringMatching(/^--max-event-streams-per-token:/),
        expect.stringMatching(/^--max-connections:/),
      ]);
  });

  it('--max-runs: default 256, at least 1', () => {
    expect(ok(parseGatewayConfig([], {})).maxRuns).toBe(256);
    expect(ok(parseGatewayConfig(['--max-runs', '8'], {})).maxRuns).toBe(8);
    expect(ok(parseGatewayConfig([], { AAPS_MAX_RUNS: '1' })).maxRuns).toBe(1);
    const zero = parseGatewayConfig(['--max-runs', '0'], {});
    expect(zero.ok).toBe(false);
    if (!zero.ok) expect(zero.errors).toEqual([expect.stringMatching(/^--max-runs:/)]);
  });

  it('a relative path in the config file is relative to the file; from a flag or env, to the current directory', () => {
    const file = { 'data-dir': 'state', roster: '/etc/aaps/roster.json', 'tokens-file': './tokens.json' };
    const fromFile = ok(parseGatewayConfig([], {}, file, '/srv/aaps'));
    expect(fromFile.dataDir).toBe('/srv/aaps/state');
    expect(fromFile.roster).toBe('/etc/aaps/roster.json');
    expect(fromFile.tokensFile).toBe('/srv/aaps/tokens.json');
    // Not a path: taken as written.
    expect(ok(parseGatewayConfig([], {}, { 'log-origin': 'x.example/log' }, '/srv/aaps')).logOrigin).toBe(
      'x.example/log',
    );
    const fromFlag = ok(
      parseGatewayConfig(['--data-dir', 'state'], { AAPS_ROSTER: 'r.json' }, file, '/srv/aaps'),
    );
    expect(fromFlag.dataDir).toBe('state');
    expect(fromFlag.roster).toBe('r.json');
  });

  it('--url: one base URL, trailing slashes gone; a query, fragment or credentials refused without repeating them', () => {
    for (const [given, base] of [
      ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
      ['http://gw.example:8080///', 'http://gw.example:8080'],
      ['https://gw.example/aaps/', 'https://gw.example/aaps'],
      ['http://[::1]:8080', 'http://[::1]:8080'],
    ] as const)
      expect(ok(parseGatewayConfig(['--url', given], {})).url, given).toBe(base);
    expect(ok(parseGatewayConfig([], { AAPS_URL: 'http://gw:1/' })).url).toBe('http://gw:1');
    for (const bad of [
      'http://gw:1/?x=1',
      'http://gw:1/#top',
      'http://gw:1?',
      'ftp://gw:1',
      'gw:8080',
      'not a url',
      'http://operator:s3cret-pw@gw:1',
      'http://s3cret-token@gw:1/',
    ]) {
      const r = parseGatewayConfig(['--url', bad], {});
      expect(r.ok, bad).toBe(false);
      if (r.ok) continue;
      expect(r.errors, bad).toEqual([expect.stringMatching(/^--url: /)]);
      expect(r.errors[0]).not.toMatch(/s3cret|operator/);
    }
  });

  it('flag beats env beats file beats default', () => {
    const file = { port: 7000, cluster: 'file', 'log-origin': 'file.example/log' };
    const env = { AAPS_PORT: '7100', AAPS_CLUSTER: 'env' };
    const c = ok(parseGatewayConfig(['--port', '7200'], env, file));
    expect(c.port).toBe(7200);
    expect(c.cluster).toBe('env');
    expect(c.logOrigin).toBe('file.example/log');
    expect(c.maxBodyBytes).toBe(GATEWAY_DEFAULTS.maxBodyBytes);
  });

  it('every setting has a flag and an environment variable', () => {
    const flags = new Set(SETTINGS.map((s) => s.flag));
    const envs = new Set(SETTINGS.map((s) => s.env));
    expect(flags.size).toBe(SETTINGS.length);
    expect(envs.size).toBe(SETTINGS.length);
    expect([...envs].every((e) => e.startsWith('AAPS_'))).toBe(true);
  });

  it('returns every error at once, naming where each came from', () => {
    const r = parseGatewayConfig(
      ['--port', 'x', '--bogus', '--executor=gitops', '--threshold'],
      { AAPS_THRESHOLD: '9', AAPS_LOCAL: 'maybe' },
      { nope: 1 },
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--port:/),
        expect.stringMatching(/^--bogus:/),
        expect.stringMatching(/^--threshold: needs a value/),
        expect.stringMatching(/^AAPS_THRESHOLD:/),
        expect.stringMatching(/^AAPS_LOCAL:/),
        expect.stringMatching(/^config file nope:/),
        expect.stringMatching(/^--gitops-repo-dir: required/),
      ]),
    );
  });

  it('takes a threshold that is a majority of the parties only', () => {
    const two = parseGatewayConfig(['--threshold', '2'], {});
    expect(two).toEqual({
      ok: false,
      errors: ['--threshold: 2 of 5 is not a majority: two quorums must share a party (at least 3)'],
    });
    expect(parseGatewayConfig(['--threshold', '3'], {})).toMatchObject({
      ok: true,
      config: { threshold: 3 },
    });
  });

  it('runs one party per role: another --parties says so, and the threshold is not judged against a count nobody gave', () => {
    expect(parseGatewayConfig(['--parties', '3', '--threshold', '2'], {})).toEqual({
      ok: false,
      errors: [
        '--parties: expected 5 (one party per agent role: monitoring, problem-solver, strategy, quality-assurance, audit)',
      ],
    });
    expect(parseGatewayConfig([], { AAPS_PARTIES: '7' })).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/^AAPS_PARTIES: expected 5 /)],
    });
  });

  it('boolean flags take no value; positional arguments come back in rest', () => {
    const r = parseGatewayConfig(['file.json', '--local', '--approvers', 'alice,bob'], {});
    expect(r).toMatchObject({
      ok: true,
      rest: ['file.json'],
      config: { local: true, approvers: ['alice', 'bob'] },
    });
  });

  it('--controller-namespaces takes namespace names from a flag or the environment, and names one that is none', () => {
    expect(parseGatewayConfig(['--controller-namespaces', 'tekton-pipelines,monitoring'], {})).toMatchObject({
      ok: true,
      config: { controllerNamespaces: ['tekton-pipelines', 'monitoring'] },
    });
    expect(parseGatewayConfig([], { AAPS_CONTROLLER_NAMESPACES: 'tekton-pipelines' })).toMatchObject({
      ok: true,
      config: { controllerNamespaces: ['tekton-pipelines'] },
    });
    expect(parseGatewayConfig(['--controller-namespaces', 'tekton-pipelines,tekton-'], {})).toEqual({
      ok: false,
      errors: ['--controller-namespaces: "tekton-" is no Kubernetes namespace name'],
    });
  });

  it('--controller-namespaces is checked once, as a namespace name: one that starts with a digit is one', () => {
    // DNS-1123 labels may start with a digit (3scale's operator installs into `3scale`).
    expect(parseGatewayConfig(['--controller-namespaces', '3scale,tekton-pipelines'], {})).toMatchObject({
      ok: true,
      config: { controllerNamespaces: ['3scale', 'tekton-pipelines'] },
    });
    expect(parseGatewayConfig(['--controller-namespaces', 'Tekton'], {})).toEqual({
      ok: false,
      errors: ['--controller-namespaces: "Tekton" is no Kubernetes namespace name'],
    });
  });

  it('--controller-namespaces names where a value that is no namespace name came from: the environment, the config file', () => {
    expect(parseGatewayConfig([], { AAPS_CONTROLLER_NAMESPACES: 'tekton-pipelines,Tekton' })).toEqual({
      ok: false,
      errors: ['AAPS_CONTROLLER_NAMESPACES: "Tekton" is no Kubernetes namespace name'],
    });
    expect(parseGatewayConfig([], {}, { 'controller-namespaces': ['tekton-'] })).toEqual({
      ok: false,
      errors: ['config file controller-namespaces: "tekton-" is no Kubernetes namespace name'],
    });
  });

  it('a list setting the config file gives as no list (true, a number, an object, an array of numbers) is refused, not read as an empty list', () => {
    // Read as an empty list, `"seal-detectors": true` turned every secret detector off.
    const why = 'expected a string of values separated by commas, or an array of strings';
    for (const [flag, value] of [
      ['seal-detectors', true],
      ['controller-namespaces', 42],
      ['approvers', { oncall: true }],
      ['seal-paths', 1],
      ['controller-namespaces', ['tekton-pipelines', 3]],
    ] as const) {
      expect(parseGatewayConfig([], {}, { [flag]: value })).toEqual({
        ok: false,
        errors: [`config file ${flag}: ${why}`],
      });
    }
    // Lists as before.
    expect(
      parseGatewayConfig([], {}, { 'seal-detectors': ['bearer'], 'controller-namespaces': '3scale' }),
    ).toMatchObject({ ok: true, config: { sealDetectors: ['bearer'], controllerNamespaces: ['3scale'] } });
  });
});
