import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signature } from '../../../checks/signature.js';
import type { DiskCacheFact } from '../../../src/facts/disk-cache.js';
import { DEFAULT_TTLS, type DiskCacheEntry, formatTime, judgeDiskEntry } from '../../../src/nix/disk-cache.js';
import type { Evidence } from '../../../src/system/evidence.js';
import { fakeFacts, fakeResults, type Script, type World } from '../../helpers/facts.js';
import { CACHES, FIXTURES, KEYS } from '../../helpers/servers.js';

/**
 * The signature check over the real binary caches in fixtures/caches (made and signed by Nix 2.8),
 * served through scripted HTTP: every verdict, with the keys in fixtures/keys.
 */

const CACHE = 'http://10.0.0.5:5000';
const publicKey = (name: string) => readFileSync(join(KEYS, `${name}.pub`), 'utf8').trim();
const LAN = publicKey('lan');
const OTHER = publicKey('other');
const LAN_REGEN = publicKey('lan-regen');

const STORE_PATHS = readFileSync(join(FIXTURES, 'store-paths.txt'), 'utf8').trim().split('\n');
const [APP, LEAF_A, LEAF_B] = STORE_PATHS as [string, string, string];
const baseName = (path: string) => path.slice('/nix/store/'.length);
const hashOf = (path: string) => baseName(path).slice(0, 32);
/** What `ls /nix/store` shows on a machine that built the three fixture paths. */
const STORE = { '/nix/store': STORE_PATHS.map(baseName) };

/** The files of fixture cache NAME (nix-cache-info, narinfos, nar/*), as relative path → bytes. */
function cacheFiles(name: string): Map<string, Buffer> {
  const dir = join(CACHES, name);
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, readFileSync(join(dir, entry.name)));
    else if (entry.isDirectory())
      for (const nar of readdirSync(join(dir, entry.name))) files.set(`${entry.name}/${nar}`, readFileSync(join(dir, entry.name, nar)));
  }
  return files;
}

/** Fixture cache NAME answered at BASE over HTTP; EDIT may change or drop (null) a file by its relative path. */
function served(name: string, base = CACHE, edit: (file: string, body: Buffer) => Buffer | string | null = (_f, b) => b): Script['http'] {
  const http: NonNullable<Script['http']> = {};
  for (const [file, body] of cacheFiles(name)) {
    const changed = edit(file, body);
    if (changed === null) continue;
    http[`${base}/${file}`] = { status: 200, body: typeof changed === 'string' ? changed : new Uint8Array(changed) };
  }
  return http;
}

const narinfoOf = (path: string) => `${hashOf(path)}.narinfo`;
const conf = (...lines: string[]) => `${[`substituters = ${CACHE}`, ...lines].join('\n')}\n`;
const TRUST_LAN = `trusted-public-keys = ${LAN}`;

async function check(world: World) {
  const fake = fakeFacts(world);
  const cache = fake.caches[0];
  if (!cache) throw new Error('the world has no cache');
  const finding = await signature.run(fake.facts, cache, fakeResults());
  return { finding, ...fake };
}

const httpUrls = (evidence: Evidence[]) => evidence.flatMap((e) => (e.kind === 'http' ? [e.url] : []));

