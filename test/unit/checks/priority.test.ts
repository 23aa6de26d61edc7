import { describe, expect, it } from 'vitest';
import { priority } from '../../../checks/priority.js';
import type { CacheTarget } from '../../../src/discover/types.js';
import type { Status } from '../../../src/report/model.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

/** The priority check (step 7): the order Nix tries the substituters in, from earlier checks' results. */

const NIXOS = 'https://cache.nixos.org/';
const LOCAL = 'http://127.0.0.1:5000';
const RESOLVE: Record<string, string[] | string> = {
  'cache.nixos.org': ['151.101.2.217'],
  'cache.example.org': ['203.0.113.7'],
  'nix-community.cachix.org': ['104.26.5.51'],
  'nas.lan': ['192.168.1.20'],
  'split.example.org': ['192.168.1.21', '203.0.113.8'],
};

interface Seen {
  /** The connect check's status (default pass). */
  connect?: Status;
  /** The cache-info check's status (default pass). */
  info?: Status;
  /** The Priority nix-cache-info advertised. */
  priority?: number;
}

/**
 * Runs the check over CACHES (substituters in nix.conf order), each with what the connect and
 * cache-info checks found; `null` for a cache neither check ran on.
 */
async function order(caches: (string | { url: string; role?: CacheTarget['role'] })[], seen: (Seen | null)[] = [], world: World = {}) {
  const fake = fakeFacts({ caches, script: { resolve: RESOLVE }, ...world });
  const entries = fake.caches.flatMap((cache, i) => {
    const s = seen[i];
    if (s === null || s === undefined) return [];
    return [
      { id: 'connect', cache, status: s.connect ?? 'pass' },
      { id: 'cache-info', cache, status: s.info ?? 'pass', data: s.priority === undefined ? {} : { priority: s.priority } },
    ];
  });
  return priority.run(fake.facts, fakeResults(entries));
}

const fixLines = (fix: string | undefined) => fix?.split('\n') ?? [];

describe('priority check: a sound order', () => {
  it('passes when there are no substituters to order', async () => {
    const f = await order([]);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('no substituters to order');
    expect(f.data).toEqual({ order: [] });
  });

  it('orders only substituters, not a --server or --cache target', async () => {
    const f = await order([
      { url: LOCAL, role: 'server' },
      { url: 'https://cache.example.org', role: 'cli' },
    ]);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('no substituters to order');
  });

  it('passes a local cache tried before cache.nixos.org, listing the order with priorities and where each comes from', async () => {
    const f = await order([NIXOS, LOCAL], [{ priority: 40 }, { priority: 30 }]);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(`Nix tries ${LOCAL} (30), then ${NIXOS} (40)`);
    expect(f.detail).toBe(`1. ${LOCAL} — priority 30 (cache-info), local\n2. ${NIXOS} — priority 40 (cache-info), remote`);
    expect(f.fix).toBeUndefined();
    expect(f.data).toEqual({
      order: [
        { order: 1, url: LOCAL, priority: 30, source: 'cache-info', place: 'local', working: true },
        { order: 2, url: NIXOS, priority: 40, source: 'cache-info', place: 'remote', working: true },
      ],
    });
  });

  it('lets ?priority= in the URL override what nix-cache-info advertises', async () => {
    const f = await order([NIXOS, `${LOCAL}?priority=20`], [{ priority: 40 }, { priority: 50 }]);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(`Nix tries ${LOCAL}?priority=20 (20), then ${NIXOS} (40)`);
    expect(f.data).toMatchObject({
      order: [
        { priority: 20, source: 'url' },
        { priority: 40, source: 'cache-info' },
      ],
    });
  });

  it('does not call a tie between two remote caches a problem', async () => {
    const f = await order([NIXOS, 'https://nix-community.cachix.org'], [{ priority: 40 }, { priority: 40 }]);
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(`Nix tries ${NIXOS} (40), then https://nix-community.cachix.org (40)`);
  });

  it('does not blame a failing cache that is tried last', async () => {
    const f = await order([LOCAL, NIXOS], [{ priority: 30 }, { priority: 40, connect: 'fail' }]);
    expect(f.status).toBe('pass');
    expect(f.detail).toContain(`2. ${NIXOS} — priority 40 (cache-info), remote, failing`);
    expect(f.data).toMatchObject({ order: [{ working: true }, { working: false }] });
  });

  it('does not blame a failing cache when no later cache is known to work', async () => {
    const f = await order(['https://cache.example.org?priority=30', `${NIXOS}?priority=40`], [{ connect: 'fail' }, { connect: 'skip' }]);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ order: [{ working: false }, { working: null }] });
  });

  it('does not ask a local cache to advertise a Priority', async () => {
    const f = await order([LOCAL, NIXOS], [{}, { priority: 40 }]);
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ order: [{ url: LOCAL, priority: 0, source: 'default', place: 'local' }, { url: NIXOS }] });
  });
});

