import { escapeInline } from './markdown.js';
import {
  type ArgumentProblem,
  argumentErrorsMarkdown,
  type DiskCacheSummary,
  forDisplayDeep,
  type PathsCacheEntry,
  type PathsEnvironment,
} from './paths-common.js';
import { formatBytes, painter, plural, wrapWords } from './text.js';

export interface CoverageCache extends PathsCacheEntry {
  /** Present with a signature Nix accepts (or none needed), and a NAR file that downloads. */
  present: number;
  /**
   * A narinfo Nix accepts, but its NAR file is missing (404/410), failing (5xx, no answer) or in a form
   * this Nix cannot decode: Nix fails this cache for the path and tries the next. Not counted as present.
   */
  narMissing: number;
  /** Not found (404), or not looked up because the cache is down. */
  missing: number;
  /** Present, but signed by no trusted key (or unsigned, or not verifying): Nix will not use them. */
  untrusted: number;
  /** 401/403/407: Nix treats these as missing, silently. */
  auth: number;
  /** 5xx, HTML or bad narinfos. */
  error: number;
  unreachable: number;
  /** Present on the server but remembered as missing by Nix's disk cache (until the negative TTL ends). */
  diskNegative: number;
  /** present / paths, 0..1. */
  coverage: number;
  /** Sum of FileSize (download) and NarSize (unpacked) over the present paths. */
  fileSize: number;
  narSize: number;
  /** Paths Nix would take from this cache: present here and in no cache tried before it. */
  attributed: number;
  attributedFileSize: number;
  attributedNarSize: number;
}

/** A cache's counts before the first path is counted. */
export const NO_COUNTS: Readonly<Omit<CoverageCache, keyof PathsCacheEntry>> = {
  present: 0,
  narMissing: 0,
  missing: 0,
  untrusted: 0,
  auth: 0,
  error: 0,
  unreachable: 0,
  diskNegative: 0,
  coverage: 0,
  fileSize: 0,
  narSize: 0,
  attributed: 0,
  attributedFileSize: 0,
  attributedNarSize: 0,
};

export interface CoverageHole {
  cache: string;
  path: string;
  /** References of PATH this cache does not have (base names as in the narinfo). */
  missing: string[];
}

export interface CoverageReport {
  schemaVersion: number;
  kind: 'coverage';
  tool: { name: string; version: string };
  generatedAt: string;
  durationMs: number;
  environment: PathsEnvironment;
  diskCache: DiskCacheSummary;
  closure: boolean;
  roots: string[];
  /** How many store paths were looked up. */
  paths: number;
  /** Paths some cache has (with a signature Nix accepts). */
  available: number;
  caches: CoverageCache[];
  /** Store paths no cache has. */
  missing: string[];
  holes: CoverageHole[];
  errors: ArgumentProblem[];
  requests: { total: number; retries: number; rateLimited: number };
  complete: boolean;
}

/** At most this many missing paths and holes in the table; the JSON has them all. */
const SHOWN = 10;