describe('signature check: which caches it can read', () => {
  it.each([
    ['ssh://builder.lan', 'ssh'],
    ['ssh-ng://builder.lan', 'ssh-ng'],
    ['daemon', 'daemon'],
  ])('skips %s because narinfos are fetched only from http(s), s3 and file caches', async (url, scheme) => {
    const { finding, evidence } = await check({ caches: [url], conf: TRUST_LAN, script: { directories: STORE } });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe(`${scheme} store`);
    expect(finding.summary).toContain(`not ${scheme}`);
    expect(evidence).toEqual([]);
  });

  it.each([401, 403])('skips a private s3 bucket whose nix-cache-info answers %i to an anonymous read', async (status) => {
    const bucket = 'https://nixcache-fixtures.s3.eu-west-1.amazonaws.com';
    const { finding, evidence } = await check({
      caches: ['s3://nixcache-fixtures?region=eu-west-1'],
      conf: TRUST_LAN,
      script: {
        directories: STORE,
        http: { ...served('signed-lan', bucket), [`${bucket}/nix-cache-info`]: { status, body: 'AccessDenied' } },
      },
    });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('private bucket');
    expect(finding.summary).toContain('AWS credentials');
    expect(httpUrls(evidence)).toEqual([`${bucket}/nix-cache-info`]);
  });

  it('reads a public s3 bucket at its amazonaws.com address and passes what the trusted key signed', async () => {
    const bucket = 'https://nixcache-fixtures.s3.eu-west-1.amazonaws.com';
    const { finding, evidence } = await check({
      caches: ['s3://nixcache-fixtures?region=eu-west-1'],
      conf: TRUST_LAN,
      run: { samples: [LEAF_A] },
      script: { http: served('signed-lan', bucket) },
    });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe(`${baseName(LEAF_A)} is signed by trusted key lan-cache-1`);
    expect(httpUrls(evidence)).toContain(`${bucket}/${narinfoOf(LEAF_A)}`);
  });

  it('does not call a 401 from an http cache a private bucket: it goes on to look up narinfos', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      script: { directories: STORE, http: { ...served('signed-lan'), [`${CACHE}/nix-cache-info`]: { status: 401 } } },
    });
    expect(finding.status).toBe('pass');
  });

  it('reads the narinfos of a file:// cache from disk', async () => {
    const files: NonNullable<Script['files']> = {};
    for (const [file, body] of cacheFiles('signed-lan')) if (!file.startsWith('nar/')) files[`/srv/cache/${file}`] = body.toString('utf8');
    const { finding } = await check({ caches: ['file:///srv/cache'], conf: TRUST_LAN, script: { directories: STORE, files } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe(`${baseName(APP)} is signed by trusted key lan-cache-1`);
  });
});

describe('signature check: finding a store path the cache has', () => {
  it('skips with a --sample hint when the store is empty and no --sample was given', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { http: served('signed-lan') } });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('no sample');
    expect(finding.summary).toBe('no store paths on this machine to look up (/nix/store is empty)');
    expect(finding.fix).toContain('nixcache doctor --sample /nix/store/<hash>-<name>');
  });

  it('skips when none of the store paths tried is in the cache, saying how many were tried', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      script: { directories: STORE, http: { [`${CACHE}/nix-cache-info`]: { status: 200, body: 'StoreDir: /nix/store\n' } } },
    });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('no sample');
    expect(finding.summary).toBe('none of the 3 store paths tried is in this cache');
    expect(finding.fix).toContain('nix path-info --all');
    expect(finding.data).toEqual({ tried: 3 });
  });

  it('treats a 403 for a narinfo as "not in this cache", as Nix does for S3', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [APP] },
      script: { http: { ...served('signed-lan'), [`${CACHE}/${narinfoOf(APP)}`]: { status: 403 } } },
    });
    expect(finding.status).toBe('skip');
    expect(finding.summary).toBe('none of the 1 store paths tried is in this cache');
  });

  it('fails, quoting the error, when every narinfo look-up fails in transport', async () => {
    const http: NonNullable<Script['http']> = { [`${CACHE}/nix-cache-info`]: { status: 200, body: 'StoreDir: /nix/store\n' } };
    for (const path of STORE_PATHS) http[`${CACHE}/${narinfoOf(path)}`] = { fail: 'no-answer', message: 'no answer within 5.0 s' };
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe('looking up narinfos failed: no answer within 5.0 s');
    expect(finding.data).toEqual({ tried: 3 });
  });

  it('fails when every narinfo look-up gets a server error', async () => {
    const http: NonNullable<Script['http']> = {};
    for (const path of STORE_PATHS) http[`${CACHE}/${narinfoOf(path)}`] = { status: 500, body: 'Internal Server Error' };
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe('looking up narinfos failed: HTTP 500');
    // A failure always says what to do: here the server's log and the request by hand.
    expect(finding.fix).toMatch(/server's log/);
    expect(finding.fix).toMatch(new RegExp(`^Try one by hand: curl -sSi ${CACHE}/[0-9a-z]{32}\\.narinfo$`, 'm'));
  });

  it('skips rather than fails when some look-ups fail and the others are misses', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      script: { directories: STORE, http: { [`${CACHE}/${narinfoOf(APP)}`]: { status: 502 } } },
    });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('no sample');
    expect(finding.data).toEqual({ tried: 3 });
  });

  it('looks up the --sample path rather than the store paths on this machine', async () => {
    const { finding, evidence } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [LEAF_B] },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ sample: LEAF_B });
    const narinfos = httpUrls(evidence).filter((u) => u.endsWith('.narinfo'));
    expect(narinfos).toEqual([`${CACHE}/${narinfoOf(LEAF_B)}`]);
  });

  it('fails on a corrupt narinfo, naming the path and the missing field', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [APP] },
      script: {
        http: served('signed-lan', CACHE, (file, body) =>
          file === narinfoOf(APP) ? body.toString('utf8').replace(/^NarHash: .*\n/m, '') : body,
        ),
      },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe(`NAR info file for '${APP}' is corrupt: NAR info is corrupt: no NarHash field`);
    expect(finding.fix).toContain('regenerate it');
    expect(finding.data).toEqual({ sample: APP });
  });

  it('fails on an HTML page served in place of a narinfo', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [APP] },
      script: {
        http: { ...served('signed-lan'), [`${CACHE}/${narinfoOf(APP)}`]: { status: 200, body: '<!DOCTYPE html><html>login</html>' } },
      },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('is corrupt: the answer is an HTML page, not a narinfo');
  });
});

