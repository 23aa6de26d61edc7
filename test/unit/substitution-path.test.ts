import { describe, expect, it } from 'vitest';
import { judgeConnectivity, parseRoutes } from '../../src/host/routes.js';
import { labelMatches, labelReading, libarchiveDecodes, nixDecodes, type Sniffed, sniffCompression } from '../../src/nix/compression.js';
import { matchNetrc } from '../../src/nix/credentials.js';
import { driftProblem } from '../../src/nix/daemon-advice.js';
import { diffEnv, parseEnviron, parseUnitEnvironment, proxyFor } from '../../src/nix/daemon-env.js';
import { judgeFlakeConfig, parseNixConfigText } from '../../src/nix/flake-config.js';
import { parseStoreUrl } from '../../src/nix/store-url.js';

const url = (u: string) => parseStoreUrl(u);

describe('compression sniffing', () => {
  it.each([
    [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0], 'xz'],
    [[0x28, 0xb5, 0x2f, 0xfd, 0], 'zstd'],
    [[0x42, 0x5a, 0x68, 0x39], 'bzip2'],
    [[0x1f, 0x8b, 8], 'gzip'],
    [[13, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('nix-archive-1')], 'nar'],
    [[0x0b, 0x02, 0x80], 'unknown'],
  ])('reads %j as %s', (bytes, kind) => {
    expect(sniffCompression(Uint8Array.from(bytes))).toBe(kind);
  });

  it('accepts a br label on bytes with no known magic and rejects it on xz bytes', () => {
    expect(labelMatches('br', 'unknown')).toBe(true);
    expect(labelMatches('br', 'xz')).toBe(false);
  });

  it('knows zstd only from Nix 2.4 on', () => {
    expect(nixDecodes('zstd', 'nix (Nix) 2.3.16')).toBe(false);
    expect(nixDecodes('zstd', 'nix (Nix) 2.8.0')).toBe(true);
    expect(nixDecodes('xz', null)).toBe(true);
  });

  it('reads a label as Nix 2.8’s makeDecompressionSink does: none and br by name, anything else by its bytes through libarchive', () => {
    expect(labelReading('xz', 'nix (Nix) 2.8.0')).toBe('as-labelled');
    expect(labelReading('', 'nix (Nix) 2.8.0')).toBe('as-labelled');
    expect(labelReading('lz4', 'nix (Nix) 2.8.0')).toBe('as-labelled');
    expect(labelReading('foo', 'nix (Nix) 2.8.0')).toBe('by-content');
    expect(labelReading('foo', null)).toBe('by-content');
    expect(labelReading('foo', 'nix (Nix) 2.3.16')).toBe('unknown-method');
    expect(labelReading('zstd', 'nix (Nix) 2.3.16')).toBe('unknown-method');
    expect(['xz', 'zstd', 'bzip2', 'gzip', 'nar', 'unknown'].filter((k) => libarchiveDecodes(k as Sniffed))).toEqual([
      'xz',
      'zstd',
      'bzip2',
      'gzip',
    ]);
  });
});

describe('netrc as curl matches it', () => {
  const view = (text: Partial<Parameters<typeof matchNetrc>[1]>) => ({
    path: '/etc/nix/netrc',
    entries: [],
    root: true,
    multiUser: true,
    ...text,
  });
  it('matches the host name, ignoring the port of the URL', () => {
    expect(matchNetrc(url('http://cache.lan:5000'), view({ entries: [{ machine: 'cache.lan', login: 'u', password: 'p' }] }))).toEqual({
      kind: 'machine',
      machine: 'cache.lan',
    });
  });
  it('names a machine entry with a port as a near miss', () => {
    const m = matchNetrc(url('http://cache.lan:5000'), view({ entries: [{ machine: 'cache.lan:5000', login: 'u' }] }));
    expect(m).toMatchObject({ kind: 'none' });
    expect(JSON.stringify(m)).toContain('has a port');
  });
  it('falls back to the default entry', () => {
    expect(matchNetrc(url('http://other'), view({ entries: [{ machine: 'x' }, { login: 'u' }] }))).toEqual({ kind: 'default' });
  });
  it('tells a file only the daemon can read from one nobody can', () => {
    const problem = "'/etc/nix/netrc' is not readable by this user";
    expect(matchNetrc(url('http://h'), view({ problem, root: false })).kind).toBe('unreadable-here');
    expect(matchNetrc(url('http://h'), view({ problem, root: false, multiUser: false })).kind).toBe('unreadable');
  });
});

