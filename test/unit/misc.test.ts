import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCacheInfo } from '../../src/nix/cache-info.js';
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
  it.each([['machine'], ['login x'], ['machine a password'], ['machine a bogus b']])('reports %j with a line number', (t) => {
    const r = parseNetrc(t);
    expect(r.ok).toBe(false);
    expect(r.ok ? 0 : r.error.line).toBe(1);
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
