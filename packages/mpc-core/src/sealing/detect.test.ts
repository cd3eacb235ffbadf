import { describe, expect, it } from 'vitest';
import { canonicalize } from '../envelope/canonical.js';
import { ValidationError } from '../errors.js';
import { type DetectorKind, detectSensitive, detectSensitivePaths, MAX_PAYLOAD_DEPTH } from './detect.js';
import { formatPointer, isPointerPrefix } from './pointer.js';
import {
  alertmanagerWebhook,
  CANARY,
  deployment,
  dockerConfigSecret,
  k8sSecret,
  logExcerpt,
  ORDINARY_VALUES,
} from './test-helpers/payloads.js';

/** Every pointer in `doc` at a string that contains `needle`. */
function pointersContaining(doc: unknown, needle: string): string[] {
  const out: string[] = [];
  const go = (node: unknown, segs: (string | number)[]) => {
    if (typeof node === 'string' && node.includes(needle)) out.push(formatPointer(segs));
    else if (Array.isArray(node))
      node.forEach((x, i) => {
        go(x, [...segs, i]);
      });
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) go(v, [...segs, k]);
  };
  go(doc, []);
  return out;
}

const incident = {
  secret: k8sSecret,
  regcred: dockerConfigSecret,
  deployment,
  alert: alertmanagerWebhook,
  logs: logExcerpt,
};
const policy = { paths: ['/logs/patient/name'] };

describe('detectSensitive', () => {
  it('finds every planted canary (no false negatives on the listed kinds)', () => {
    const paths = detectSensitivePaths(incident, policy);
    for (const [name, canary] of Object.entries(CANARY)) {
      const at = pointersContaining(incident, canary);
      expect(at.length, name).toBeGreaterThan(0);
      for (const p of at)
        expect(
          paths.some((d) => isPointerPrefix(d, p)),
          `${name} at ${p}`,
        ).toBe(true);
    }
  });

  it('names the detector that fired', () => {
    const kinds = new Map(detectSensitive(incident, policy).map((d) => [d.path, d.kind]));
    const expected: [string, DetectorKind][] = [
      ['/secret/data/password', 'k8s-secret'],
      ['/secret/data/username', 'k8s-secret'],
      ['/secret/stringData/api-key', 'k8s-secret'],
      ['/secret/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration', 'k8s-secret'],
      ['/regcred/data/.dockerconfigjson', 'k8s-secret'],
      ['/deployment/spec/template/spec/containers/0/env/0/value', 'env'],
      ['/deployment/spec/template/spec/containers/0/env/1/value', 'env'],
      ['/deployment/spec/template/spec/containers/0/args/2', 'key-value'],
      ['/deployment/spec/template/spec/containers/0/command/2', 'key-value'],
      ['/alert/alerts/0/annotations/description', 'bearer'],
      ['/alert/alerts/0/annotations/last_log', 'url-credentials'],
      ['/logs/lines/1', 'key-value'],
      ['/logs/lines/2', 'github-token'],
      ['/logs/lines/3', 'github-token'],
      ['/logs/lines/4', 'aws-key'],
      ['/logs/lines/5', 'slack-token'],
      ['/logs/lines/6', 'slack-token'],
      ['/logs/lines/7', 'jwt'],
      ['/logs/lines/8', 'bearer'],
      ['/logs/key_file', 'pem'],
      ['/logs/aws/aws_access_key_id', 'aws-key'],
      ['/logs/aws/aws_secret_access_key', 'credential-key'],
      ['/logs/oauth/clientSecret', 'credential-key'],
      ['/logs/db/password', 'credential-key'],
      ['/logs/patient/name', 'policy'],
    ];
    for (const [path, kind] of expected) expect(kinds.get(path), path).toBe(kind);
    expect([...kinds.keys()].sort()).toEqual(expected.map(([p]) => p).sort());
  });

  it('leaves ordinary fields alone: names, namespaces, image refs, digests, references to secrets', () => {
    const paths = detectSensitivePaths(incident, policy);
    for (const p of [
      '/secret/metadata/name',
      '/secret/metadata/namespace',
      '/secret/metadata/uid',
      '/deployment/spec/template/spec/containers/0/image',
      '/deployment/spec/template/spec/containers/0/env/2/valueFrom/secretKeyRef/name',
      '/deployment/spec/template/spec/containers/0/args/0',
      '/deployment/spec/template/spec/volumes/0/secret/secretName',
      '/deployment/spec/template/spec/serviceAccountName',
      '/alert/alerts/0/generatorURL',
      '/alert/groupKey',
      '/logs/lines/0',
      '/logs/lines/9',
      '/logs/ca_bundle',
      '/logs/oauth/tokenUrl',
      '/logs/oauth/tokenExpirationSeconds',
      '/logs/db/passwordSecretName',
    ])
      expect(
        paths.some((d) => isPointerPrefix(d, p)),
        p,
      ).toBe(false);
    const ordinary = Object.fromEntries(ORDINARY_VALUES.map((v, i) => [`field${i}`, v]));
    expect(detectSensitivePaths({ ordinary, list: [...ORDINARY_VALUES] })).toEqual([]);
  });

  it('finds secrets in JSON embedded in a string and in a Secret nested in a list', () => {
    const list = {
      kind: 'List',
      items: [{ kind: 'ConfigMap', data: { LOG_LEVEL: 'info' } }, k8sSecret],
      raw: JSON.stringify({ env: [{ name: 'TOKEN', value: 'x1' }] }),
    };
    expect(detectSensitivePaths(list)).toEqual([
      '/items/1/data/password',
      '/items/1/data/username',
      '/items/1/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration',
      '/items/1/stringData/api-key',
      '/raw',
    ]);
  });

  it('is configurable: detectors can be switched off, paths ignored, key words added', () => {
    const doc = { env: [{ name: 'A', value: 'b' }], note: `token=${CANARY.github}`, ssn: '078-05-1120' };
    expect(detectSensitivePaths(doc, { detectors: ['env'] })).toEqual(['/env/0/value']);
    expect(detectSensitivePaths(doc, { ignore: ['/env/**'] })).toEqual(['/note']);
    expect(detectSensitivePaths(doc, { extraKeyWords: ['ssn'] })).toEqual(['/env/0/value', '/note', '/ssn']);
    expect(detectSensitivePaths(doc, { detectors: [], paths: ['/*/*/name'] })).toEqual(['/env/0/name']);
  });

  it('seals the value of a {name, value} pair whose name names a credential (Argo CD, Helm, headers)', () => {
    const app = {
      kind: 'Application',
      spec: {
        source: {
          repoURL: 'https://github.com/acme/deploy',
          helm: {
            parameters: [
              { name: 'image.tag', value: '1.14.2' },
              { name: 'postgresql.auth.password', value: 'CANARY-helm-pw' },
            ],
          },
        },
      },
      headers: [
        { name: 'X-Api-Key', value: 'CANARY-header-key' },
        { name: 'Accept', value: 'application/json' },
      ],
    };
    expect(detectSensitivePaths(app)).toEqual(['/headers/0/value', '/spec/source/helm/parameters/1/value']);
  });

  it('numbers are secret only under password-like keys, not token counts or sizes', () => {
    const doc = {
      usage: { prompt_tokens: 812, max_tokens: 4096, tokens: 1200 },
      lock: { pin: 4711, otp: 993201, tokenTtl: 60 },
      secretCount: 3,
    };
    expect(detectSensitivePaths(doc)).toEqual(['/lock/otp', '/lock/pin']);
  });

  it('skips placeholders, empty values and values already sealed', () => {
    const doc = {
      password: '$' + '{DB_PASSWORD}',
      token: '',
      secret: { $sealed: 'abc' },
      line: 'password=<redacted> token=***',
      env: [{ name: 'EMPTY', value: '' }],
    };
    expect(detectSensitivePaths(doc)).toEqual([]);
  });

  it.each([
    'xxxxxxxx',
    'XXXX',
    '"***"',
    '$(cat /run/secret)',
    '$DB_PASSWORD',
    '<set me>',
    'None',
    'NULL',
    'redacted',
    'true',
    'False',
  ])('a credential of %j is a placeholder: left in the clear (docs/sealing.md lists it)', (value) => {
    expect(detectSensitivePaths({ password: value })).toEqual([]);
  });

  it.each(['XxXx', 'xX', 'xxxxxxxy', 'nulls', 'truefalse', '**x'])(
    'a credential of %j is no placeholder: sealed',
    (value) => {
      expect(detectSensitivePaths({ password: value })).toEqual(['/password']);
    },
  );

  it('keeps only the outermost path when a policy seals a whole subtree', () => {
    expect(detectSensitivePaths(logExcerpt, { paths: ['/db'] })).toContain('/db');
    expect(detectSensitivePaths(logExcerpt, { paths: ['/db'] })).not.toContain('/db/password');
  });
});

