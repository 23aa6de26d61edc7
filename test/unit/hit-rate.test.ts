import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hitRate } from '../../checks/hit-rate.js';
import { type HitRateFact, MAX_LOG_BYTES, readHitRate } from '../../src/facts/hit-rate.js';
import { accessLogHitRate, MAX_LINE_LENGTH, parseAccessLogLine, parseLogTime } from '../../src/host/access-log.js';
import { harmoniaHitRate } from '../../src/host/harmonia.js';
import { HASH_PART, type HitRate, parseDuration } from '../../src/host/hit-rate.js';
import { parseExposition, parseSampleLine } from '../../src/host/prom-text.js';
import { cacheTarget, fakeFacts, fakeResults, scriptedIo } from '../helpers/facts.js';
import { FIXTURES } from '../helpers/servers.js';

const NGINX_LOG = readFileSync(join(FIXTURES, 'server', 'nginx-access.log'), 'utf8');
const HARMONIA = readFileSync(join(FIXTURES, 'server', 'harmonia-metrics.txt'), 'utf8');
const ALL_TIME = { sinceMs: 0, nowMs: Date.UTC(2100, 0, 1) };
const MISSING = '00000000000000000000000000000000';

describe('access logs in the combined format', () => {
  it('reads the log nginx wrote while Nix substituted three paths and asked for one it lacks', () => {
    const h = accessLogHitRate(NGINX_LOG, ALL_TIME);
    // Nix 2.8 sent HEAD and GET for the app's narinfo, GET for each leaf, HEAD + 2 GET for the missing one.
    expect(h).toMatchObject({ source: 'access-log', requests: 12, narinfoRequests: 8, narinfoHits: 5, narinfoMisses: 3 });
    expect(h.hitRatio).toBeCloseTo(5 / 8);
    expect(h).toMatchObject({ narRequests: 3, narBytes: 128 + 128 + 224, serverErrors: 0, skipped: 0 });
    expect(h.topMissing).toEqual([{ hash: MISSING, count: 3 }]);
    expect(h.from).toBe('2026-11-25T10:23:50.000Z');
  });

  it('counts only the lines inside the window', () => {
    const at = Date.UTC(2026, 10, 25, 10, 23, 50);
    expect(accessLogHitRate(NGINX_LOG, { sinceMs: at + 1000, nowMs: at + 3_600_000 }).requests).toBe(0);
    expect(accessLogHitRate(NGINX_LOG, { sinceMs: at - 1000, nowMs: at }).requests).toBe(12);
  });

  it.each([
    ['25/Nov/2026:10:23:50 +0000', Date.UTC(2026, 10, 25, 10, 23, 50)],
    ['25/Nov/2026:11:23:50 +0100', Date.UTC(2026, 10, 25, 10, 23, 50)],
    ['01/Jan/2027:00:00:00 -0530', Date.UTC(2027, 0, 1, 5, 30, 0)],
    ['25/Foo/2026:10:23:50 +0000', undefined],
    ['25/Nov/2026:25:23:50 +0000', undefined],
    ['25/Nov/2026 10:23:50', undefined],
  ])('reads the time %s', (text, expected) => {
    expect(parseLogTime(text)).toBe(expected);
  });

  it('reads a request with an escaped quote and a query string, and strips the query', () => {
    const e = parseAccessLogLine(`10.0.0.9 - alice [25/Nov/2026:10:00:00 +0000] "GET /nar/x.nar.xz?a=\\"b HTTP/2.0" 206 99 "-" "Nix"`);
    expect(e).toMatchObject({ method: 'GET', path: '/nar/x.nar.xz', status: 206, bytes: 99 });
  });

  it('skips lines it cannot read and counts them, without looking into overlong ones', () => {
    const junk = ['not a log line', `127.0.0.1 - - [x] "GET / HTTP/1.1" 200 1`, 'x'.repeat(MAX_LINE_LENGTH + 1), '\u001b[31mred\u001b[0m'];
    const h = accessLogHitRate([...junk, NGINX_LOG].join('\n'), ALL_TIME);
    expect(h.skipped).toBe(junk.length);
    expect(h.requests).toBe(12);
  });

  it('never repeats a requested path unless it is a store hash part', () => {
    const line = (path: string) => `127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET ${path} HTTP/1.1" 404 0 "-" "x"`;
    const h = accessLogHitRate(
      [line('/\u001b]0;pwned\u0007.narinfo'), line('/../../etc/passwd.narinfo'), line(`/${MISSING}.narinfo`)].join('\n'),
      ALL_TIME,
    );
    expect(h.topMissing).toEqual([{ hash: MISSING, count: 1 }]);
  });
});