export function renderCoverageTable(raw: CoverageReport, opts: { width?: number | undefined; color: boolean }): string {
  const r = forDisplayDeep(raw);
  const width = Math.max(40, Math.min(opts.width ?? 100, 200));
  const paint = painter(opts.color);
  const out: string[] = [];
  out.push(
    ...wrapWords(
      `nixcache coverage — ${plural(r.paths, 'path')}${r.closure ? ' (closures)' : ''}: ${r.available} available from some cache, ${r.missing.length} in none (${(r.durationMs / 1000).toFixed(2)} s)`,
      width,
    ),
  );
  if (r.diskCache.state === 'unreadable') out.push(...wrapWords(`Nix's narinfo disk cache: ${r.diskCache.message ?? ''}`, width, '  '));
  if (!r.complete) out.push('  (the deadline ended the run: the counts are partial)');
  out.push('');
  const head = [
    '#',
    'cache',
    'coverage',
    'present',
    'NAR missing',
    'missing',
    'untrusted',
    'auth',
    'error',
    'unreachable',
    'download',
    'unpacked',
    'from it',
  ];
  const rows = r.caches.map((c) => [
    String(c.order),
    `${c.url}${c.used ? '' : ' (unused)'}`,
    `${(c.coverage * 100).toFixed(1)}%`,
    String(c.present),
    String(c.narMissing),
    String(c.missing),
    String(c.untrusted),
    String(c.auth),
    String(c.error),
    String(c.unreachable),
    formatBytes(c.fileSize),
    formatBytes(c.narSize),
    String(c.attributed),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  if (r.caches.length === 0) {
    if (r.paths > 0) out.push('No caches are configured (substituters is empty).');
  } else if (widths.reduce((a, b) => a + b + 2, 0) <= width) {
    out.push(line(head));
    for (const row of rows) out.push(line(row));
  } else {
    for (const c of r.caches) {
      out.push(`${c.order}. ${c.url}${c.used ? '' : ' (unused)'}`);
      out.push(
        ...wrapWords(
          `${(c.coverage * 100).toFixed(1)}% — ${c.present} present, ${c.narMissing} NAR missing, ${c.missing} missing, ${c.untrusted} untrusted, ${c.auth} auth, ${c.error} error, ${c.unreachable} unreachable; ${formatBytes(c.fileSize)} download, ${formatBytes(c.narSize)} unpacked; ${c.attributed} from it`,
          width,
          '   ',
        ),
      );
    }
  }
  for (const c of r.caches) {
    if (!c.used) out.push(...wrapWords(`${c.url} is not used: ${c.unusedReason ?? 'Nix skips it'}`, width, '  ▲ ', '    '));
    if (c.narMissing > 0)
      out.push(
        ...wrapWords(
          `${c.url}: ${plural(c.narMissing, 'path')} with a narinfo Nix accepts but a NAR file that is missing, failing or not decodable: Nix fails this cache for ${c.narMissing === 1 ? 'it' : 'them'} and tries the next (try nixcache why PATH)`,
          width,
          '  ▲ ',
          '    ',
        ),
      );
    if (c.diskNegative > 0)
      out.push(
        ...wrapWords(
          `${c.url}: ${plural(c.diskNegative, 'path')} it has ${c.diskNegative === 1 ? 'is' : 'are'} remembered as missing by Nix's disk cache (try nixcache why PATH)`,
          width,
          '  ▲ ',
          '    ',
        ),
      );
    if (c.untrusted > 0)
      out.push(
        ...wrapWords(`${c.url}: ${plural(c.untrusted, 'path')} not signed by a trusted key: Nix will not use them`, width, '  ▲ ', '    '),
      );
    if (c.auth > 0)
      out.push(
        ...wrapWords(
          `${c.url}: ${plural(c.auth, 'narinfo')} refused (401/403): Nix treats them as missing; check netrc-file`,
          width,
          '  ▲ ',
          '    ',
        ),
      );
  }
  out.push('');
  if (r.missing.length > 0) {
    out.push(paint(31, `Available from no cache (${r.missing.length}):`));
    for (const p of r.missing.slice(0, SHOWN)) out.push(`  ${p}`);
    if (r.missing.length > SHOWN) out.push(`  … and ${r.missing.length - SHOWN} more (--json lists them all)`);
    out.push('');
  }
  if (r.holes.length > 0) {
    out.push(`Holes — present, but a reference is not in the same cache (${r.holes.length}):`);
    for (const h of r.holes.slice(0, SHOWN))
      out.push(...wrapWords(`${h.path} in ${h.cache} lacks ${h.missing.join(', ')}`, width, '  ', '    '));
    if (r.holes.length > SHOWN) out.push(`  … and ${r.holes.length - SHOWN} more (--json lists them all)`);
    out.push('');
  }
  for (const e of r.errors) out.push(...wrapWords(`✘ ${e.argument}: ${e.message}`, width, '', '    '));
  if (r.errors.length) out.push('');
  const closing =
    r.paths === 0
      ? paint(31, 'Nothing was looked up: see the lines above.')
      : r.missing.length > 0
        ? paint(
            31,
            `${plural(r.missing.length, 'path')} must be built: Nix can take ${r.missing.length === 1 ? 'it' : 'them'} from no cache.`,
          )
        : r.errors.length > 0
          ? paint(33, 'Every path looked up is available from some cache; the arguments above were not looked up.')
          : paint(32, 'Every path is available from some cache.');
  out.push(closing, '');
  return out.join('\n');
}

export function renderCoverageMarkdown(raw: CoverageReport): string {
  const r = forDisplayDeep(raw);
  const out = ['# nixcache coverage', ''];
  out.push(
    `${plural(r.paths, 'path')}${r.closure ? ' (closures)' : ''}: ${r.available} available from some cache, ${r.missing.length} in none — generated ${r.generatedAt} by nixcache ${r.tool.version}.`,
    '',
  );
  out.push(
    '| order | cache | coverage | present | NAR missing | missing | untrusted | auth | error | unreachable | download | unpacked | from it |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of r.caches)
    out.push(
      `| ${c.order} | ${escapeInline(c.url)}${c.used ? '' : ' (unused)'} | ${(c.coverage * 100).toFixed(1)}% | ${c.present} | ${c.narMissing} | ${c.missing} | ${c.untrusted} | ${c.auth} | ${c.error} | ${c.unreachable} | ${formatBytes(c.fileSize)} | ${formatBytes(c.narSize)} | ${c.attributed} |`,
    );
  const notes = cacheNotesMarkdown(r.caches);
  out.push(
    '',
    // A blank line ends the notes' list: the next line is a paragraph, not part of its last item.
    ...(notes.length > 0 ? [...notes, ''] : []),
    `Nix's narinfo disk cache: ${escapeInline(r.diskCache.path ?? 'none')} (${r.diskCache.state}${r.diskCache.message ? `: ${escapeInline(r.diskCache.message)}` : ''})`,
    '',
  );
  if (r.missing.length) {
    out.push(`## Available from no cache (${r.missing.length})`, '');
    for (const p of r.missing.slice(0, 200)) out.push(`- ${escapeInline(p)}`);
    if (r.missing.length > 200) out.push(`- … and ${r.missing.length - 200} more`);
    out.push('');
  }
  if (r.holes.length) {
    out.push(`## Holes (${r.holes.length})`, '');
    for (const h of r.holes.slice(0, 200))
      out.push(`- ${escapeInline(h.path)} in ${escapeInline(h.cache)} lacks ${escapeInline(h.missing.join(', '))}`);
    out.push('');
  }
  out.push(...argumentErrorsMarkdown(r.errors));
  return `${out.join('\n')}\n`;
}

/** What the Markdown says under the table: the caches Nix does not use, and the NAR files Nix cannot get. */
function cacheNotesMarkdown(caches: readonly CoverageCache[]): string[] {
  const notes: string[] = [];
  for (const c of caches) {
    if (!c.used) notes.push(`- ${escapeInline(c.url)} is not used: ${escapeInline(c.unusedReason ?? 'Nix skips it')}`);
    if (c.narMissing > 0)
      notes.push(
        `- ${escapeInline(c.url)}: ${plural(c.narMissing, 'path')} with a narinfo Nix accepts but a NAR file that is missing, failing or not decodable (Nix tries the next cache)`,
      );
  }
  return notes.length > 0 ? ['', ...notes] : [];
}