describe("the daemon's environment", () => {
  it('keeps only the variables that matter from /proc/PID/environ and from Environment=', () => {
    expect(parseEnviron('PATH=/bin\0https_proxy=http://p:3128\0AWS_PROFILE=ci\0')).toEqual({
      https_proxy: 'http://p:3128',
      AWS_PROFILE: 'ci',
    });
    expect(parseUnitEnvironment('"NIX_SSL_CERT_FILE=/etc/ssl/a b.crt" LANG=C http_proxy=http://p')).toEqual({
      NIX_SSL_CERT_FILE: '/etc/ssl/a b.crt',
      http_proxy: 'http://p',
    });
  });
  it('picks the proxy as curl does: lower-case http_proxy only, no_proxy by domain', () => {
    expect(proxyFor('http://cache.lan/', { HTTP_PROXY: 'http://p' })).toBeUndefined();
    expect(proxyFor('https://cache.lan/', { HTTPS_PROXY: 'http://p' })).toBe('http://p');
    expect(proxyFor('https://a.corp.example/', { https_proxy: 'http://p', no_proxy: '.corp.example' })).toBeUndefined();
    expect(proxyFor('http://x/', { all_proxy: 'socks5://s' })).toBe('socks5://s');
  });
  it('honours a no_proxy subnet in CIDR notation for a cache named by address, as curl ≥ 7.86 does', () => {
    const env = { http_proxy: 'http://10.77.0.2:3128', no_proxy: 'localhost, 10.77.0.0/24 ,fd77::/16' };
    expect(proxyFor('http://10.77.0.1:5000/', env)).toBeUndefined();
    expect(proxyFor('http://[fd77::1]:5000/', env)).toBeUndefined();
    expect(proxyFor('http://10.78.0.1:5000/', env)).toBe('http://10.77.0.2:3128');
    expect(proxyFor('http://[fd78::1]:5000/', env)).toBe('http://10.77.0.2:3128');
    // A name is not an address: the subnet does not cover it.
    expect(proxyFor('http://cache.lan:5000/', env)).toBe('http://10.77.0.2:3128');
    expect(proxyFor('http://10.77.0.1:5000/', { http_proxy: 'http://p', no_proxy: '10.77.0.0/99' })).toBe('http://p');
  });
  it('never shows a secret value or a proxy password in a difference', () => {
    const d = diffEnv({ AWS_SECRET_ACCESS_KEY: 'abc', https_proxy: 'http://u:pw@p:1' }, {});
    expect(JSON.stringify(d)).not.toMatch(/abc|pw/);
  });
  it('calls a nix.conf changed after the daemon started drift, and one changed before it not', () => {
    expect(driftProblem(1_000_000, [{ path: '/etc/nix/nix.conf', mtimeMs: 5_000_000 }])?.severity).toBe('fail');
    expect(driftProblem(5_000_000, [{ path: '/etc/nix/nix.conf', mtimeMs: 1_000_000 }])).toBeUndefined();
  });
});

describe('offline or not', () => {
  const v4 = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nwlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n';
  const v6lo =
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n';
  it("finds the IPv4 default route and ignores the kernel's IPv6 reject route on lo", () => {
    expect(parseRoutes(v4, v6lo)).toEqual({ defaultV4: ['wlan0'], defaultV6: [] });
  });
  it('is offline only when no resolver answered and there is no default route; NXDOMAIN is an answer', () => {
    const none = parseRoutes('', v6lo);
    expect(judgeConnectivity([{ ok: false, code: 'EAI_AGAIN' }], none).kind).toBe('offline');
    expect(judgeConnectivity([{ ok: false, code: 'EAI_AGAIN' }], parseRoutes(v4, '')).kind).toBe('dns-down');
    expect(judgeConnectivity([{ ok: false, code: 'ENOTFOUND' }], none).kind).toBe('online');
    expect(judgeConnectivity([], none).kind).toBe('no-names');
  });
});

describe("a flake's nixConfig", () => {
  const ctx = { acceptFlakeConfig: false, saved: {}, untrustedClient: false, trustedSubstituters: [] };
  it('asks about a cache setting nothing decides, and always applies bash-prompt', () => {
    const j = judgeFlakeConfig({ 'extra-substituters': ['https://c'], 'bash-prompt': 'x' }, ctx);
    expect(j.map((s) => s.decision.kind)).toEqual(['ask', 'used']);
  });
  it('uses a saved yes and refuses a saved no, keyed by the value as Nix joins lists', () => {
    const saved = { 'extra-substituters': { 'https://a https://b': true }, 'extra-trusted-public-keys': { 'k:1': false } };
    const j = judgeFlakeConfig(
      { 'extra-substituters': ['https://a', 'https://b'], 'extra-trusted-public-keys': ['k:1'] },
      { ...ctx, saved },
    );
    expect(j.map((s) => s.decision.kind)).toEqual(['used', 'refused']);
  });
  it('has the daemon drop accepted substituters of an untrusted user that trusted-substituters lacks', () => {
    const j = judgeFlakeConfig(
      { 'extra-substituters': ['https://a', 'https://b'] },
      { ...ctx, acceptFlakeConfig: true, untrustedClient: true, trustedSubstituters: ['https://a'] },
    );
    expect(j[0]?.droppedByDaemon).toEqual(['https://b']);
  });
  it('reads nixConfig conservatively without Nix, in both the dotted and the block form', () => {
    expect(parseNixConfigText('{ nixConfig = { extra-substituters = [ "https://a" "https://b" ]; }; }')).toEqual({
      'extra-substituters': ['https://a', 'https://b'],
    });
    expect(parseNixConfigText('{ nixConfig.extra-trusted-public-keys = [ "k:1" ]; }')).toEqual({ 'extra-trusted-public-keys': ['k:1'] });
  });
});

describe('fixes for the daemon environment', () => {
  it('never repeats a proxy password in the drop-in it suggests', async () => {
    const { envFix } = await import('../../src/nix/daemon-advice.js');
    const fix = envFix('https_proxy', 'http://alice:s3cret@proxy.corp:3128');
    expect(fix).toContain('http://alice:***@proxy.corp:3128');
    expect(fix).not.toContain('s3cret');
  });
});
