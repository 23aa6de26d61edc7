import { describe, expect, it } from 'vitest';
import { cacheInfo } from '../../../checks/cache-info.js';
import { redactPatterns } from '../../../src/report/redact.js';
import type { Finding } from '../../../src/runner/check.js';
import { fakeFacts, fakeResults, type Script, type World } from '../../helpers/facts.js';

/** Runs the cache-info check against the first cache of WORLD. */
async function runCacheInfo(world: World): Promise<Finding> {
  const { facts, caches } = fakeFacts(world);
  return cacheInfo.run(facts, caches[0]!, fakeResults());
}

const LAN = 'http://10.0.0.5:5000';
const INFO_URL = `${LAN}/nix-cache-info`;
/** The LAN cache, a substituter in nix.conf, whose /nix-cache-info answers ANSWER. */
const lan = (answer: NonNullable<Script['http']>[string], world: World = {}): World => ({
  conf: `substituters = ${LAN}`,
  ...world,
  script: { ...world.script, http: { [INFO_URL]: answer } },
});
const NIX_SERVE = 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n';
const DEAD_CACHE = `disabling binary cache '${LAN}' for 60 seconds`;

describe('cache-info check: file caches', () => {
  it('passes a file cache whose nix-cache-info is readable, without a latency', async () => {
    const body = 'StoreDir: /nix/store\nWantMassQuery: 0\nPriority: 50\n';
    const f = await runCacheInfo({ caches: ['file:///srv/cache'], script: { files: { '/srv/cache/nix-cache-info': body } } });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('StoreDir /nix/store, Priority 50, WantMassQuery 0');
    expect(f.data).toEqual({ source: '/srv/cache/nix-cache-info', storeDir: '/nix/store', wantMassQuery: false, priority: 50 });
  });

  it('fails a file cache without nix-cache-info as not a binary cache', async () => {
    const f = await runCacheInfo({ caches: ['file:///srv/cache'] });
    expect(f.status).toBe('fail');
    expect(f.summary).toBe("'file:///srv/cache' does not appear to be a binary cache: '/srv/cache/nix-cache-info' does not exist");
  });

  it('fails a file cache whose nix-cache-info cannot be read, saying why', async () => {
    const f = await runCacheInfo({
      caches: ['file:///srv/cache'],
      script: { files: { '/srv/cache/nix-cache-info': { error: 'EACCES' } } },
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('does not appear to be a binary cache');
    expect(f.summary).toContain('EACCES');
  });
});

describe('cache-info check: stores it cannot read', () => {
  it.each(['ssh://cache.lan', 'ssh-ng://cache.lan', 'daemon'])('skips %s, naming the store type', async (url) => {
    const { facts, caches, evidence } = fakeFacts({ caches: [url] });
    const f = await cacheInfo.run(facts, caches[0]!, fakeResults());
    const scheme = caches[0]!.url.scheme;
    expect(f.status).toBe('skip');
    expect(f.summary).toBe(`the doctor reads nix-cache-info only from http(s), s3 and file caches, not ${scheme}`);
    expect(f.reason).toBe(`${scheme} store`);
    expect(evidence.filter((e) => e.kind === 'http')).toEqual([]);
  });
});

describe('cache-info check: transport failures', () => {
  it('fails an answer too large to be a nix-cache-info as not a binary cache', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: `StoreDir: /nix/store\n${'x'.repeat(70_000)}` }));
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('GET /nix-cache-info: the answer is larger than 65536 B');
    expect(f.summary).toContain('so this is not a binary cache');
    expect(f.detail).toBeUndefined();
    expect(f.data).toMatchObject({ error: 'too-large', bytes: expect.any(Number) });
    expect(f.data?.bytes as number).toBeGreaterThan(65_536);
  });

  it('fails a server that accepts the connection but never answers, advising a restart', async () => {
    const f = await runCacheInfo(lan({ fail: 'no-answer', message: 'no answer to the request' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('the server accepted the connection but sent no answer to GET /nix-cache-info: no answer to the request');
    expect(f.fix).toContain('systemctl restart nix-serve');
    expect(f.detail).toContain(DEAD_CACHE);
    expect(f.data).toEqual({ error: 'no-answer', bytes: 0, latencyMs: 1 });
  });

  it('fails a server whose answer stalls as too slow, pointing at stalled-download-timeout', async () => {
    const f = await runCacheInfo(lan({ fail: 'timeout', message: 'the answer stalled' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('the server is too slow: the answer stalled');
    expect(f.fix).toContain('stalled-download-timeout');
    expect(f.detail).toContain(DEAD_CACHE);
    expect(f.data).toMatchObject({ error: 'timeout' });
  });

  it('fails on too many redirects, suspecting a redirect loop', async () => {
    const f = await runCacheInfo(lan({ fail: 'redirect-loop', message: 'more than 5 redirects' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('GET /nix-cache-info: more than 5 redirects (a redirect loop?)');
    expect(f.fix).toContain('use the final URL in substituters');
    expect(f.data).toMatchObject({ error: 'redirect-loop' });
  });

  it('fails on any other transport error, quoting it', async () => {
    const f = await runCacheInfo(lan({ fail: 'reset', message: 'the connection was closed by the server' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('GET /nix-cache-info failed: the connection was closed by the server');
    expect(f.fix).toBe('Try the request by hand to see the failure whole: curl -sSv http://10.0.0.5:5000/nix-cache-info');
    expect(f.detail).toContain(DEAD_CACHE);
    expect(f.data).toMatchObject({ error: 'reset' });
  });

  it('gives no dead-cache advice for a cache that is not a configured substituter', async () => {
    const f = await runCacheInfo({
      caches: [{ url: LAN, role: 'cli' }],
      script: { http: { [INFO_URL]: { fail: 'no-answer' } } },
    });
    expect(f.status).toBe('fail');
    expect(f.detail).toBeUndefined();
  });
});

describe('cache-info check: S3 buckets', () => {
  const BUCKET = 's3://bucket?endpoint=http://127.0.0.1:9000';
  const BUCKET_INFO = 'http://127.0.0.1:9000/bucket/nix-cache-info';

  it.each([403, 401])('skips a bucket that refuses an anonymous read (%i) as private, with the aws command to check', async (status) => {
    const f = await runCacheInfo({ caches: [BUCKET], script: { http: { [BUCKET_INFO]: { status } } } });
    expect(f.status).toBe('skip');
    expect(f.reason).toBe('private bucket');
    expect(f.summary).toContain(`bucket 'bucket' answered ${status} to an anonymous read: it is private`);
    expect(f.summary).toContain("profile 'default'");
    expect(f.detail).toContain('Read from http://127.0.0.1:9000/bucket.');
    expect(f.fix).toContain('aws s3 ls s3://bucket/nix-cache-info --profile default\n');
    expect(f.data).toMatchObject({ status });
  });

  it("names the bucket's profile and region in the aws command", async () => {
    const f = await runCacheInfo({
      caches: [`${BUCKET}&profile=ci&region=eu-west-1`],
      script: { http: { [BUCKET_INFO]: { status: 403 } } },
    });
    expect(f.status).toBe('skip');
    expect(f.summary).toContain("profile 'ci'");
    expect(f.fix).toContain('aws s3 ls s3://bucket/nix-cache-info --profile ci --region eu-west-1');
  });

  it('fails a bucket without nix-cache-info, telling how nix copy makes one', async () => {
    const f = await runCacheInfo({ caches: [BUCKET] });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('answered 404');
    expect(f.fix).toContain('Check the bucket name and endpoint');
    expect(f.fix).toContain(`nix copy --to '${BUCKET}'`);
  });

  it('passes a public bucket that serves nix-cache-info', async () => {
    const f = await runCacheInfo({ caches: [BUCKET], script: { http: { [BUCKET_INFO]: { status: 200, body: NIX_SERVE } } } });
    expect(f.status).toBe('pass');
    expect(f.summary).toContain('StoreDir /nix/store');
  });
});

describe('cache-info check: HTTP errors', () => {
  it('fails a 401 without credentials, saying the netrc file does not exist', async () => {
    const f = await runCacheInfo(lan({ status: 401 }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      'GET /nix-cache-info answered 401 Unauthorized: no credentials: Nix sends them from netrc-file (now /etc/nix/netrc, which does not exist or is empty)',
    );
    expect(f.fix).toContain('Add to /etc/nix/netrc (mode 600, readable by the nix-daemon):');
    expect(f.fix).toContain('  machine 10.0.0.5 login USER password ***');
    expect(f.fix).toContain('netrc-file = /etc/nix/netrc');
    expect(f.data).toEqual({ status: 401, latencyMs: 3, bytes: 0, redirects: 0, credentials: null, netrcFile: '/etc/nix/netrc' });
  });

  it('fails a 401 when the netrc file has entries, but none for this host', async () => {
    const f = await runCacheInfo(lan({ status: 401 }, { netrc: 'machine other.lan login bob password elsewhere\n' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('no credentials: Nix sends them from netrc-file (now /etc/nix/netrc, which has no entry for this host)');
    expect(f.data).toMatchObject({ credentials: null });
  });

  it('fails a 401 when the netrc credentials were sent and refused, never showing the password', async () => {
    const f = await runCacheInfo(lan({ status: 401 }, { netrc: 'machine 10.0.0.5 login u password s3cr3t-pw\n' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('GET /nix-cache-info answered 401 Unauthorized: credentials from /etc/nix/netrc were sent and refused');
    expect(f.fix).toContain('  machine 10.0.0.5 login u password ***');
    expect(f.data).toMatchObject({ credentials: 'netrc', netrcFile: '/etc/nix/netrc' });
    expect(JSON.stringify(f)).not.toContain('s3cr3t-pw');
  });

  it('fails a 401 when the credentials in the URL were sent and refused, never showing the password', async () => {
    const f = await runCacheInfo({
      caches: ['http://alice:hunter2@10.0.0.5:5000'],
      script: { http: { [INFO_URL]: { status: 401 } } },
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('credentials from the URL were sent and refused');
    expect(f.fix).toContain('login alice password ***');
    expect(f.data).toMatchObject({ credentials: 'url' });
    expect(JSON.stringify(f)).not.toContain('hunter2');
  });

  it('fails a 401 whose host has an access-tokens entry, saying Nix never sends it to a binary cache, and never shows the token', async () => {
    const f = await runCacheInfo(
      lan({ status: 401 }, { conf: `substituters = ${LAN}\naccess-tokens = github.com=ghp_abc 10.0.0.5:5000=tok-s3cr3t-cache` }),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      'GET /nix-cache-info answered 401 Unauthorized: no credentials: Nix sends them from netrc-file (now /etc/nix/netrc, which does not exist or is empty); Nix never sends binary caches the token for 10.0.0.5 in access-tokens',
    );
    expect(f.detail).toContain("gives '10.0.0.5:5000' a token in access-tokens\nbut Nix never sends those to a binary cache");
    expect(f.fix).toContain('  machine 10.0.0.5 password ***');
    expect(f.fix).toMatch(/^10\.0\.0\.5:5000=… \(.*\) serves only .* flake inputs on that host, never the cache: .* access-tokens$/m);
    for (const text of [f.summary, f.detail, f.fix]) expect(redactPatterns(text as string)).toBe(text);
    expect(f.data).toMatchObject({ credentials: null, accessTokens: ['10.0.0.5:5000'] });
    expect(JSON.stringify(f)).not.toContain('tok-s3cr3t-cache');
    expect(JSON.stringify(f)).not.toContain('ghp_abc');
  });

  it('fails a 403 as Forbidden, warning that Nix takes a 403 on a narinfo for "not in cache"', async () => {
    const f = await runCacheInfo(lan({ status: 403 }));
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(/^GET \/nix-cache-info answered 403 Forbidden: no credentials/);
    expect(f.summary).toContain('Nix treats a 403 on a .narinfo as "not in cache"');
    expect(f.summary).toContain('builds silently compile instead');
    expect(f.data).toMatchObject({ status: 403 });
  });

  it('does not add the 403 note to a 401', async () => {
    const f = await runCacheInfo(lan({ status: 401 }));
    expect(f.status).toBe('fail');
    expect(f.summary).not.toContain('not in cache');
  });

  it('fails a 404 as not a binary cache, pointing at the cache root', async () => {
    const f = await runCacheInfo(lan({ status: 404 }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`'${LAN}' does not appear to be a binary cache: /nix-cache-info answered 404`);
    expect(f.fix).toContain('it must be the cache root');
    expect(f.fix).toContain('atticd serves each cache under its name');
    expect(f.data).toMatchObject({ status: 404 });
  });

  it.each([500, 503])('fails a %i as an internal error of the cache server, pointing at its log', async (status) => {
    const f = await runCacheInfo(lan({ status }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`GET /nix-cache-info answered HTTP ${status}: the cache server has an internal error`);
    expect(f.fix).toContain('journalctl -u nix-serve -n 50');
    // Not the dead-cache wait: Nix asks again, then gives up with curl's words.
    expect(f.detail).not.toContain(DEAD_CACHE);
    expect(f.detail).toContain(`"unable to download '${LAN}/nix-cache-info': HTTP error ${status}"`);
    expect(f.detail).toContain('download-attempts = 5');
    expect(f.data).toMatchObject({ status });
  });

  it('fails another unexpected status, naming it without blaming the server', async () => {
    const f = await runCacheInfo(lan({ status: 418 }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('GET /nix-cache-info answered HTTP 418');
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({ status: 418 });
  });
});

describe('cache-info check: the document', () => {
  it('fails an HTML page as not a cache, quoting its first characters', async () => {
    const body = `<!DOCTYPE html><html><body>Please log in${'.'.repeat(200)}</body></html>`;
    const f = await runCacheInfo(lan({ status: 200, body }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`'${LAN}' does not appear to be a binary cache: the answer is an HTML page, not a nix-cache-info document`);
    expect(f.detail).toBe(`The first characters of the answer: ${JSON.stringify(body.slice(0, 120))}`);
    expect(f.fix).toContain('not at a web page or proxy login');
    expect(f.data).toMatchObject({ status: 200 });
  });

  it.each([
    ['', 'the document is empty'],
    ['hello world\n', 'the document has no `Key: value` fields'],
  ])('fails a 200 answer that is not a nix-cache-info document (%j)', async (body, why) => {
    const f = await runCacheInfo(lan({ status: 200, body }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`'${LAN}' does not appear to be a binary cache: ${why}`);
  });

  it.each([['high'], ['99999999999999999999999']])(
    'fails a Priority Nix cannot read (%s): a binary cache all the same, but every substitution stops — the fix is the number',
    async (priority) => {
      const f = await runCacheInfo(lan({ status: 200, body: `StoreDir: /nix/store\nPriority: ${priority}\n` }));
      expect(f.status).toBe('fail');
      expect(f.summary).toBe(
        `Priority '${priority}' is not an integer Nix can read: Nix fails with "error: stoi"; Nix substitutes nothing while this cache is in substituters`,
      );
      expect(f.fix).toMatch(/^On the server, make Priority in nix-cache-info a whole number \(e\.g\. Priority: 30\), or remove /);
    },
  );

  it('fails a cache made for another store directory', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: 'StoreDir: /gnu/store\nWantMassQuery: 1\n' }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(`binary cache '${LAN}' is for Nix stores with prefix '/gnu/store', not '/nix/store'`);
    expect(f.fix).toContain('Remove it from substituters or point it at a cache for /nix/store');
    expect(f.data).toMatchObject({ storeDir: '/gnu/store', wantMassQuery: true, priority: null });
  });

  it("compares StoreDir with this machine's store directory, not with /nix/store", async () => {
    const f = await runCacheInfo(lan({ status: 200, body: NIX_SERVE }, { env: { storeDir: '/opt/nix/store' } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toContain("prefix '/nix/store', not '/opt/nix/store'");
  });

  it('passes, giving StoreDir, Priority and WantMassQuery and the latency in summary and data', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: NIX_SERVE, durationMs: 12 }));
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('StoreDir /nix/store, Priority 30, WantMassQuery 1 in 12 ms');
    expect(f.data).toEqual({
      status: 200,
      latencyMs: 12,
      bytes: NIX_SERVE.length,
      redirects: 0,
      storeDir: '/nix/store',
      wantMassQuery: true,
      priority: 30,
    });
  });

  it('passes a document without StoreDir, saying Nix assumes its own', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: 'WantMassQuery: 0\n' }));
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('StoreDir (none; Nix assumes /nix/store), WantMassQuery 0 in 3 ms');
    expect(f.data).toMatchObject({ storeDir: null, wantMassQuery: false, priority: null });
  });

  it('warns when the answer takes more than half the operation timeout', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: NIX_SERVE, durationMs: 2501 }));
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      `answers, but slowly: 2501 ms for a ${NIX_SERVE.length} B file (StoreDir /nix/store, Priority 30, WantMassQuery 1)`,
    );
    expect(f.detail).toContain('Every narinfo lookup pays this latency');
    expect(f.data).toMatchObject({ latencyMs: 2501, storeDir: '/nix/store', priority: 30, wantMassQuery: true });
  });

  it('does not warn at exactly half the operation timeout', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: NIX_SERVE, durationMs: 2500 }));
    expect(f.status).toBe('pass');
  });

  it('judges slowness against the configured timeout', async () => {
    const f = await runCacheInfo(lan({ status: 200, body: NIX_SERVE, durationMs: 600 }, { run: { timeoutMs: 1000 } }));
    expect(f.status).toBe('warn');
    expect(f.summary).toMatch(/^answers, but slowly: 600 ms/);
  });
});