describe('signature check: verdicts on what the cache signs', () => {
  it('passes a narinfo signed by a trusted key, naming the key', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http: served('signed-lan') } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe(`${baseName(APP)} is signed by trusted key lan-cache-1`);
    expect(finding.data).toEqual({
      sample: APP,
      verdict: 'valid',
      signedBy: ['lan-cache-1'],
      trustedKeys: ['lan-cache-1'],
      key: 'lan-cache-1',
    });
  });

  it('passes a narinfo with several signatures when one of them is by a trusted key', async () => {
    const { finding } = await check({
      conf: conf(`trusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY= ${LAN}`),
      script: { directories: STORE, http: served('multi-sig') },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ key: 'lan-cache-1', trustedKeys: ['cache.nixos.org-1', 'lan-cache-1'] });
    expect([...((finding.data?.signedBy as string[] | undefined) ?? [])].sort()).toEqual([
      'backup-cache-1',
      'lan-cache-1',
      'other-cache-1',
    ]);
  });

  it('passes with a key given on the command line (--trusted-key)', async () => {
    const { finding } = await check({ conf: conf(), trustedKeys: [OTHER], script: { directories: STORE, http: served('signed-other') } });
    expect(finding.status).toBe('pass');
    expect(finding.summary).toContain('signed by trusted key other-cache-1');
  });

  it('fails an unsigned cache, quoting Nix and saying how to sign on the server', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http: served('unsigned') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('the cache does not sign');
    expect(finding.summary).toContain(`${baseName(APP)} has no Sig: line`);
    expect(finding.summary).toContain('lacks a signature by a trusted key');
    expect(finding.fix).toContain('services.nix-serve.secretKeyFile');
    expect(finding.fix).toContain('nix-store --generate-binary-cache-key');
    expect(finding.data).toMatchObject({ verdict: 'unsigned', signedBy: [] });
  });

  it('fails a cache signed by an untrusted key, with the extra-trusted-public-keys line to add to the system nix.conf', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http: served('signed-other') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('signed by other-cache-1, which trusted-public-keys does not name');
    expect(finding.summary).toContain("not signed by any of the keys in 'trusted-public-keys'");
    expect(finding.fix).toContain('/etc/nix/nix.conf: extra-trusted-public-keys = other-cache-1:<public key>');
    expect(finding.fix).toContain('nix.settings.trusted-public-keys = [ "other-cache-1:<public key>" ]');
    expect(finding.fix).toContain('nix key convert-secret-to-public');
    expect(finding.data).toMatchObject({ verdict: 'untrusted', signedBy: ['other-cache-1'], trustedKeys: ['lan-cache-1'] });
  });

  it('fails as untrusted when no key is trusted at all', async () => {
    const { finding } = await check({ conf: conf('trusted-public-keys ='), script: { directories: STORE, http: served('signed-lan') } });
    expect(finding.status).toBe('fail');
    expect(finding.data).toMatchObject({ verdict: 'untrusted', trustedKeys: [] });
  });
});

