import { describe, expect, it } from 'vitest';
import { parseStoreUrl, redactUrl, withStoreParam } from '../../src/nix/store-url.js';

describe('parseStoreUrl', () => {
  it('splits store settings off the query and reads priority', () => {
    const u = parseStoreUrl('http://a?priority=50&want-mass-query=true');
    expect(u).toMatchObject({
      scheme: 'http',
      base: 'http://a',
      host: 'a',
      port: 80,
      priority: 50,
      params: { priority: '50', 'want-mass-query': 'true' },
    });
  });

  it('keeps credentials for requests and never in display or base', () => {
    const u = parseStoreUrl('https://alice:s3cr%40t@cache.example:8443/nix/?priority=10');
    expect(u.credentials).toEqual({ user: 'alice', password: 's3cr@t' });
    expect(u.display).toBe('https://alice:***@cache.example:8443/nix/?priority=10');
    expect(u.base).toBe('https://cache.example:8443/nix');
    expect(u.port).toBe(8443);
  });

  it('flags a priority that is not an integer', () => {
    expect(parseStoreUrl('http://a?priority=high')).toMatchObject({ badPriority: 'high' });
  });

  it.each([
    ['file:///srv/cache', 'file', undefined],
    ['s3://bucket?region=eu-west-1', 's3', 'bucket.s3.eu-west-1.amazonaws.com'],
    ['ssh://builder', 'ssh', 'builder'],
    ['daemon', 'daemon', undefined],
    ['http://[::1]:5000', 'http', '::1'],
  ])('knows the store type of %s', (raw, scheme, host) => {
    const u = parseStoreUrl(raw);
    expect(u.scheme).toBe(scheme);
    expect(u.host).toBe(host);
  });

  it('redacts token-like query values', () => {
    expect(redactUrl('s3://b?profile=x&secret-key=/k&token=abc')).toBe('s3://b?profile=x&secret-key=***&token=***');
  });
});

describe('s3:// stores', () => {
  it.each([
    ['s3://nix-cache', 'https://nix-cache.s3.us-east-1.amazonaws.com', 'nix-cache.s3.us-east-1.amazonaws.com', 443],
    ['s3://nix-cache?region=eu-west-1', 'https://nix-cache.s3.eu-west-1.amazonaws.com', 'nix-cache.s3.eu-west-1.amazonaws.com', 443],
    ['s3://nix-cache?endpoint=http://minio.lan:9000', 'http://minio.lan:9000/nix-cache', 'minio.lan', 9000],
    ['s3://nix-cache?endpoint=minio.lan:9000&scheme=http', 'http://minio.lan:9000/nix-cache', 'minio.lan', 9000],
    ['s3://nix-cache?endpoint=minio.lan', 'https://minio.lan/nix-cache', 'minio.lan', 443],
  ])('%s is read at %s', (raw, httpBase, host, port) => {
    expect(parseStoreUrl(raw)).toMatchObject({ scheme: 's3', bucket: 'nix-cache', httpBase, host, port });
  });
  it('has no address without a bucket or with an endpoint that is not a URL', () => {
    expect(parseStoreUrl('s3://').httpBase).toBeUndefined();
    expect(parseStoreUrl('s3://b?endpoint=ftp://x').httpBase).toBeUndefined();
  });
});

describe('a store URL with one more parameter, for a fix command', () => {
  it.each([
    ['http://127.0.0.1:41001', 'http://127.0.0.1:41001?compression=xz'],
    ['http://127.0.0.1:41001?trusted=1', 'http://127.0.0.1:41001?trusted=1&compression=xz'],
    ['s3://bucket?region=eu-west-1&compression=zstd', 's3://bucket?region=eu-west-1&compression=xz'],
    ['file:///srv/cache?', 'file:///srv/cache?compression=xz'],
  ])('%s', (url, expected) => {
    expect(withStoreParam(url, 'compression', 'xz')).toBe(expected);
  });
});