describe('detectSensitive: nesting deeper than JSON a signature can cover (MAX_PAYLOAD_DEPTH)', () => {
  /** `{"a": [[...["x"]...]]}`: the string sits `depth + 1` levels down. */
  const nested = (depth: number) => JSON.parse(`{"a":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`);
  const password = (depth: number) =>
    JSON.parse(`{"a":${'['.repeat(depth - 1)}{"password":"hunter2-secret"}${']'.repeat(depth - 1)}}`);

  it("is the canonicalizer's bound: what detection walks, sealing can canonicalize, and no deeper", () => {
    expect(() => canonicalize(nested(MAX_PAYLOAD_DEPTH - 1))).not.toThrow();
    expect(() => canonicalize(nested(MAX_PAYLOAD_DEPTH))).toThrow(/nested deeper than/);
    expect(detectSensitive(nested(MAX_PAYLOAD_DEPTH - 1))).toEqual([]);
    // A secret at the deepest level allowed is still found.
    const deepest = `/a${'/0'.repeat(MAX_PAYLOAD_DEPTH - 2)}/password`;
    expect(detectSensitivePaths(password(MAX_PAYLOAD_DEPTH - 1))).toEqual([deepest]);
  });

  it.each([
    ['detectSensitive', (p: unknown) => detectSensitive(p)],
    ['detectSensitivePaths', (p: unknown) => detectSensitivePaths(p)],
  ])('%s refuses a payload one level deeper, naming where, and one 10,000 deep (20 KB) alike', (_n, call) => {
    for (const depth of [MAX_PAYLOAD_DEPTH, 10_000]) {
      let error: unknown;
      try {
        call(nested(depth));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('INVALID_ARGUMENT');
      expect((error as ValidationError).fields).toEqual([`/a${'/0'.repeat(MAX_PAYLOAD_DEPTH)}`]);
    }
  });

  it('seals whole a string of embedded JSON nested deeper than it reads (a secret could hide there)', () => {
    /** A JSON array text whose string sits `depth` levels down. */
    const inner = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
    expect(detectSensitive({ config: { note: inner(MAX_PAYLOAD_DEPTH) } })).toEqual([]);
    for (const depth of [MAX_PAYLOAD_DEPTH + 1, 10_000]) {
      expect(detectSensitive({ config: { note: inner(depth) } })).toEqual([
        { path: '/config/note', kind: 'embedded-json' },
      ]);
    }
  });
});