describe('signature check: a trusted key name whose signature does not verify', () => {
  it('says the narinfo was altered when other narinfos signed by the same key verify (tampered cache)', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http: served('tampered') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe(
      'signed by lan-cache-1, which you trust, but the signature does not verify: this narinfo was altered after signing (2 of 2 other narinfos signed by the same key verify)',
    );
    expect(finding.detail).toContain('NarSize');
    expect(finding.detail).toContain('The NAR file it points to matches its FileHash.');
    expect(finding.fix).toContain(`here, trusted-public-keys has: ${LAN}`);
    expect(finding.fix).toContain(
      'If the narinfo was altered, re-sign it on the server: nix store sign --key-file SECRET --recursive PATH',
    );
    expect(finding.data).toMatchObject({ sample: APP, verdict: 'mismatch', otherSamples: 2, otherValid: 2, narFile: 'matches' });
  });

  it('says the key was regenerated when no narinfo signed under that name verifies (regenerated cache)', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), script: { directories: STORE, http: served('regenerated') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('the key was probably regenerated on the server under the same name (none of 3 narinfos verify)');
    expect(finding.detail).toContain("signed by 'lan-cache-1' with material that does not match the public key you trust");
    expect(finding.fix).toContain('If the key was regenerated, put the new public key in trusted-public-keys');
    expect(finding.data).toMatchObject({ verdict: 'mismatch', signedBy: ['lan-cache-1'], otherSamples: 2, otherValid: 0 });
  });

  it('passes the regenerated cache once the new public key is trusted', async () => {
    const { finding } = await check({
      conf: conf(`trusted-public-keys = ${LAN_REGEN}`),
      script: { directories: STORE, http: served('regenerated') },
    });
    expect(finding.status).toBe('pass');
  });

  it('cannot tell a regenerated key from an altered narinfo when only one narinfo can be looked at', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN), run: { samples: [APP] }, script: { http: served('tampered') } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain(
      'either the key was regenerated on the server under the same name, or this narinfo was altered after signing',
    );
    expect(finding.detail).toContain('Only one narinfo could be looked at');
    expect(finding.detail).toContain('--sample');
    expect(finding.data).toMatchObject({ otherSamples: 0, otherValid: 0, narFile: 'matches' });
  });

  it('says when the NAR file does not match its FileHash either', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      script: {
        directories: STORE,
        http: served('tampered', CACHE, (file, body) =>
          file.startsWith('nar/1dzr9') ? Buffer.concat([body.subarray(0, -1), Buffer.from('!')]) : body,
        ),
      },
    });
    expect(finding.status).toBe('fail');
    expect(finding.detail).toContain('does not match its FileHash either');
    expect(finding.data).toMatchObject({ narFile: 'differs' });
  });

  it('leaves the NAR file unchecked when it cannot be downloaded', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      script: { directories: STORE, http: served('tampered', CACHE, (file, body) => (file.startsWith('nar/') ? null : body)) },
    });
    expect(finding.status).toBe('fail');
    expect(finding.detail).not.toContain('FileHash');
    expect(finding.data).toMatchObject({ narFile: 'unchecked', otherValid: 2 });
  });
});

