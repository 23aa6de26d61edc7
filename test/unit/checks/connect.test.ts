import { describe, expect, it } from 'vitest';
import { connect } from '../../../checks/connect.js';
import type { CacheTarget } from '../../../src/discover/types.js';
import type { Finding, Results } from '../../../src/runner/check.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

/** Runs the connect check against the first cache of WORLD, with RESULTS built for that cache. */
async function runConnect(world: World, results: (cache: CacheTarget) => Results = () => fakeResults()): Promise<Finding> {
  const { facts, caches } = fakeFacts(world);
  const cache = caches[0]!;
  return connect.run(facts, cache, results(cache));
}

const LAN = 'http://10.0.0.5:5000';
/** A LAN substituter configured in nix.conf, with Nix's defaults (connect-timeout 0, no fallback). */
const lan = (script: World['script'] = {}, run?: World['run']): World => ({
  conf: `substituters = ${LAN}`,
  script,
  ...(run ? { run } : {}),
});
const HTTPS = 'https://cache.example.org';
const https = (script: World['script'] = {}): World => ({
  caches: [HTTPS],
  script: { resolve: { 'cache.example.org': ['203.0.113.7'] }, tcp: { '203.0.113.7:443': 'open' }, ...script },
});
const DEAD_CACHE = `disabling binary cache '${LAN}' for 60 seconds`;

describe('connect check: file stores', () => {
  it('passes when the cache directory exists', async () => {
    const f = await runConnect({ caches: ['file:///srv/cache'], script: { files: { '/srv/cache': { directory: true } } } });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('the cache directory /srv/cache exists');
    expect(f.data).toEqual({ path: '/srv/cache' });
  });

  it('fails when the cache directory is missing, telling how to create it', async () => {
    const f = await runConnect({ caches: ['file:///srv/cache'] });
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('the cache directory /srv/cache does not exist');
    expect(f.fix).toContain('nix copy --to file:///srv/cache');
  });

  it('fails when the cache path is a regular file rather than a directory', async () => {
    const f = await runConnect({ caches: ['file:///srv/cache'], script: { files: { '/srv/cache': 'not a directory' } } });
    expect(f.status).toBe('fail');
    expect(f.fix).toContain('fix the path in substituters');
  });
});

describe('connect check: stores it does not connect to', () => {
  it.each(['daemon', 'local'])('skips a %s store, naming its type', async (url) => {
    const f = await runConnect({ caches: [url] });
    expect(f.status).toBe('skip');
    expect(f.summary).toBe(`the doctor does not connect to ${url} stores`);
    expect(f.reason).toBe(`${url} store`);
  });
});