describe('priority check: where each cache is', () => {
  it('places a host that resolves only to private addresses on the LAN', async () => {
    const f = await order(['http://nas.lan:5000', NIXOS], [{ priority: 10 }, { priority: 40 }]);
    expect(f.data).toMatchObject({ order: [{ place: 'lan' }, { place: 'remote' }] });
  });

  it('places a host with any public address among its addresses on the Internet', async () => {
    const f = await order(['https://split.example.org', NIXOS], [{ priority: 10 }, { priority: 40 }]);
    expect(f.data).toMatchObject({ order: [{ place: 'remote' }, { place: 'remote' }] });
  });

  it('places an unresolvable .local or single-label host on the LAN, and an unresolvable public-looking name remote', async () => {
    const f = await order(
      ['http://nixcache.local:5000', 'http://nixcache:5000', 'https://gone.example.net'],
      [{ priority: 10 }, { priority: 11 }, { priority: 12 }],
    );
    expect(f.data).toMatchObject({ order: [{ place: 'lan' }, { place: 'lan' }, { place: 'remote' }] });
  });

  it('places a file:// cache on this machine', async () => {
    const f = await order(['file:///var/cache/nix', NIXOS], [{ priority: 10 }, { priority: 40 }]);
    expect(f.data).toMatchObject({ order: [{ place: 'local' }, { place: 'remote' }] });
  });
});