describe('signature check: signatures that are not checked (require-sigs = false, ?trusted=1)', () => {
  it('warns rather than fails an unsigned cache when require-sigs = false, keeping the signing fix', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN, 'require-sigs = false'),
      script: { directories: STORE, http: served('unsigned') },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toMatch(
      /^require-sigs = false: Nix accepts this cache's paths without checking signatures \(the cache does not sign/,
    );
    expect(finding.detail).toContain('Anyone who can answer for this cache');
    expect(finding.fix).toMatch(/^Remove require-sigs = false and trust the cache's key instead\.\n/);
    expect(finding.fix).toContain('nix-store --generate-binary-cache-key');
    expect(finding.data).toMatchObject({ verdict: 'unsigned', requireSigs: false });
  });

  it('warns even when the signature is valid, because with require-sigs = false nothing is verified', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN, 'require-sigs = false'),
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(
      `${baseName(APP)} is signed by trusted key lan-cache-1, but require-sigs = false: nothing from this cache is actually verified`,
    );
    expect(finding.fix).toBe('Remove require-sigs = false: Nix then checks signatures.');
    expect(finding.data).toMatchObject({ verdict: 'valid', key: 'lan-cache-1' });
  });

  it('warns rather than fails an untrusted signature when the substituter URL has ?trusted=1', async () => {
    const { finding } = await check({
      caches: [`${CACHE}?trusted=1`],
      conf: TRUST_LAN,
      script: { directories: STORE, http: served('signed-other') },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toMatch(
      /^\?trusted=1 in the URL: Nix accepts this cache's paths without checking signatures \(signed by other-cache-1/,
    );
    expect(finding.fix).toContain('Remove ?trusted=1 in the URL and trust the cache');
    expect(finding.fix).toContain('extra-trusted-public-keys = other-cache-1:<public key>');
    expect(finding.data).toMatchObject({ verdict: 'untrusted', requireSigs: true });
  });

  it('warns on a valid signature when the substituter URL has ?trusted=true', async () => {
    const { finding } = await check({
      caches: [`${CACHE}?trusted=true`],
      conf: TRUST_LAN,
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('but ?trusted=true in the URL: nothing from this cache is actually verified');
    expect(finding.fix).toBe('Remove ?trusted=true in the URL: Nix then checks signatures.');
  });

  it('warns rather than fails a mismatch when signatures are not checked', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN, 'require-sigs = false'),
      script: { directories: STORE, http: served('tampered') },
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('this narinfo was altered after signing');
    expect(finding.data).toMatchObject({ verdict: 'mismatch', signedBy: ['lan-cache-1'], requireSigs: false });
  });

  it('does not treat ?trusted=0 as lenient', async () => {
    const { finding } = await check({
      caches: [`${CACHE}?trusted=0`],
      conf: TRUST_LAN,
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('pass');
  });

  it('still skips (not warns) when nothing can be sampled, even with require-sigs = false', async () => {
    const { finding } = await check({ conf: conf(TRUST_LAN, 'require-sigs = false'), script: { http: served('signed-lan') } });
    expect(finding.status).toBe('skip');
  });
});

describe('signature check: keys the daemon ignores for an untrusted user of a multi-user install', () => {
  const USER_KEY = `extra-trusted-public-keys = ${LAN}`;

  it('ignores a key set only in the user nix.conf: the cache is untrusted', async () => {
    const { finding } = await check({
      conf: conf(),
      userConf: USER_KEY,
      env: { multiUser: true, trustedUser: false },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('signed by lan-cache-1, which trusted-public-keys does not name');
    expect(finding.fix).toContain('/etc/nix/nix.conf: extra-trusted-public-keys = lan-cache-1:<public key>');
    expect(finding.data).toMatchObject({ verdict: 'untrusted', trustedKeys: ['cache.nixos.org-1'] });
  });

  it('honours the same user nix.conf key for a trusted user', async () => {
    const { finding } = await check({
      conf: conf(),
      userConf: USER_KEY,
      env: { multiUser: true, trustedUser: true },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('pass');
  });

  it('honours the user nix.conf key on a single-user install', async () => {
    const { finding } = await check({
      conf: conf(),
      userConf: USER_KEY,
      env: { multiUser: false, trustedUser: false },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('pass');
  });

  it('keeps a system key that the user nix.conf repeats, and one a plain trusted-public-keys = there would replace', async () => {
    for (const userConf of [`extra-trusted-public-keys = ${LAN}`, `trusted-public-keys = ${OTHER}`]) {
      const { finding } = await check({
        conf: conf(TRUST_LAN),
        userConf,
        env: { multiUser: true, trustedUser: false },
        script: { directories: STORE, http: served('signed-lan') },
      });
      expect(finding.status).toBe('pass');
      expect(finding.data).toMatchObject({ verdict: 'valid', trustedKeys: ['lan-cache-1'] });
    }
  });

  it('does not take require-sigs = false from the user nix.conf of an untrusted user: the daemon still checks', async () => {
    const { finding } = await check({
      conf: conf(),
      userConf: 'require-sigs = false',
      env: { multiUser: true, trustedUser: false },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).not.toContain('require-sigs = false');
  });

  it('honours a key from the system nix.conf for an untrusted user', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      userConf: `extra-trusted-public-keys = ${OTHER}`,
      env: { multiUser: true, trustedUser: false },
      script: { directories: STORE, http: served('signed-lan') },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ trustedKeys: ['lan-cache-1'] });
  });
});

/** "Now" for Nix's disk cache (unix seconds): fixed, so that expiry times are exact. */
const NOW = 1_800_000_000;
const DATABASE = '/root/.cache/nix/binary-cache-v6.sqlite';

/** A narinfo disk cache whose rows for cache URL are ROWS, read at NOW. */
function diskCache(url: string, rows: { path: string; present: boolean; ageSeconds: number }[]): DiskCacheFact {
  const entries = new Map<string, DiskCacheEntry>(
    rows.map((r) => [
      hashOf(r.path),
      { cache: 1, hashPart: hashOf(r.path), present: r.present, narHash: null, url: null, timestamp: NOW - r.ageSeconds },
    ]),
  );
  return {
    kind: 'read',
    path: DATABASE,
    owner: 'root',
    ttls: DEFAULT_TTLS,
    caches: [],
    judge: (cacheUrl, hashPart, served) => judgeDiskEntry(cacheUrl === url ? entries.get(hashPart) : undefined, NOW, DEFAULT_TTLS, served),
  };
}

describe('signature check: Nix’s narinfo disk cache', () => {
  it('warns when Nix remembers the sample as missing from this cache, with the expiry and why’s fix', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [LEAF_A] },
      script: { http: served('signed-lan') },
      diskCache: diskCache(CACHE, [{ path: LEAF_A, present: false, ageSeconds: 600 }]),
    });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(
      `${baseName(LEAF_A)}: ${CACHE} has it, but Nix remembers it as missing until ${formatTime(NOW - 600 + 3600)} (narinfo disk cache) and will not ask again before then`,
    );
    expect(finding.detail).toBe(`${baseName(LEAF_A)} is signed by trusted key lan-cache-1`);
    expect(finding.fix).toBe(
      [
        `nix-store -r ${LEAF_A} --option narinfo-cache-negative-ttl 0   (or nix build --refresh …)`,
        `or forget the answer: sqlite3 ${DATABASE} "delete from NARs where hashPart = '${hashOf(LEAF_A)}' and present = 0"`,
      ].join('\n'),
    );
    expect(finding.data).toMatchObject({
      verdict: 'valid',
      diskCache: { state: 'negative', path: DATABASE, expires: new Date((NOW + 3000) * 1000).toISOString() },
    });
  });

  it('passes over a negative entry older than narinfo-cache-negative-ttl, a positive one, and one for another cache', async () => {
    for (const rows of [[{ path: LEAF_A, present: false, ageSeconds: 3601 }], [{ path: LEAF_A, present: true, ageSeconds: 60 }]]) {
      const { finding } = await check({
        conf: conf(TRUST_LAN),
        run: { samples: [LEAF_A] },
        script: { http: served('signed-lan') },
        diskCache: diskCache(CACHE, rows),
      });
      expect(finding.status).toBe('pass');
    }
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [LEAF_A] },
      script: { http: served('signed-lan') },
      diskCache: diskCache('http://elsewhere:5000', [{ path: LEAF_A, present: false, ageSeconds: 60 }]),
    });
    expect(finding.status).toBe('pass');
  });

  it('keeps a signature failure a failure and adds the negative entry to its detail and fix', async () => {
    const { finding } = await check({
      conf: conf(TRUST_LAN),
      run: { samples: [LEAF_A] },
      script: { http: served('signed-other') },
      diskCache: diskCache(CACHE, [{ path: LEAF_A, present: false, ageSeconds: 60 }]),
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain('which trusted-public-keys does not name');
    expect(finding.detail).toContain('Nix remembers it as missing until');
    expect(finding.fix?.split('\n')[0]).toBe(`nix-store -r ${LEAF_A} --option narinfo-cache-negative-ttl 0   (or nix build --refresh …)`);
    expect(finding.fix).toContain('extra-trusted-public-keys = other-cache-1:<public key>');
  });

  it('says an unreadable database once, on the first cache, and guesses nothing about its rows', async () => {
    const second = 'http://10.0.0.6:5000';
    const unreadable: DiskCacheFact = {
      kind: 'unreadable',
      owner: 'root (the nix-daemon)',
      path: DATABASE,
      message: 'EACCES',
      denied: true,
    };
    const fake = fakeFacts({
      conf: `substituters = ${CACHE} ${second}\n${TRUST_LAN}\n`,
      run: { samples: [LEAF_A] },
      script: { http: { ...served('signed-lan'), ...served('signed-lan', second) } },
      diskCache: unreadable,
    });
    const [first, other] = await Promise.all(fake.caches.map((c) => signature.run(fake.facts, c, fakeResults())));
    expect(first?.status).toBe('pass');
    expect(first?.detail).toBe(
      `Nix's narinfo disk cache: cannot read ${DATABASE} (root (the nix-daemon)'s): run with sudo to see which paths Nix remembers as missing`,
    );
    expect(other?.status).toBe('pass');
    expect(other?.detail).toBeUndefined();
    for (const f of [first, other])
      expect(f?.data?.diskCache).toEqual({ state: 'unreadable', path: DATABASE, owner: 'root (the nix-daemon)' });
  });
});

describe('signature check: a --sample of another store directory', () => {
  it('skips, saying the path is not in the store of this machine, instead of failing the cache', async () => {
    const foreign = `/gnu/store/${LEAF_A.slice('/nix/store/'.length)}`;
    const { finding } = await check({ conf: conf(TRUST_LAN), run: { samples: [foreign] }, script: { http: served('signed-lan') } });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('sample not in store');
    expect(finding.summary).toBe(`--sample ${foreign} is not in this machine's store /nix/store`);
  });
});
