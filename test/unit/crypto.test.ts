import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBase32, encodeBase32 } from '../../src/nix/base32.js';
import { fingerprint } from '../../src/nix/fingerprint.js';
import { formatHashBase32, parseHash } from '../../src/nix/hash.js';
import { parsePublicKey, parseSecretKey } from '../../src/nix/keys.js';
import { parseNarInfo } from '../../src/nix/narinfo.js';
import { classifySignatures, parseTrustedKeys } from '../../src/nix/signatures.js';
import { parseBaseName, parseStorePath } from '../../src/nix/store-path.js';
import { CACHES, KEYS } from '../helpers/servers.js';

const key = (name: string) => readFileSync(join(KEYS, name), 'utf8').trim();
const narinfos = (cache: string) =>
  readdirSync(join(CACHES, cache))
    .filter((f) => f.endsWith('.narinfo'))
    .map((f) => readFileSync(join(CACHES, cache, f), 'utf8'));
const trusted = parseTrustedKeys([key('lan.pub')]).keys;

describe('Nix base32 and hashes', () => {
  it('round-trips bytes through Nix base32', () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    const text = encodeBase32(bytes);
    expect(text).toHaveLength(52);
    const back = decodeBase32(text, 32);
    expect(back.ok && Buffer.from(back.value).equals(Buffer.from(bytes))).toBe(true);
  });

  it('reads a NarHash in base32, hex, base64 and SRI form as the same hash', () => {
    const b32 = 'sha256:0k79qn3l4ddx6m0aj6xcbg41a46dnqlxgx84gm4jwg8vi7pl5bzw';
    const parsed = parseHash(b32);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const bytes = Buffer.from(parsed.value.bytes);
    for (const form of [`sha256:${bytes.toString('hex')}`, `sha256:${bytes.toString('base64')}`, `sha256-${bytes.toString('base64')}`]) {
      const other = parseHash(form);
      expect(other.ok && formatHashBase32(other.value)).toBe(b32);
    }
  });

  it.each(['sha256:xyz', 'md4:abc', 'sha256:eeee0000000000000000000000000000000000000000000000ee', ''])(
    'rejects %j with an error, not an exception',
    (text) => {
      expect(parseHash(text).ok).toBe(false);
    },
  );
});

describe('store paths', () => {
  it('accepts a real store path and splits hash and name', () => {
    const p = parseStorePath('/nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a/bin/x');
    expect(p).toEqual({
      ok: true,
      value: {
        storeDir: '/nix/store',
        baseName: '0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a',
        hashPart: '0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj',
        name: 'nixcache-fixture-leaf-a',
      },
    });
  });
  it.each([
    ['eeeebz5lcgk34s3a97hxfgwkzc2r7wxj-x', 'bad-hash-part'],
    ['0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-.hidden', 'bad-name'],
    ['0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-a b', 'bad-name'],
    ['short-name', 'bad-store-path'],
  ])('rejects %s (%s)', (base, code) => {
    const r = parseBaseName(base);
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});

describe('narinfo, fingerprint and signatures (real Nix-made caches)', () => {
  it('parses every field of a real narinfo, repeated Sig lines included', () => {
    const app = narinfos('multi-sig').find((t) => t.includes('fixture-app'));
    const r = parseNarInfo(app as string);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.sigs.map((s) => s.split(':')[0]).sort()).toEqual(['backup-cache-1', 'lan-cache-1', 'other-cache-1']);
    expect(r.value.references).toHaveLength(2);
    expect(r.value.compression).toBe('xz');
    expect(r.value.deriver).toMatch(/\.drv$/);
  });

  it('builds the fingerprint Nix signs: sorted full reference paths', () => {
    const app = parseNarInfo(narinfos('signed-lan').find((t) => t.includes('fixture-app')) as string);
    if (!app.ok) throw new Error('parse');
    const fp = fingerprint(app.value);
    expect(fp.ok && fp.value).toMatch(
      /^1;\/nix\/store\/[0-9a-z]{32}-nixcache-fixture-app;sha256:[0-9a-z]{52};\d+;\/nix\/store\/[0-9a-z]{32}-nixcache-fixture-leaf-a,\/nix\/store\/[0-9a-z]{32}-nixcache-fixture-leaf-b$/,
    );
  });

  it.each([
    ['signed-lan', 'valid'],
    ['multi-sig', 'valid'],
    ['signed-other', 'untrusted'],
    ['unsigned', 'unsigned'],
    ['regenerated', 'mismatch'],
  ])('classifies every narinfo of %s as %s', (cache, kind) => {
    for (const text of narinfos(cache)) {
      const info = parseNarInfo(text);
      if (!info.ok) throw new Error(info.error.message);
      expect(classifySignatures(info.value, trusted).kind).toBe(kind);
    }
  });

  it('calls a narinfo altered after signing a mismatch of the trusted key', () => {
    const kinds = narinfos('tampered').map((t) => {
      const info = parseNarInfo(t);
      return info.ok ? classifySignatures(info.value, trusted).kind : 'parse-error';
    });
    expect(kinds.sort()).toEqual(['mismatch', 'valid', 'valid']);
  });

  it.each([
    ['NarHash missing', (t: string) => t.replace(/^NarHash:.*\n/m, ''), 'missing-field'],
    ['StorePath outside the store', (t: string) => t.replace(/^StorePath: \/nix\/store/m, 'StorePath: /tmp'), 'not-in-store'],
    ['bad NarSize', (t: string) => t.replace(/^NarSize: .*/m, 'NarSize: lots'), 'bad-nar-size'],
    ['HTML page', () => '<html>nope</html>', 'html'],
  ])('reports a corrupt narinfo (%s) with a code', (_name, mutate, code) => {
    const r = parseNarInfo(mutate(narinfos('signed-lan')[0] as string));
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});

describe('keys', () => {
  it('derives from a Nix secret key the public key Nix wrote beside it', () => {
    for (const name of ['lan', 'other', 'lan-regen', 'backup']) {
      const sk = parseSecretKey(key(`${name}.sec`));
      expect(sk.ok && sk.value.publicKey.text).toBe(key(`${name}.pub`));
    }
  });
  it.each([['nocolon'], ['k:!!!'], ['k:AAAA'], [`k:${Buffer.alloc(31).toString('base64')}`]])('rejects the public key %j', (t) => {
    expect(parsePublicKey(t).ok).toBe(false);
  });
  it('rejects a secret key whose public half does not match its seed', () => {
    const raw = Buffer.from(key('lan.sec').split(':')[1] as string, 'base64');
    raw[40] = (raw[40] as number) ^ 1;
    const r = parseSecretKey(`lan-cache-1:${raw.toString('base64')}`);
    expect(r.ok ? 'ok' : r.error.code).toBe('inconsistent');
  });
});
