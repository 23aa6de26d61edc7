import { describe, expect, it } from 'vitest';
import { accessTokensFor, describeAccessTokens, type NetrcView, narinfoAuthProblem } from '../../../src/nix/credentials.js';
import { parseStoreUrl } from '../../../src/nix/store-url.js';
import { redactPatterns } from '../../../src/report/redact.js';

const origin = { file: '/etc/nix/nix.conf', line: 4 };
const items = (...values: string[]) => values.map((value) => ({ value, origin }));
const VIEW: NetrcView = { path: '/etc/nix/netrc', entries: [], root: true, multiUser: true };
const TOKEN = 'tok-9f8e7d6c5b4a';

describe('access-tokens entries that name a cache (Nix sends none of them to a binary cache)', () => {
  it.each([
    ['cache.lan', 'http://cache.lan:5000'],
    ['cache.lan:5000', 'http://cache.lan:5000'],
    ['CACHE.lan', 'http://cache.lan'],
    ['https://cache.lan', 'https://cache.lan/'],
    ['cache.lan/org/repo', 'https://cache.lan/main'],
  ])('finds the entry %s for %s by its host', (scope, cache) => {
    expect(accessTokensFor(parseStoreUrl(cache), items(`github.com=ghp_x`, `${scope}=${TOKEN}`))).toEqual([
      { scope, origin: '/etc/nix/nix.conf:4' },
    ]);
  });

  it.each([
    ['another host', 'other.lan=tok', 'http://cache.lan'],
    ['another port', 'cache.lan:8080=tok', 'http://cache.lan:5000'],
    ['a suffix of the host only', 'lan=tok', 'http://cache.lan'],
    ['an entry without "=" (its text may be the token itself)', 'cache.lan', 'http://cache.lan'],
    ['an s3 bucket (Nix signs those with AWS credentials)', 'bucket=tok', 's3://bucket'],
  ])('ignores %s', (_why, value, cache) => {
    expect(accessTokensFor(parseStoreUrl(cache), items(value))).toEqual([]);
  });

  it('never keeps or prints the token, only the host and where it was set, with nothing the redactor would hide', () => {
    const url = parseStoreUrl('http://cache.lan:5000');
    const tokens = accessTokensFor(url, items(`cache.lan=${TOKEN}`));
    const lines = describeAccessTokens(tokens);
    expect(lines).toBe(
      [
        "/etc/nix/nix.conf:4 gives 'cache.lan' a token in access-tokens",
        "but Nix never sends those to a binary cache: they are only for fetching GitHub, GitLab and SourceHut flake inputs. A substituter's credentials come from netrc-file alone (or user:password@ in its URL).",
      ].join('\n'),
    );
    expect(redactPatterns(lines as string)).toBe(lines);
    expect(JSON.stringify(tokens)).not.toContain(TOKEN);
    expect(describeAccessTokens([])).toBeUndefined();
  });

  it('says a 401 on narinfos went without credentials although access-tokens names the host, and fixes it with a netrc password', () => {
    const url = parseStoreUrl('http://cache.lan:5000');
    const tokens = accessTokensFor(url, items(`cache.lan=${TOKEN}`));
    const probe = { url: 'http://cache.lan:5000/0.narinfo', status: 401, headers: {}, credentials: null };
    const p = narinfoAuthProblem(url, probe, VIEW, tokens);
    expect(p?.status).toBe('fail');
    expect(p?.summary).toContain('(no credentials were sent)');
    expect(p?.summary).toMatch(/; Nix never sends binary caches the token for cache.lan in access-tokens$/);
    expect(p?.detail).toContain('Nix never sends those to a binary cache');
    expect(p?.fix).toContain('  machine cache.lan password ***');
    expect(p?.fix).toContain(
      'cache.lan=… (/etc/nix/nix.conf:4) serves only GitHub, GitLab or SourceHut flake inputs on that host, never the cache: keep it for those or drop it from access-tokens\n',
    );
    expect(p?.data).toMatchObject({ accessTokens: ['cache.lan'], credentials: null });
    for (const text of [p?.summary, p?.detail, p?.fix]) expect(redactPatterns(text as string)).toBe(text);
    expect(JSON.stringify(p)).not.toContain(TOKEN);
  });

  it('keeps the plain netrc fix when netrc credentials were sent and refused, still naming the unused token', () => {
    const url = parseStoreUrl('http://cache.lan:5000');
    const view: NetrcView = { ...VIEW, entries: [{ machine: 'cache.lan', login: 'u', password: 'p' }] };
    const probe = { url: 'http://cache.lan:5000/0.narinfo', status: 403, headers: {}, credentials: 'netrc' as const };
    const p = narinfoAuthProblem(url, probe, view, accessTokensFor(url, items(`cache.lan=${TOKEN}`)));
    expect(p?.summary).toContain('were sent and refused');
    expect(p?.detail).toContain('Nix never sends those to a binary cache');
    expect(p?.fix).toContain('machine cache.lan login USER password ***');
  });
});
