import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCacheInfo } from '../../src/nix/cache-info.js';
import { formatTime, isoTime } from '../../src/nix/disk-cache.js';
import { parseNarInfo } from '../../src/nix/narinfo.js';
import { netrcFor, parseNetrc } from '../../src/nix/netrc.js';
import { effectiveOrder, resolvePriority } from '../../src/nix/priority.js';
import { isTrustedUser } from '../../src/nix/trust.js';
import { Redactor } from '../../src/report/redact.js';
import { VERSION } from '../../src/version.js';

describe('parseCacheInfo', () => {
  it('reads what nix copy writes and what cache.nixos.org serves', () => {
    expect(parseCacheInfo('StoreDir: /nix/store\n')).toEqual({ ok: true, value: { storeDir: '/nix/store', other: {} } });
    expect(parseCacheInfo('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n')).toEqual({
      ok: true,
      value: { storeDir: '/nix/store', wantMassQuery: true, priority: 40, other: {} },
    });
  });
  it.each([
    ['<!DOCTYPE html><html></html>', 'html'],
    ['', 'not-cache-info'],
    ['hello world\nno fields here', 'not-cache-info'],
    ['StoreDir: /nix/store\nPriority: soon', 'bad-priority'],
  ])('rejects %j', (text, code) => {
    const r = parseCacheInfo(text);
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});

describe('priority', () => {
  it('takes ?priority= over nix-cache-info over the default 0', () => {
    expect(resolvePriority(5, 30)).toEqual({ priority: 5, source: 'url' });
    expect(resolvePriority(undefined, 30)).toEqual({ priority: 30, source: 'cache-info' });
    expect(resolvePriority()).toEqual({ priority: 0, source: 'default' });
  });
  it('sorts stably, so ties keep nix.conf order', () => {
    const order = effectiveOrder([
      { n: 'a', priority: 50 },
      { n: 'b', priority: 10 },
      { n: 'c', priority: 40 },
      { n: 'd', priority: 10 },
      { n: 'e', priority: 0 },
    ]);
    expect(order.map((o) => o.n)).toEqual(['e', 'b', 'd', 'c', 'a']);
  });
});

describe('netrc', () => {
  it('finds the machine entry, else default, as curl does', () => {
    const r = parseNetrc('machine cache.lan login alice password hunter2\n# comment\ndefault login anon password x\nmacdef init\ncd /\n\n');
    if (!r.ok) throw new Error(r.error.message);
    expect(netrcFor(r.value, 'cache.lan')).toEqual({ machine: 'cache.lan', login: 'alice', password: 'hunter2' });
    expect(netrcFor(r.value, 'other')).toEqual({ login: 'anon', password: 'x' });
  });
  it.each([['machine'], ['login x'], ['machine a password']])('reports %j with a line number', (t) => {
    const r = parseNetrc(t);
    expect(r.ok).toBe(false);
    expect(r.ok ? 0 : r.error.line).toBe(1);
  });
});

describe('netrc as curl 7.84+ reads it', () => {
  it('reads a quoted password with blanks and escapes, and passes over words it does not know (port 443)', () => {
    const r = parseNetrc('machine cache.lan login alice password "sec ret\\"x" port 443\nmachine b login bob password p2 bogus\n');
    expect(r).toEqual({
      ok: true,
      value: [
        { machine: 'cache.lan', login: 'alice', password: 'sec ret"x' },
        { machine: 'b', login: 'bob', password: 'p2' },
      ],
    });
  });
});

describe('trusted-users', () => {
  it.each([
    [['root'], 'alice', [], false],
    [['root', 'alice'], 'alice', [], true],
    [['@wheel'], 'alice', ['users', 'wheel'], true],
    [['*'], 'bob', [], true],
    [['root'], 'root', [], true],
  ])('%j, user %s groups %j → %s', (list, user, groups, expected) => {
    expect(isTrustedUser(list, user, groups)).toBe(expected);
  });
});

describe('Redactor', () => {
  it('removes registered secrets, URL passwords, netrc passwords and access tokens', () => {
    const r = new Redactor();
    r.add('hunter2-secret');
    const text = r.string('x hunter2-secret y https://u:pw@h/ password abc access-tokens = github.com=ghp_123 gitlab.com=glpat');
    expect(text).toBe('x *** y https://u:***@h/ password *** access-tokens = github.com=*** gitlab.com=***');
  });
  it('walks nested objects and arrays', () => {
    const r = new Redactor();
    r.add('tok-12345');
    expect(r.deep({ a: ['tok-12345'], b: { c: 'see tok-12345' }, n: 3 })).toEqual({ a: ['***'], b: { c: 'see ***' }, n: 3 });
  });
});

it('reports the version in package.json', () => {
  expect(VERSION).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
});

describe('narinfo and nix-cache-info read exactly as Nix 2.8 reads them', () => {
  const narinfo = [
    'StorePath: /nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a',
    'URL: nar/1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3.nar.xz',
    'Compression: xz',
    'NarHash: sha256:1kr8xwp8dra6l7m4p9iigd3vxnp0fqcj4ghnhkx7hbp3bqbfsmyx',
    'NarSize: 120',
    'References: ',
    '',
  ].join('\n');

  it('reads a well-formed narinfo', () => {
    expect(parseNarInfo(narinfo).ok).toBe(true);
  });

  it('rejects CRLF line endings: the CR stays in the StorePath, as Nix says "contains illegal character"', () => {
    const r = parseNarInfo(narinfo.replace(/\n/g, '\r\n'));
    expect(r.ok).toBe(false);
  });

  it('rejects a last line without a newline: Nix says the NAR info file is corrupt', () => {
    const r = parseNarInfo(narinfo.replace(/\n$/, ''));
    expect(r).toMatchObject({ ok: false, error: { code: 'no-final-newline' } });
  });

  it('takes the leading integer of Priority as std::stoi does, and refuses what Nix refuses', () => {
    expect(parseCacheInfo('StoreDir: /nix/store\nPriority: 10abc\n')).toMatchObject({ ok: true, value: { priority: 10 } });
    expect(parseCacheInfo('StoreDir: /nix/store\nPriority: -5\n')).toMatchObject({ ok: true, value: { priority: -5 } });
    for (const bad of ['99999999999999999999999', 'abc', '2147483648'])
      expect(parseCacheInfo(`StoreDir: /nix/store\nPriority: ${bad}\n`)).toMatchObject({ ok: false, error: { code: 'bad-priority' } });
  });
});

describe('times read from Nix’s disk cache', () => {
  it('are shown for any timestamp a database holds, never thrown on', () => {
    expect(formatTime(1_795_600_000)).toBe('2026-11-25 09:46 UTC');
    expect(isoTime(1e15)).toBeNull();
    expect(formatTime(1e15)).toBe('unix time 1000000000000000');
    expect(formatTime(Number.NaN)).toBe('unix time NaN');
  });
});