describe('priority check: problems with the order', () => {
  it('warns when a cache on this machine is tried after a remote one, suggesting ?priority=10 for it', async () => {
    const f = await order([NIXOS, LOCAL], [{ priority: 40 }, { priority: 50 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`${LOCAL} is on this machine but is tried after the remote ${NIXOS} (priority 50 vs 40)`);
    expect(fixLines(f.fix)).toEqual([
      `In /etc/nix/nix.conf: substituters = ${NIXOS} ${LOCAL}?priority=10`,
      `NixOS: nix.settings.substituters = [ "${NIXOS}" "${LOCAL}?priority=10" ];`,
      'Lower numbers are tried first: this machine or LAN 10, cache.nixos.org 40, fallbacks 100.',
    ]);
    expect(f.detail).toContain('Order Nix uses (lower priority first, ties in nix.conf order):');
    expect(f.detail).toContain(`2. ${LOCAL} — priority 50 (cache-info), local`);
  });

  it('warns when a cache on the LAN is tried after a remote one, saying it is on your network', async () => {
    const f = await order([NIXOS, 'http://nas.lan:5000'], [{ priority: 40 }, { priority: 50 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`http://nas.lan:5000 is on your network but is tried after the remote ${NIXOS} (priority 50 vs 40)`);
    expect(f.fix).toContain(`substituters = ${NIXOS} http://nas.lan:5000?priority=10`);
  });

  it('passes a tie where the local cache is listed first, so Nix already tries it first, and suggests nothing', async () => {
    const f = await order([LOCAL, NIXOS], [{ priority: 40 }, { priority: 40 }]);
    expect(f.status).toBe('pass');
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({ order: [{ url: LOCAL }, { url: NIXOS }] });
  });

  it('says the tie is why a local cache listed after a remote one with the same priority comes second', async () => {
    const f = await order([NIXOS, LOCAL], [{ priority: 40 }, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      `${LOCAL} is on this machine but is tried after the remote ${NIXOS} (priority 40 vs 40; with equal priorities only their order in nix.conf decides)`,
    );
    expect(f.fix).toContain(`substituters = ${NIXOS} ${LOCAL}?priority=10`);
  });

  it('warns when a failing cache is tried before working ones, suggesting ?priority=100 for it', async () => {
    const f = await order(['https://cache.example.org', NIXOS], [{ priority: 30, connect: 'fail' }, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`https://cache.example.org fails but is tried before ${NIXOS}: every lookup waits on it first`);
    expect(f.fix).toContain(`substituters = https://cache.example.org?priority=100 ${NIXOS}`);
    expect(f.detail).toContain('1. https://cache.example.org — priority 30 (cache-info), remote, failing');
  });

  it('counts a cache whose nix-cache-info fails as failing, though it connects', async () => {
    const f = await order(['https://cache.example.org', NIXOS], [{ priority: 30, info: 'fail' }, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`https://cache.example.org fails but is tried before ${NIXOS}: every lookup waits on it first`);
  });

  it('names every working cache a failing one delays', async () => {
    const f = await order(
      ['http://nas.lan:5000', LOCAL, NIXOS],
      [{ priority: 5, connect: 'fail' }, { priority: 10 }, { priority: 40, info: 'warn' }],
    );
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`http://nas.lan:5000 fails but is tried before ${LOCAL}, ${NIXOS}: every lookup waits on it first`);
  });

  it('replaces an existing ?priority= in the suggested URL, keeping its other settings', async () => {
    const f = await order(['https://cache.example.org?priority=30&trusted=1', NIXOS], [{ connect: 'fail' }, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.fix).toContain(`substituters = https://cache.example.org?trusted=1&priority=100 ${NIXOS}`);
  });

  it('prefers ?priority=100 for a failing cache that is also misplaced after a remote one', async () => {
    const f = await order(
      [NIXOS, LOCAL, 'https://nix-community.cachix.org'],
      [{ priority: 40 }, { priority: 45, connect: 'fail' }, { priority: 50 }],
    );
    expect(f.status).toBe('warn');
    expect(f.summary).toContain(`${LOCAL} is on this machine but is tried after the remote ${NIXOS}`);
    expect(f.detail).toContain(`${LOCAL} fails but is tried before https://nix-community.cachix.org`);
    expect(f.fix).toContain(`${LOCAL}?priority=100`);
    expect(f.fix).not.toContain(`${LOCAL}?priority=10 `);
  });

  it('warns when a remote cache advertises no Priority, so Nix tries it first, suggesting ?priority=50', async () => {
    const f = await order([NIXOS, 'https://cache.example.org'], [{ priority: 40 }, {}]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(
      `https://cache.example.org advertises no Priority in nix-cache-info, so Nix gives it 0 and tries it before ${NIXOS} (40)`,
    );
    // The line keeps nix.conf's order: only the ?priority= changes.
    expect(fixLines(f.fix)[0]).toBe(`In /etc/nix/nix.conf: substituters = ${NIXOS} https://cache.example.org?priority=50`);
    expect(f.data).toMatchObject({ order: [{ url: 'https://cache.example.org', priority: 0, source: 'default' }, { url: NIXOS }] });
  });

  it('does not ask a failing remote cache to advertise a Priority', async () => {
    const f = await order([NIXOS, 'https://cache.example.org'], [{ priority: 40 }, { connect: 'fail' }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`https://cache.example.org fails but is tried before ${NIXOS}: every lookup waits on it first`);
    expect(f.detail).not.toContain('advertises no Priority');
    expect(f.fix).toContain('https://cache.example.org?priority=100');
  });

  it('does not reveal a password when suggesting a priority for a cache URL with credentials', async () => {
    const f = await order(['https://alice:s3cret@cache.example.org', NIXOS], [{}, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.fix).toContain(`substituters = https://alice:***@cache.example.org?priority=50 ${NIXOS}`);
    expect(JSON.stringify(f)).not.toContain('s3cret');
  });

  it('warns that a ?priority= that is not an integer makes Nix refuse the store URL', async () => {
    const f = await order([`${NIXOS}?priority=high`], [{ priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`${NIXOS}?priority=high: ?priority=high is not an integer; Nix refuses this store URL`);
    expect(f.data).toMatchObject({ order: [{ priority: 40, source: 'cache-info' }] });
  });

  it.each(['daemon', 'local', 'auto'])("warns that the store '%s' does not belong in substituters", async (store) => {
    const f = await order([store, NIXOS], [null, { priority: 40 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`${store} is a Nix store, not a binary cache: it does not belong in substituters`);
    // No nix-cache-info for a store: its priority is not known, so it is listed after the ordered ones.
    expect(f.data).toMatchObject({
      order: [
        { url: NIXOS, order: 1 },
        { url: store, place: 'local', order: null, priority: null },
      ],
    });
  });
});

describe('priority check: priorities that were not read', () => {
  it('calls the priority of a cache whose nix-cache-info was not read unknown, orders the known ones, and suggests nothing', async () => {
    const f = await order(
      [NIXOS, 'https://nix-community.cachix.org?priority=1', 'https://devenv.cachix.org?priority=16'],
      [null, null, null],
    );
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'Nix tries https://nix-community.cachix.org?priority=1 (1), then https://devenv.cachix.org?priority=16 (16); priority not known for 1',
    );
    expect(f.detail).toContain(`?. ${NIXOS} — priority unknown (nix-cache-info not read), remote`);
    expect(f.detail).toContain(`Priority not known for ${NIXOS}: its nix-cache-info was not read`);
    expect(f.detail).not.toContain('advertises no Priority');
    expect(f.fix).toBeUndefined();
    expect(f.data).toMatchObject({
      order: [
        { order: 1, priority: 1, source: 'url' },
        { order: 2, priority: 16, source: 'url' },
        { url: NIXOS, order: null, priority: null, source: 'unknown' },
      ],
    });
  });

  it('does not judge a local cache after a remote one when either priority is unknown', async () => {
    const f = await order([NIXOS, LOCAL], [null, { priority: 50 }]);
    expect(f.status).toBe('pass');
    expect(f.fix).toBeUndefined();
  });

  it('says so when no priority at all is known', async () => {
    const f = await order([NIXOS, LOCAL], [null, null]);
    expect(f.summary).toBe('priority not known for any substituter (nix-cache-info not read)');
  });
});

describe('priority check: fixes that change the order', () => {
  it('suggests a priority below an explicit remote one when the convention (10) would not put the local cache first', async () => {
    const f = await order([`${NIXOS}?priority=5`, LOCAL], [{ priority: 40 }, { priority: 30 }]);
    expect(f.status).toBe('warn');
    expect(fixLines(f.fix)[0]).toBe(`In /etc/nix/nix.conf: substituters = ${NIXOS}?priority=5 ${LOCAL}?priority=4`);
  });

  it('warns without a fix line when no ?priority= the doctor would suggest changes the order', async () => {
    const f = await order([`${NIXOS}?priority=0`, LOCAL], [{ priority: 40 }, { priority: 30 }]);
    expect(f.status).toBe('warn');
    expect(f.summary).toContain(`${LOCAL} is on this machine but is tried after the remote ${NIXOS}?priority=0`);
    expect(f.fix).toBeUndefined();
  });
});

describe('priority check: URLs Nix cannot open', () => {
  it.each(['$EXTRA_SUBSTITUTERS', '"https://a.cachix.org', 'https://b.cachix.org"', '\\', '['])(
    'does not place %j on this machine: Nix skips it, so it is outside the order',
    async (url) => {
      const f = await order([url, NIXOS], [null, { priority: 40 }]);
      expect(f.data).toMatchObject({
        order: [
          { url: NIXOS, order: 1 },
          { place: 'unusable', order: null },
        ],
      });
      expect(f.detail).toContain('not a store URL Nix can open: Nix skips it');
      expect(f.detail).not.toContain('local');
    },
  );
});

describe('priority check: no network of its own', () => {
  it('does not resolve a host name the connect check did not resolve, and places it by its name', async () => {
    const fake = fakeFacts({ caches: ['http://nas.lan:5000', 'https://cache.example.org'], script: { resolve: RESOLVE } });
    const f = await priority.run(fake.facts, fakeResults());
    expect(fake.evidence.filter((e) => e.kind === 'dns')).toEqual([]);
    expect(f.data).toMatchObject({ order: [{ place: 'lan' }, { place: 'remote' }] });
  });

  it('reuses the resolution of a host the connect check resolved', async () => {
    const fake = fakeFacts({ caches: ['https://split.example.org'], script: { resolve: RESOLVE } });
    const [cache] = fake.caches;
    const f = await priority.run(fake.facts, fakeResults([{ id: 'connect', cache, status: 'pass' }]));
    expect(fake.evidence.filter((e) => e.kind === 'dns').map((e) => 'host' in e && e.host)).toEqual(['split.example.org']);
    expect(f.data).toMatchObject({ order: [{ place: 'remote' }] });
  });
});
