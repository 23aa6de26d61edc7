import type { DiskWord, NarinfoWord, NarWord, SignatureWord, Verdict } from '../nix/substitution.js';
import { escapeInline, fence } from './markdown.js';
import {
  type ArgumentProblem,
  argumentErrorsMarkdown,
  type DiskCacheSummary,
  forDisplayDeep,
  MAX_SHOWN_LINE,
  type PathsCacheEntry,
  type PathsEnvironment,
} from './paths-common.js';
import { painter, plural, wrapFixLine, wrapWords } from './text.js';

export interface WhyCache {
  url: string;
  order: number;
  used: boolean;
  narinfo: NarinfoWord;
  narinfoDetail: string | null;
  signature: SignatureWord | null;
  /** The trusted key that verified, or the names that signed. */
  keys: string[];
  nar: NarWord | null;
  narDetail: string | null;
  compression: string | null;
  /** Whether the installed Nix can decompress the NAR (null: no narinfo). */
  decodable: boolean | null;
  diskCache: DiskWord;
  /** When a negative (or positive) row stops counting, ISO 8601; null for none. */
  diskCacheExpires: string | null;
}

export interface WhyPath {
  argument: string;
  path: string;
  verdict: Verdict;
  from: string | null;
  reason: string;
  fix: string | null;
  caches: WhyCache[];
}

export interface WhyReport {
  schemaVersion: number;
  kind: 'why';
  tool: { name: string; version: string };
  generatedAt: string;
  durationMs: number;
  environment: PathsEnvironment;
  diskCache: DiskCacheSummary;
  caches: PathsCacheEntry[];
  paths: WhyPath[];
  errors: ArgumentProblem[];
  summary: Record<Verdict, number>;
  /** False when the deadline cut the run short. */
  complete: boolean;
}

const MARK: Record<Verdict, string> = { valid: '✔ valid', substitute: '✔ substitute', build: '✘ build' };

/** The key names a narinfo's `Sig:` lines carry (each already cut), as many as fit MAX_SHOWN_LINE: a narinfo may carry any number. */
function keyList(keys: readonly string[]): string {
  let shown = 0;
  let length = 0;
  while (shown < keys.length && (shown === 0 || length + (keys[shown] as string).length <= MAX_SHOWN_LINE))
    length += (keys[shown++] as string).length + 2;
  const rest = keys.length - shown;
  return `${keys.slice(0, shown).join(', ')}${rest > 0 ? ` and ${plural(rest, 'more key')}` : ''}`;
}

/** One cache's words for one path; UNUSED says why Nix does not use the cache, when it does not. */
function cacheLine(c: WhyCache, unused: string | null): string {
  const parts = [`narinfo ${c.narinfo}${c.narinfoDetail && c.narinfo !== 'present' ? ` (${c.narinfoDetail})` : ''}`];
  if (c.signature) parts.push(`signature ${c.signature}${c.keys.length ? ` (${keyList(c.keys)})` : ''}`);
  if (c.nar) parts.push(`NAR ${c.nar}${c.compression ? ` ${c.compression}` : ''}${c.decodable === false ? ' (Nix cannot decode it)' : ''}`);
  parts.push(`disk cache ${c.diskCache}${c.diskCacheExpires && c.diskCache === 'negative' ? ` until ${c.diskCacheExpires}` : ''}`);
  return `${c.order}. ${c.url}${c.used ? '' : ` (not used: ${unused ? firstClause(unused) : 'Nix skips it'})`}: ${parts.join(', ')}`;
}

