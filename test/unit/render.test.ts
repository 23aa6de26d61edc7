import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type CheckResult, type Report, rankFixes } from '../../src/report/model.js';
import { renderTable } from '../../src/report/table.js';
import { wrapFixLine, wrapWords } from '../../src/report/text.js';
import type { Evidence } from '../../src/system/evidence.js';

/** Renderers over a synthetic report: layout rules, ranking, and that the cost grows with the text, not its square. */

function result(over: Partial<CheckResult> & Pick<CheckResult, 'id' | 'status'>): CheckResult {
  return {
    title: over.id,
    cache: null,
    summary: `${over.id} says something`,
    detail: null,
    fix: null,
    reason: over.status === 'skip' ? 'skipped' : null,
    data: {},
    evidence: [],
    durationMs: 1,
    ...over,
  };
}

function report(checks: CheckResult[], caches: Report['caches'] = []): Report {
  const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) summary[c.status]++;
  return {
    schemaVersion: 1,
    tool: { name: 'nixcache', version: '0.0.0' },
    generatedAt: '2026-11-25T00:00:00.000Z',
    durationMs: 10,
    environment: {
      os: 'linux',
      arch: 'x64',
      nixVersion: '2.8.0',
      user: 'alice',
      uid: 1000,
      groups: [],
      root: false,
      multiUser: false,
      trustedUser: true,
      storeDir: '/nix/store',
      sandbox: null,
    },
    config: { files: [], substituters: caches.map((c) => c.url), trustedPublicKeys: [], requireSigs: true },
    caches,
    checks,
    summary,
    fixFirst: rankFixes(checks, caches),
  };
}

const A = 'http://a.example:5000';
const B = 'http://b.example:5000';
const caches: Report['caches'] = [
  { url: A, role: 'substituter', local: false, priority: 10, prioritySource: 'url', order: 1 },
  { url: B, role: 'substituter', local: false, priority: 40, prioritySource: 'cache-info', order: 2 },
];

describe('Fix first', () => {
  it('ranks failures before warnings, then by how much they block substitution, then by the cache Nix tries first', () => {
    const ranked = rankFixes(
      [
        result({ id: 'ping', cache: B, status: 'warn' }),
        result({ id: 'signature', cache: B, status: 'fail', fix: '\nTrust the key — x = y\nmore' }),
        result({ id: 'connect', cache: B, status: 'fail' }),
        result({ id: 'connect', cache: A, status: 'fail' }),
        result({ id: 'priority', status: 'warn' }),
        result({ id: 'config', status: 'pass' }),
      ],
      caches,
    );
    expect(ranked.map((r) => `${r.rank} ${r.id}@${r.cache ?? 'host'}`)).toEqual([
      `1 connect@${A}`,
      `2 connect@${B}`,
      `3 signature@${B}`,
      '4 priority@host',
      `5 ping@${B}`,
    ]);
    expect(ranked[2]?.fix).toBe('Trust the key — x = y');
  });

  it('heads the Markdown report in the same order', () => {
    const md = renderMarkdown(
      report(
        [result({ id: 'ping', cache: A, status: 'warn' }), result({ id: 'connect', cache: B, status: 'fail', fix: 'systemctl start x' })],
        caches,
      ),
    );
    const head = md.slice(0, md.indexOf('## Environment'));
    expect(head).toMatch(
      /## What is wrong, in the order to fix it\n\n1\. \*\*FAIL `connect`\*\* — http:\/\/b\.example:5000[^\n]*\n\n {3}```text\n {3}systemctl start x/,
    );
    expect(head.indexOf('1. **FAIL')).toBeLessThan(head.indexOf('2. **WARN `ping`'));
  });
});

