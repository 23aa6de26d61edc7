import { describe, expect, it } from 'vitest';
import { type CoverageReport, NO_COUNTS, renderCoverageMarkdown, renderCoverageTable } from '../../src/report/coverage.js';
import { unreadDocumentHead } from '../../src/report/paths-common.js';
import { renderWhyMarkdown, renderWhyTable, type WhyReport } from '../../src/report/why.js';

const PATH = '/nix/store/0zlzbz5lcgk34s3a97hxfgwkzc2r7wxj-nixcache-fixture-leaf-a';
const URL = 'http://127.0.0.1:5000';
const cacheEntry = { url: URL, order: 1, priority: 0, prioritySource: 'default' as const, used: true, unusedReason: null };

function whyReport(over: { keys?: string[]; reason?: string; fix?: string | null; paths?: number } = {}): WhyReport {
  const keys = over.keys ?? ['lan-cache-1'];
  const one = {
    argument: PATH,
    path: PATH,
    verdict: 'build' as const,
    from: null,
    reason: over.reason ?? `${URL} has it, signed by ${keys.join(', ')}, which trusted-public-keys does not name`,
    fix: over.fix === undefined ? `Trust its key — /etc/nix/nix.conf: extra-trusted-public-keys = ${keys[0]}:<public key>` : over.fix,
    caches: [
      {
        url: URL,
        order: 1,
        used: true,
        narinfo: 'present' as const,
        narinfoDetail: null,
        signature: 'untrusted' as const,
        keys,
        nar: 'ok' as const,
        narDetail: null,
        compression: 'xz',
        decodable: true,
        diskCache: 'none' as const,
        diskCacheExpires: null,
      },
    ],
  };
  const n = over.paths ?? 1;
  return {
    ...unreadDocumentHead('why'),
    caches: [cacheEntry],
    paths: Array.from({ length: n }, () => one),
    errors: [],
    summary: { valid: 0, substitute: 0, build: n },
    complete: true,
  };
}

function coverageReport(counts: Partial<typeof NO_COUNTS>, paths = 5): CoverageReport {
  return {
    ...unreadDocumentHead('coverage'),
    closure: true,
    roots: [PATH],
    paths,
    available: 0,
    caches: [{ ...cacheEntry, ...NO_COUNTS, ...counts }],
    missing: Array.from({ length: paths }, () => PATH),
    holes: [],
    errors: [],
    requests: { total: 0, retries: 0, rateLimited: 0 },
    complete: true,
  };
}

const longest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

describe('why and coverage reports cut what a cache supplied, and count in words', () => {
  it('cuts a 50,000-character Sig: key name in the table and the Markdown, saying how much was cut', () => {
    const huge = 'k'.repeat(50_000);
    const report = whyReport({ keys: [huge] });
    for (const text of [renderWhyTable(report, { width: 100, color: false }), renderWhyMarkdown(report)]) {
      expect(longest(text)).toBeLessThan(2_200);
      expect(text.replace(/\s+/g, ' ')).toMatch(/k… \(49,000 more characters\)\)/);
    }
    // The JSON document keeps the value whole.
    expect(report.paths[0]?.caches[0]?.keys[0]).toHaveLength(50_000);
  });

  it('cuts a narinfo naming a thousand keys, joined, in the cache line and the Markdown row', () => {
    const report = whyReport({ keys: Array.from({ length: 1000 }, (_, i) => `key-${i}-${'x'.repeat(40)}`) });
    for (const text of [renderWhyTable(report, { width: 100, color: false }), renderWhyMarkdown(report)]) {
      expect(longest(text)).toBeLessThan(2_200);
      expect(text.replace(/\s+/g, ' ')).toMatch(/and 9\d\d more keys/);
    }
  });

  it('says 1 path, not 1 paths, in the why and coverage headers', () => {
    expect(renderWhyMarkdown(whyReport())).toContain('1 path: 0 valid');
    expect(renderWhyTable(whyReport(), { width: 100, color: false })).toContain('1 path: 0 valid');
    expect(renderWhyMarkdown(whyReport({ paths: 2 }))).toContain('2 paths: 0 valid');
    const one = coverageReport({ missing: 1 }, 1);
    expect(renderCoverageMarkdown(one)).toContain('1 path (closures):');
    expect(renderCoverageMarkdown(one)).not.toContain('1 paths');
    expect(renderCoverageTable(one, { width: 100, color: false })).not.toContain('1 paths');
    const remembered = renderCoverageTable(coverageReport({ present: 1, diskNegative: 1 }, 1), { width: 200, color: false });
    expect(remembered).toContain('1 path it has is remembered as missing');
  });

  it('shows unreachable caches as unreachable, not as errors, in the table (wide and narrow) and the Markdown', () => {
    const report = coverageReport({ unreachable: 5 });
    const wide = renderCoverageTable(report, { width: 200, color: false });
    const header = wide.split('\n').find((l) => l.includes('untrusted')) as string;
    const row = wide.split('\n').find((l) => l.includes(URL)) as string;
    const cells = row.trim().split(/\s{2,}/);
    const names = header.trim().split(/\s{2,}/);
    expect(cells[names.indexOf('unreachable')]).toBe('5');
    expect(cells[names.indexOf('error')]).toBe('0');
    const narrow = renderCoverageTable(report, { width: 60, color: false });
    expect(narrow.replace(/\s+/g, ' ')).toContain('0 error, 5 unreachable');
    const markdown = renderCoverageMarkdown(report);
    const mdHead = markdown.split('\n').find((l) => l.startsWith('| order')) as string;
    const mdRow = markdown.split('\n').find((l) => l.startsWith('| 1 ')) as string;
    const at = mdHead.split('|').map((c) => c.trim());
    const values = mdRow.split('|').map((c) => c.trim());
    expect(values[at.indexOf('unreachable')]).toBe('5');
    expect(values[at.indexOf('error')]).toBe('0');
  });

  it('ends the list of cache notes before the disk-cache line in the Markdown (it was glued to the last note)', () => {
    const report = coverageReport({ unreachable: 5 });
    report.caches = report.caches.map((c) => ({ ...c, used: false, unusedReason: 'the nix-daemon does not use it for this user' }));
    const markdown = renderCoverageMarkdown(report);
    expect(markdown).toContain('is not used: the nix-daemon does not use it');
    const lines = markdown.split('\n');
    const disk = lines.findIndex((l) => l.startsWith("Nix's narinfo disk cache:"));
    expect(lines[disk - 1]).toBe('');
  });
});
