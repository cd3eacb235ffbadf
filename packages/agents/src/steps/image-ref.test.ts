import { describe, expect, it } from 'vitest';
import { maybeSameImage, normaliseRepository, splitImageRef } from './image-ref.js';

const X = `sha256:${'ab'.repeat(32)}`;
const Y = `sha256:${'cd'.repeat(32)}`;

describe('image references', () => {
  it('splits repository, tag and digest, a registry port being no tag', () => {
    expect(splitImageRef(`registry:5000/org/app:1.2@${X}`)).toEqual({
      repository: 'registry:5000/org/app',
      tag: '1.2',
      digest: X,
    });
    expect(splitImageRef('registry:5000/org/app')).toEqual({ repository: 'registry:5000/org/app' });
  });

  it("fills in Docker Hub's defaults", () => {
    expect(normaliseRepository('nginx')).toBe('docker.io/library/nginx');
    expect(normaliseRepository('bitnami/redis')).toBe('docker.io/bitnami/redis');
    expect(normaliseRepository('index.docker.io/library/nginx')).toBe('docker.io/library/nginx');
    expect(normaliseRepository('localhost/app')).toBe('localhost/app');
    expect(normaliseRepository('reg.example:5000/shop/web')).toBe('reg.example:5000/shop/web');
    // 443 is the HTTPS port a registry is reached on anyway: the same host, however it is spelt.
    expect(normaliseRepository('Reg.Example:443/shop/web')).toBe('reg.example/shop/web');
    expect(normaliseRepository('docker.io:443/nginx')).toBe('docker.io/library/nginx');
  });

  it('the same digest is the same image under any name or tag; different digests are different', () => {
    expect(maybeSameImage(`reg:5000/shop/web@${X}`, `reg:5000/shop/web:1.5.0@${X}`)).toBe(true);
    expect(maybeSameImage(`reg:5000/shop/web@${X}`, `reg:5000/shop/web:1.5.0@${Y}`)).toBe(false);
  });

  it('without a digest on one side, only another repository or another tag tells them apart', () => {
    expect(maybeSameImage('nginx:1.27', `docker.io/library/nginx:1.27@${X}`)).toBe(true);
    expect(maybeSameImage('nginx:1.27', `docker.io/library/nginx@${X}`)).toBe(true);
    expect(maybeSameImage('nginx', `nginx:1.26@${X}`)).toBe(true);
    expect(maybeSameImage('nginx:1.27', `nginx:1.26@${X}`)).toBe(false);
    expect(maybeSameImage('nginx:1.27', `docker.io/org/nginx:1.27@${X}`)).toBe(false);
    expect(maybeSameImage('reg.example:443/shop/web:1.5.0', `reg.example/shop/web:1.5.0@${X}`)).toBe(true);
  });
});