describe('the table', () => {
  it('folds needs-skips and remote server checks into one line naming the cause, and shows them with -v', () => {
    const checks = [
      result({ id: 'service', cache: A, status: 'skip', reason: 'remote cache', summary: 'the cache runs on another host' }),
      result({ id: 'connect', cache: A, status: 'fail', summary: 'refused' }),
      result({ id: 'cache-info', cache: A, status: 'skip', reason: 'needs connect', summary: "not run: needs 'connect', which failed" }),
      result({
        id: 'signature',
        cache: A,
        status: 'skip',
        reason: 'needs cache-info',
        summary: "not run: needs 'cache-info', which was skipped",
      }),
    ];
    const quiet = renderTable(report(checks, caches.slice(0, 1)), { color: false, verbose: false, width: 100 });
    expect(quiet.replace(/\n {3}/g, ' ')).toContain(
      ' – 3 checks not run — service: the cache runs on another host (nixcache doctor --server there); cache-info, signature: connect failed',
    );
    expect(quiet).not.toContain("needs 'connect'");
    const verbose = renderTable(report(checks, caches.slice(0, 1)), { color: false, verbose: true, width: 100 });
    expect(verbose).toContain("not run: needs 'connect', which failed");
    expect(verbose).not.toContain('checks not run');
  });

  it('stacks status, check and result below 72 columns, and wraps headings at spaces, never inside a word', () => {
    const long = `${A}/${'x'.repeat(30)} ${'word '.repeat(20)}`;
    const text = renderTable(
      report([result({ id: 'connect', cache: long, status: 'fail', summary: 'refused' })], [{ ...caches[0]!, url: long }]),
      {
        color: false,
        verbose: false,
        width: 60,
      },
    );
    expect(text).toContain('\n ✘ fail  connect\n     refused\n');
    for (const line of text.split('\n')) expect(line === '' || !/[a-z]-$/.test(line)).toBe(true);
    expect(text).toContain(`${A}/${'x'.repeat(30)}`);
  });

  it('shows a 64 KB value from a cache cut short with its length, in the row, the detail and the fix', () => {
    const storeDir = `/nix/store${'a'.repeat(65_536)}`;
    const checks = [
      result({
        id: 'cache-info',
        cache: A,
        status: 'fail',
        summary: `binary cache is for Nix stores with prefix '${storeDir}'`,
        detail: `StoreDir ${storeDir}`,
        fix: `Point it at a cache for ${storeDir}`,
      }),
    ];
    const text = renderTable(report(checks, caches.slice(0, 1)), { color: false, verbose: false, width: 100 });
    const longest = Math.max(...text.split('\n').map((l) => l.length));
    expect(longest).toBeLessThan(2_100);
    expect(text).toMatch(/…\s+\(64,\d{3}\s+more\s+characters\)/);
    expect(text.length).toBeLessThan(10_000);
  });

  it('says 1 check and 1 cache, not 1 checks', () => {
    const text = renderTable(report([result({ id: 'connect', cache: A, status: 'pass' })], caches.slice(0, 1)), {
      color: false,
      verbose: false,
    });
    expect(text).toMatch(/^nixcache doctor — 1 cache, 1 check: /);
  });

  it('renders -v with a 50-line evidence block in the same order of time as without, and grows linearly with it', () => {
    const evidence = (n: number): Evidence[] =>
      Array.from({ length: n }, (_, i) => ({
        kind: 'http',
        method: 'GET',
        url: `${A}/${'abcdefghij'.repeat(3)}${i}.narinfo`,
        status: 404,
        bytes: 0,
        durationMs: 1,
      }));
    const many = (n: number) =>
      report(
        Array.from({ length: 14 }, (_, i) =>
          result({
            id: `check-${i}`,
            cache: A,
            status: 'fail',
            summary: 'word '.repeat(40),
            fix: 'a b c\n'.repeat(5),
            evidence: evidence(n),
          }),
        ),
        caches.slice(0, 1),
      );
    const time = (r: Report, verbose: boolean) => {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        renderTable(r, { color: true, verbose, width: 80 });
        runs.push(performance.now() - started);
      }
      return runs.sort((a, b) => a - b)[2] as number;
    };
    const r50 = many(50);
    const r500 = many(500);
    time(r500, true); // warm-up
    const plain = time(r50, false);
    const verbose50 = time(r50, true);
    const verbose500 = time(r500, true);
    // Ratios in one process, not wall-clock: 50 evidence lines add text, not a power of it.
    expect(verbose50 / Math.max(plain, 0.05)).toBeLessThan(40);
    expect(verbose500 / Math.max(verbose50, 0.05)).toBeLessThan(30);
  });
});