describe('connect check: DNS', () => {
  it('fails with curl error 6 when the host name does not resolve, listing the resolvers from /etc/resolv.conf', async () => {
    const f = await runConnect({
      conf: 'substituters = http://cache.lan:5000',
      script: {
        resolve: { 'cache.lan': 'ENOTFOUND' },
        files: { '/etc/resolv.conf': '# generated\nnameserver 10.0.0.1\nsearch lan\nnameserver 1.1.1.1\n' },
      },
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain("cannot resolve host name 'cache.lan'");
    expect(f.summary).toContain('ENOTFOUND');
    expect(f.summary).toContain('"Couldn\'t resolve host name (6)"');
    expect(f.detail?.split('\n')[0]).toBe('Resolvers in /etc/resolv.conf: 10.0.0.1, 1.1.1.1');
    expect(f.detail).toContain("disabling binary cache 'http://cache.lan:5000' for 60 seconds");
    expect(f.fix).toContain("Check the spelling of 'cache.lan'");
    expect(f.data).toEqual({ host: 'cache.lan', resolveError: 'ENOTFOUND' });
  });

  it('gives only the dead-cache advice as detail when /etc/resolv.conf names no resolver', async () => {
    const f = await runConnect({ conf: 'substituters = http://cache.lan:5000', script: { resolve: { 'cache.lan': 'EAI_AGAIN' } } });
    expect(f.status).toBe('fail');
    expect(f.data).toMatchObject({ resolveError: 'EAI_AGAIN' });
    expect(f.detail).not.toContain('Resolvers');
    expect(f.detail).toMatch(/^While this cache stays in substituters/);
  });

  it('has no detail for a DNS failure of a cache given on the command line when there are no resolvers to list', async () => {
    const f = await runConnect({ caches: [{ url: 'http://cache.lan:5000', role: 'cli' }] });
    expect(f.status).toBe('fail');
    expect(f.detail).toBeUndefined();
  });
});

describe('connect check: TCP', () => {
  it('fails with curl error 7 when the connection is refused, saying how to start and expose the server', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'refused' } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('connection to 10.0.0.5:5000 refused');
    expect(f.summary).toContain('nothing listens on port 5000');
    expect(f.summary).toContain('"Couldn\'t connect to server (7)"');
    expect(f.fix).toContain('systemctl enable --now nix-serve');
    // An exact port filter: `grep 5000` would also match 50000 and every line with 5000 elsewhere.
    expect(f.fix?.split('\n')).toContain("See where it listens: ss -ltnp 'sport = :5000'");
    expect(f.fix).toContain('networking.firewall.allowedTCPPorts = [ 5000 ];');
    expect(f.data).toEqual({ host: '10.0.0.5', addresses: ['10.0.0.5'], port: 5000, tcp: 'refused', connectMs: 2 });
  });

  it('blames a dropping firewall when the port times out while ping answers', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'timeout' } }), (cache) =>
      fakeResults([{ id: 'ping', cache, status: 'pass', data: { alive: true, rttMs: 0.4 } }]),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('port 5000 timed out after 5.0 s while ping answers in 0.4 ms — a firewall drops it');
    expect(f.fix).toContain('On the cache server, open TCP port 5000');
    expect(f.fix).toContain('iptables -I INPUT -p tcp --dport 5000 -j ACCEPT');
    expect(f.data).toMatchObject({ tcp: 'timeout', pingAlive: true });
    expect(f.detail).toContain(DEAD_CACHE);
  });

  it('says the host is down or filtered, with curl error 28, when the port times out and ping failed too', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'timeout' } }), (cache) =>
      fakeResults([{ id: 'ping', cache, status: 'fail', data: { alive: false } }]),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toContain('connecting to 10.0.0.5:5000 timed out after 5.0 s and ping gets no reply either');
    expect(f.summary).toContain('the host is down or everything is filtered');
    expect(f.summary).toContain('"Timeout was reached (28)"');
    expect(f.summary).not.toContain('a firewall drops it');
    expect(f.data).toMatchObject({ tcp: 'timeout', pingAlive: false });
  });

  it('reports a plain timeout, in the run timeout, when ping gave no verdict', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'timeout' } }, { timeoutMs: 2500 }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('connecting to 10.0.0.5:5000 timed out after 2.5 s — Nix reports "Timeout was reached (28)"');
    expect(f.data).toMatchObject({ pingAlive: false });
  });

  it('does not claim ping got no reply when the ping check ran but could not ping', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'timeout' } }), (cache) =>
      fakeResults([{ id: 'ping', cache, status: 'skip', data: {}, reason: 'ping is not installed' }]),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('connecting to 10.0.0.5:5000 timed out after 5.0 s — Nix reports "Timeout was reached (28)"');
  });

  it('blames a REJECT rule, not the network, when TCP gets host-unreachable while ping answers', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'unreachable' } }), (cache) =>
      fakeResults([{ id: 'ping', cache, status: 'pass', data: { alive: true, rttMs: 0.4 } }]),
    );
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(
      /^port 5000 gets "host unreachable" \(EHOSTUNREACH\) while 10\.0\.0\.5 answers ping: a firewall REJECT rule answers/,
    );
    expect(f.fix).toContain('iptables -I INPUT -p tcp --dport 5000 -j ACCEPT');
  });

  it('fails with the route to check when the network is unreachable', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'unreachable' } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('no route to 10.0.0.5:5000 (EHOSTUNREACH): this machine cannot reach that network');
    expect(f.fix).toContain('ip route get 10.0.0.5');
    expect(f.data).toMatchObject({ tcp: 'unreachable' });
    expect(f.detail).toContain(DEAD_CACHE);
  });

  it('fails, naming the result, on any other connection error', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'error' } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe('connecting to 10.0.0.5:5000 failed (error)');
    expect(f.data).toMatchObject({ tcp: 'error' });
    expect(f.detail).toContain(DEAD_CACHE);
  });

  it('skips, blaming the run deadline, when the connection attempt was cancelled', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'cancelled' } }));
    expect(f.status).toBe('skip');
    expect(f.summary).toBe('not finished by the run deadline');
    expect(f.reason).toBe('deadline');
    expect(f.data).toMatchObject({ tcp: 'cancelled' });
    expect(f.detail).toBeUndefined();
  });

  it('passes an open http port without attempting TLS', async () => {
    const f = await runConnect(lan({ tcp: { '10.0.0.5:5000': 'open' }, tlsFailure: { '10.0.0.5:5000': 'the TLS handshake failed' } }));
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('connected to 10.0.0.5:5000 in 2 ms');
    expect(f.data).toEqual({ host: '10.0.0.5', addresses: ['10.0.0.5'], port: 5000, tcp: 'open', connectMs: 2 });
    expect(f.detail).toBeUndefined();
  });

  it('passes when any of the addresses of the host name accepts the connection, naming that address', async () => {
    const f = await runConnect({
      caches: ['http://cache.lan:5000'],
      script: { resolve: { 'cache.lan': ['10.0.0.8', '10.0.0.9'] }, tcp: { '10.0.0.8:5000': 'timeout', '10.0.0.9:5000': 'open' } },
    });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('connected to 10.0.0.9:5000 in 2 ms');
    expect(f.data).toMatchObject({ host: 'cache.lan', addresses: ['10.0.0.8', '10.0.0.9'], tcp: 'open' });
  });

  it('writes an IPv6 address in brackets before its port', async () => {
    const f = await runConnect({
      caches: ['http://cache.lan:5000'],
      script: { resolve: { 'cache.lan': ['fd77::1'] }, tcp: { 'fd77::1:5000': 'open' } },
    });
    expect(f.summary).toBe('connected to [fd77::1]:5000 in 2 ms');
  });
});

