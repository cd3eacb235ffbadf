import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { formatResourceUri, isEvidenceRef, parseResourceUri } from './resource-uri.js';

describe('resource URIs', () => {
  it('parses namespaced and cluster-scoped kinds', () => {
    expect(parseResourceUri('configmap://shop/app-config')).toEqual({
      kind: 'configmap',
      namespace: 'shop',
      name: 'app-config',
    });
    expect(parseResourceUri('clusterrole://view')).toEqual({ kind: 'clusterrole', name: 'view' });
    expect(formatResourceUri(parseResourceUri('deployment://shop/web'))).toBe('deployment://shop/web');
  });

  it.each([
    'configmap://app-config', // namespaced kind without namespace
    'clusterrole://ns/view', // cluster-scoped with namespace
    'widget://shop/x', // unknown kind
    'configmap://shop/App_Config', // not a Kubernetes name
    'configmap://shop/a/b',
    42,
  ])('rejects %j, naming the field', (uri) => {
    try {
      parseResourceUri(uri, 'target');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).fields).toEqual(['target']);
    }
  });

  it('evidence references are URIs', () => {
    expect(isEvidenceRef('log://pod-xyz')).toBe(true);
    expect(isEvidenceRef('sbom://app-image:sha256-abc')).toBe(true);
    expect(isEvidenceRef('pod-xyz')).toBe(false);
    expect(isEvidenceRef('log://has space')).toBe(false);
  });
});