describe('text layout', () => {
  it('wraps a fix line between the pieces to copy, never inside a command, and prints a long command whole', () => {
    const lines = wrapFixLine(
      'On the cache server, see whether it runs (or harmonia, atticd): systemctl status nix-serve --no-pager --full --lines=50',
      40,
      '  ',
    );
    expect(lines).toContain('  systemctl status nix-serve --no-pager --full --lines=50');
    for (const l of lines) expect(l.length <= 40 || l === '  systemctl status nix-serve --no-pager --full --lines=50').toBe(true);
  });

  it('wraps prose that quotes Nix, and parts two commands or config lines joined by `, then` or `; `', () => {
    const quoted = wrapFixLine(
      'Nix fails with "Permission denied" or "Operation not permitted" on the store before it substitutes anything.',
      40,
      '  ',
    );
    for (const l of quoted) expect(l.length).toBeLessThanOrEqual(40);
    const two = wrapFixLine(
      'systemctl edit nix-daemon → [Service] Environment="https_proxy=http://proxy:3128", then systemctl daemon-reload && systemctl restart nix-daemon',
      80,
      '  ',
    );
    expect(two).toEqual([
      '  systemctl edit nix-daemon →',
      '  [Service] Environment="https_proxy=http://proxy:3128",',
      '  then systemctl daemon-reload && systemctl restart nix-daemon',
    ]);
    // A `;` inside braces belongs to one NixOS setting: never parted there.
    const nixos = 'NixOS: services.nix-serve = { enable = true; bindAddress = "0.0.0.0"; port = 5000; };';
    expect(wrapFixLine(nixos, 40, '  ')).toContain('  services.nix-serve = { enable = true; bindAddress = "0.0.0.0"; port = 5000; };');
  });

  it('cuts a word longer than a whole line where the line ends, from a line of its own', () => {
    expect(wrapWords(`see ${'u'.repeat(30)} now`, 20)).toEqual(['see', 'u'.repeat(20), `${'u'.repeat(10)} now`]);
    expect(wrapWords(`${'u'.repeat(30)}`, 20, '  ', '    ')).toEqual([`  ${'u'.repeat(18)}`, `    ${'u'.repeat(12)}`]);
    // Under an indent that leaves too few columns, the word stays whole rather than in slivers.
    expect(wrapWords(`${'u'.repeat(30)}`, 20, ' '.repeat(10))).toEqual([`${' '.repeat(10)}${'u'.repeat(30)}`]);
  });

  it('puts no line of a row past the width: a title wider than its column, a store path or NAR file name longer than the result column', () => {
    const long = '/nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a-with-a-long-name-1.2.3';
    for (const width of [60, 80, 120]) {
      const text = renderTable(
        report([
          result({
            id: 'nar',
            title: 'NAR file downloads and matches its hashes',
            status: 'pass',
            summary: `nar/${'0'.repeat(52)}.nar.xz: 128 B xz`,
          }),
          result({ id: 'signature', title: 'Signed by a trusted key', status: 'warn', summary: `${long} is signed by no key you trust` }),
        ]),
        { color: false, verbose: false, width },
      );
      const lines = text.split('\n');
      expect(lines.filter((l) => [...l].length > width)).toEqual([]);
      expect(lines.join('')).toContain('NAR file downloads and matches its hashes');
    }
  });
});

describe('said once', () => {
  it('does not repeat a summary that the detail repeats (the same warning twice)', () => {
    const warning = "/etc/nix/nix.conf: '/etc/nix/nix.conf' is not readable by this user";
    const text = renderTable(report([result({ id: 'config', status: 'warn', summary: warning, detail: `${warning}\nanother note` })]), {
      color: false,
      verbose: false,
      width: 200,
    });
    expect(text.split(warning).length - 1).toBe(1 + 1); // the row and the Fix first headline, nothing more
    expect(text).toContain('another note');
  });
});