/** REASON up to its first colon outside parentheses: what happened, without what follows from it (the verdict says that). */
function firstClause(reason: string): string {
  let depth = 0;
  for (let i = 0; i < reason.length - 1; i++) {
    const ch = reason[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (ch === ':' && reason[i + 1] === ' ' && depth === 0) return reason.slice(0, i);
  }
  return reason;
}

export function renderWhyTable(raw: WhyReport, opts: { width?: number | undefined; color: boolean }): string {
  const r = forDisplayDeep(raw);
  const width = Math.max(40, Math.min(opts.width ?? 100, 200));
  const paint = painter(opts.color);
  const unusedReasons = new Map(r.caches.map((c) => [c.order, c.unusedReason]));
  const out: string[] = [];
  const { valid, substitute, build } = r.summary;
  out.push(
    ...wrapWords(
      `nixcache why — ${plural(r.paths.length, 'path')}: ${valid} valid, ${substitute} substitute, ${build} build (${(r.durationMs / 1000).toFixed(2)} s)`,
      width,
    ),
  );
  if (r.diskCache.state !== 'read')
    out.push(...wrapWords(`Nix's narinfo disk cache: ${r.diskCache.message ?? r.diskCache.state}`, width, '  '));
  if (!r.complete) out.push('  (the deadline ended the run: some look-ups did not finish)');
  out.push('');
  for (const p of r.paths) {
    const mark = MARK[p.verdict];
    out.push(`${paint(p.verdict === 'build' ? 31 : 32, mark)}  ${p.path}`);
    out.push(...wrapWords(p.reason, width, '    '));
    for (const c of p.caches) out.push(...wrapWords(cacheLine(c, unusedReasons.get(c.order) ?? null), width, '    · ', '      '));
    if (p.fix) {
      out.push('    Fix:');
      for (const line of p.fix.split('\n')) if (line.trim()) out.push(...wrapFixLine(line, width, '      '));
    }
    out.push('');
  }
  for (const e of r.errors) out.push(...wrapWords(`✘ ${e.argument}: ${e.message}`, width, '', '    '));
  if (r.errors.length) out.push('');
  return `${out.join('\n')}\n`;
}

export function renderWhyMarkdown(raw: WhyReport): string {
  const r = forDisplayDeep(raw);
  const out: string[] = ['# nixcache why', ''];
  out.push(
    `${plural(r.paths.length, 'path')}: ${r.summary.valid} valid, ${r.summary.substitute} substitute, ${r.summary.build} build — generated ${r.generatedAt} by nixcache ${r.tool.version}.`,
    '',
  );
  const env = r.environment;
  out.push(
    '## Environment',
    '',
    fence(
      [
        `Nix version: ${env.nixVersion ?? 'not installed'}`,
        `user: ${env.user}, multi-user: ${env.multiUser ? 'yes' : 'no'}, trusted: ${env.trustedUser ?? 'unknown'}`,
        `require-sigs: ${env.requireSigs}, fallback: ${env.fallback}`,
        `narinfo disk cache: ${r.diskCache.path ?? 'none'} (${r.diskCache.state}${r.diskCache.message ? `: ${r.diskCache.message}` : ''})`,
        `config files: ${env.configFiles.join(', ') || 'none'}`,
      ].join('\n'),
    ),
    '',
  );
  out.push('## Caches, in the order Nix tries them', '', '| order | cache | priority | used |', '|---|---|---|---|');
  for (const c of r.caches)
    out.push(
      `| ${c.order} | ${escapeInline(c.url)} | ${c.priority} (${c.prioritySource}) | ${c.used ? 'yes' : `no: ${escapeInline(c.unusedReason ?? '')}`} |`,
    );
  out.push('', '## Paths', '');
  for (const p of r.paths) {
    out.push(`### ${p.verdict.toUpperCase()}: ${escapeInline(p.path)}`, '', escapeInline(p.reason), '');
    out.push('| order | cache | narinfo | signature | NAR | disk cache |', '|---|---|---|---|---|---|');
    for (const c of p.caches)
      out.push(
        `| ${c.order} | ${escapeInline(c.url)} | ${c.narinfo}${c.narinfoDetail ? ` (${escapeInline(c.narinfoDetail)})` : ''} | ${c.signature ?? '–'}${c.keys.length ? ` (${escapeInline(keyList(c.keys))})` : ''} | ${c.nar ?? '–'} | ${c.diskCache}${c.diskCacheExpires ? ` until ${c.diskCacheExpires}` : ''} |`,
      );
    if (p.fix) out.push('', 'Fix:', '', fence(p.fix));
    out.push('');
  }
  out.push(...argumentErrorsMarkdown(r.errors));
  return `${out.join('\n')}\n`;
}