describe("harmonia's /metrics", () => {
  it('adds up narinfo hits and misses, NAR requests and 5xx from harmonia_http_requests_total', () => {
    const h = harmoniaHitRate(HARMONIA) as HitRate;
    expect(h).toMatchObject({
      source: 'harmonia',
      narinfoRequests: 248,
      narinfoHits: 185,
      narinfoMisses: 60,
      narRequests: 152,
      serverErrors: 3,
    });
    expect(h.requests).toBe(413);
    expect(h.hitRatio).toBeCloseTo(185 / 245);
    expect(h.narBytes).toBeNull();
  });

  it('says nothing when the text is not harmonia’s', () => {
    expect(harmoniaHitRate('# TYPE up gauge\nup 1\n')).toBeUndefined();
    expect(harmoniaHitRate('<html>nginx</html>')).toBeUndefined();
  });

  it('does not believe negative or infinite counters', () => {
    const h = harmoniaHitRate(
      'harmonia_http_requests_total{path="/{hash}.narinfo",status="200"} -5\nharmonia_http_requests_total{path="/{hash}.narinfo",status="404"} +Inf\n',
    );
    expect(h).toMatchObject({ narinfoRequests: 0, skipped: 2 });
  });
});

describe('the Prometheus text format', () => {
  it.each([
    ['up 1', { name: 'up', labels: {}, value: 1 }],
    ['a_b:c{x="1",y="two words"} 2.5e3 1700000000000', { name: 'a_b:c', labels: { x: '1', y: 'two words' }, value: 2500 }],
    ['m{le="+Inf",} +Inf', { name: 'm', labels: { le: '+Inf' }, value: Number.POSITIVE_INFINITY }],
    ['m{v="a\\"b\\\\c\\nd"} 0', { name: 'm', labels: { v: 'a"b\\c\nd' }, value: 0 }],
  ])('reads %s', (line, expected) => {
    expect(parseSampleLine(line)).toEqual(expected);
  });

  it.each(['', '1up 1', 'up', 'up one', 'm{x=1} 1', 'm{x="1"', 'm{x="\\q"} 1', 'm{x="1"}1', 'up 1 2 3'])('rejects %j', (line) => {
    expect(parseSampleLine(line)).toBeUndefined();
  });

  it('stops at its sample limit and says so', () => {
    const parsed = parseExposition('a 1\nb 2\nc 3\n', { maxSamples: 2 });
    expect(parsed.samples.map((s) => s.name)).toEqual(['a', 'b']);
    expect(parsed.truncated).toBe(true);
  });
});