describe('connect check: TLS', () => {
  it.each([
    'the certificate is not signed by a known authority',
    'the certificate has expired',
    'the certificate is for another host name',
    'self-signed chain',
    'expired',
    'unknown authority',
    'host name mismatch',
  ])('fails with curl error 60 when the certificate is refused: %s', async (message) => {
    const f = await runConnect(https({ tlsFailure: { '203.0.113.7:443': message } }));
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      `TLS to cache.example.org:443 failed: ${message} — Nix reports "SSL peer certificate or SSH remote key was not OK (60)"`,
    );
    expect(f.fix).toContain('NIX_SSL_CERT_FILE');
    expect(f.data).toMatchObject({ tcp: 'open', tlsError: message });
  });

  it.each(['the server does not speak TLS on this port', 'the TLS handshake failed'])(
    'fails with curl error 35 when the handshake fails for another reason: %s',
    async (message) => {
      const f = await runConnect(https({ tlsFailure: { '203.0.113.7:443': message } }));
      expect(f.status).toBe('fail');
      expect(f.summary).toBe(`TLS to cache.example.org:443 failed: ${message} — Nix reports "SSL connect error (35)"`);
      expect(f.data).toMatchObject({ tlsError: message });
    },
  );

  it('passes an https cache after the TLS handshake, naming the protocol', async () => {
    const f = await runConnect(https());
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('connected to 203.0.113.7:443 in 2 ms (TLSv1.3)');
    expect(f.data).toEqual({
      host: 'cache.example.org',
      addresses: ['203.0.113.7'],
      port: 443,
      tcp: 'open',
      connectMs: 2,
      tls: 'TLSv1.3',
      tlsMs: 2,
    });
  });
});

describe('connect check: advice about a dead substituter', () => {
  it.each([
    ['substituter', true],
    ['cli', false],
    ['server', false],
  ] as const)('for a %s cache, gives the dead-cache advice in detail: %s', async (role, advised) => {
    const f = await runConnect({ caches: [{ url: LAN, role }] });
    expect(f.status).toBe('fail');
    if (advised) {
      expect(f.detail).toContain(DEAD_CACHE);
      expect(f.detail).toContain('connect-timeout = 5');
      expect(f.detail).toContain('fallback = true');
    } else {
      expect(f.detail).toBeUndefined();
    }
  });

  it('quotes the connect-timeout in force and leaves out the advice already followed', async () => {
    const f = await runConnect({
      conf: `substituters = ${LAN}\nconnect-timeout = 3\nfallback = true`,
      script: { tcp: { '10.0.0.5:5000': 'refused' } },
    });
    expect(f.status).toBe('fail');
    expect(f.detail).toContain('Nix waits up to 3 s (connect-timeout)');
    expect(f.detail).not.toContain('To bound the wait');
    expect(f.detail).not.toContain('Unless fallback is true');
  });
});