describe('--since durations', () => {
  it.each([
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['90s', 90_000],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '1', 'h', '-1h', '1y', '0s', '400d', `${'1h'.repeat(40)}`])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('bad-input corpus: the server-side parsers never throw and stay bounded', () => {
  const mutate = (seed: string) =>
    fc
      .tuple(fc.nat(seed.length), fc.nat(40), fc.string({ unit: 'binary', maxLength: 60 }))
      .map(([at, cut, junk]) => seed.slice(0, at) + junk + seed.slice(Math.min(seed.length, at + cut)));
  const input = (seed: string) => fc.oneof(mutate(seed), fc.string({ unit: 'binary', maxLength: 400 }));

  it('access logs: figures are whole, non-negative and consistent; only hash parts come out', () => {
    fc.assert(
      fc.property(input(NGINX_LOG), (text) => {
        const h = accessLogHitRate(text, ALL_TIME);
        for (const n of [
          h.requests,
          h.narinfoRequests,
          h.narinfoHits,
          h.narinfoMisses,
          h.narRequests,
          h.narBytes ?? 0,
          h.serverErrors,
          h.skipped,
        ])
          expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
        expect(h.narinfoHits + h.narinfoMisses).toBeLessThanOrEqual(h.narinfoRequests);
        expect(h.narinfoRequests + h.narRequests).toBeLessThanOrEqual(h.requests);
        expect(h.topMissing.length).toBeLessThanOrEqual(5);
        for (const m of h.topMissing) expect(HASH_PART.test(m.hash)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('exposition text and harmonia figures', () => {
    fc.assert(
      fc.property(input(HARMONIA), (text) => {
        const parsed = parseExposition(text);
        for (const s of parsed.samples) expect(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(s.name)).toBe(true);
        const h = harmoniaHitRate(text);
        if (h) expect(h.narinfoHits + h.narinfoMisses).toBeLessThanOrEqual(h.narinfoRequests);
      }),
      { numRuns: 400 },
    );
  });
});

describe('where the hit-rate fact looks', () => {
  const world = (over: Partial<Parameters<typeof readHitRate>[2]> = {}) => ({
    targets: [],
    server: true,
    systemd: async () => ({ available: false as const, reason: 'no systemd' }),
    listeners: async () => ({ list: [], source: 'ss' }),
    now: () => Date.UTC(2026, 10, 25, 10, 30),
    ...over,
  });

  it('reads the end of --access-log with tail, its lines kept out of the evidence', async () => {
    const calls: string[] = [];
    const evidence: unknown[] = [];
    const io = scriptedIo({ files: { '/var/log/nginx/access.log': NGINX_LOG }, exec: { 'tail -c': NGINX_LOG } }, calls, (e) =>
      evidence.push(e),
    );
    const fact = await readHitRate(io, { accessLog: '/var/log/nginx/access.log', sinceMs: 3_600_000 }, world());
    expect(calls).toEqual([`tail -c ${MAX_LOG_BYTES} -- /var/log/nginx/access.log`]);
    expect(fact).toMatchObject({ kind: 'read', source: '/var/log/nginx/access.log', partial: false, hitRate: { narinfoHits: 5 } });
  });

  it('fetches /metrics from a local cache when harmonia listens on its port', async () => {
    const cache = cacheTarget('http://127.0.0.1:5000', 0, 'server', true);
    const io = scriptedIo({ http: { 'http://127.0.0.1:5000/metrics': { status: 200, body: HARMONIA } } });
    const fact = await readHitRate(
      io,
      { sinceMs: 3_600_000 },
      world({
        targets: [cache],
        listeners: async () => ({ list: [{ address: '0.0.0.0', port: 5000, process: 'harmonia' }], source: 'ss' }),
      }),
    );
    expect(fact).toMatchObject({
      kind: 'read',
      source: 'harmonia http://127.0.0.1:5000/metrics',
      sinceMs: null,
      hitRate: { narinfoHits: 185 },
    });
  });

  it('reads nothing on a machine that is not a cache server', async () => {
    const calls: string[] = [];
    const fact = await readHitRate(scriptedIo({}, calls), { sinceMs: 3_600_000 }, world({ server: false }));
    expect(fact.kind).toBe('none');
    expect(calls).toEqual([]);
  });

  it('reads the nix-serve journal for the window when the unit runs', async () => {
    const calls: string[] = [];
    const io = scriptedIo({ exec: { 'journalctl -u nix-serve.service': NGINX_LOG } }, calls);
    const fact = await readHitRate(
      io,
      { sinceMs: 7_200_000 },
      world({
        systemd: async () => ({ available: true, units: [{ Id: 'nix-serve.service', ActiveState: 'active', LoadState: 'loaded' }] }),
      }),
    );
    expect(calls).toEqual(['journalctl -u nix-serve.service -o cat --since -7200s --no-pager']);
    expect(fact).toMatchObject({ kind: 'read', source: 'journalctl -u nix-serve.service', hitRate: { narinfoMisses: 3 } });
  });
});

describe('hit-rate check', () => {
  const run = async (fact: HitRateFact, server = true) =>
    hitRate.run(fakeFacts({ run: { server }, overrides: { hitRate: async () => fact } }).facts, fakeResults());
  const figures = (over: Partial<HitRate>): HitRate => ({ ...(harmoniaHitRate(HARMONIA) as HitRate), serverErrors: 0, ...over });

  it('skips on a machine that is not a cache server', async () => {
    expect(await run({ kind: 'none', why: 'not a cache server' }, false)).toMatchObject({ status: 'skip', reason: 'not a server' });
  });

  it('skips with the flag to give when a server has no log it can find', async () => {
    const f = await run({ kind: 'none', why: 'no access log or server metrics found' });
    expect(f).toMatchObject({ status: 'skip', reason: 'no access log' });
    expect(f.fix).toContain('--access-log');
  });

  it('passes with the figures of a server that has what clients ask for', async () => {
    const f = await run({ kind: 'read', source: 'x', hitRate: figures({}), sinceMs: null, partial: false });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('185 of 245 narinfo requests found (75.5%) since the server started');
  });

  it('warns about 5xx answers', async () => {
    const f = await run({ kind: 'read', source: 'x', hitRate: figures({ serverErrors: 3 }), sinceMs: 3_600_000, partial: false });
    expect(f).toMatchObject({ status: 'warn' });
    expect(f.summary).toMatch(/^3 requests failed on the server \(5xx\) in the last 1 h/);
  });

  it('warns when clients mostly ask for paths the cache lacks, naming the most requested', async () => {
    const h = accessLogHitRate(NGINX_LOG, ALL_TIME);
    const many = { ...h, narinfoHits: 5, narinfoMisses: 30, narinfoRequests: 35, hitRatio: 5 / 35 };
    const f = await run({ kind: 'read', source: '/var/log/nginx/access.log', hitRate: many, sinceMs: 3_600_000, partial: false });
    expect(f.status).toBe('warn');
    expect(f.detail).toContain(`${MISSING} (3×)`);
  });
});
