import { collapsedSkips, describeCache, evidenceLine, sections, summaryLine } from './group.js';
import type { CheckResult, FixFirstItem, Report, Status } from './model.js';
import { displayed } from './sanitize.js';
import { clip, painter, plural, truncate, wrapFixLine, wrapWords } from './text.js';

const MARK: Record<Status, string> = { pass: '✔ pass', warn: '▲ warn', fail: '✘ fail', skip: '– skip' };
const COLOUR: Record<Status, number> = { pass: 32, warn: 33, fail: 31, skip: 90 };
/**
 * The title column is as wide as the longest title shown, within these bounds; the upper one grows
 * with the terminal while the result column keeps RESULT_MIN columns (28 at 80 columns, every
 * title from 100).
 */
const TITLE_WIDTH = { min: 24, max: 28, widest: 44 };
const RESULT_MIN = 50;
/** Below this many columns the status, title and result do not fit side by side: one under the other. */
export const NARROW = 72;
/** Longest summary or detail line shown, and longest fix line (a command longer than the screen is still shown whole). */
const MAX_TEXT = 1000;
const MAX_FIX_LINE = 2000;
/** The closing "Fix first" list stays within this many lines, so that it and the summary fit a 24-line screen. */
const FIX_FIRST_LINES = 18;

export interface TableOptions {
  color: boolean;
  verbose: boolean;
  /** The terminal's width; a default when not a terminal. */
  width?: number | undefined;
}

/**
 * The terminal view: each section (this machine, then every cache) as rows of status, check and
 * result, each problem with its detail and fix under it; skips that carry no news folded into one
 * line; then "Fix first", the problems in the order to fix them. Linear in the size of the report.
 */
export function renderTable(report: Report, opts: TableOptions): string {
  return [...renderTableChunks(report, opts)].join('');
}

/** The table a section at a time (every line ended by a newline): 10,000 caches are never one string. */
export function* renderTableChunks(report: Report, opts: TableOptions): Generator<string> {
  // Untrusted text is made visible section by section, not as a second copy of the whole report.
  const paint = painter(opts.color);
  const bold = (s: string) => (opts.color ? `\u001b[1m${s}\u001b[22m` : s);
  const dim = (s: string) => paint(90, s);
  const width = Math.max(40, Math.min(opts.width ?? 100, 200));
  const narrow = width < NARROW;
  let longestTitle: number = TITLE_WIDTH.min;
  for (const c of report.checks) longestTitle = Math.max(longestTitle, c.title.length);
  const titleWidth = Math.min(Math.max(TITLE_WIDTH.max, Math.min(TITLE_WIDTH.widest, width - RESULT_MIN - 11)), longestTitle);
  const lines = (out: string[]) => out.map((l) => `${l}\n`).join('');
  yield lines([...wrapWords(`nixcache doctor — ${summaryLine(report)}`, width).map(bold), '']);

  for (const rawSection of sections(report)) {
    // Only what the table shows is made safe to show: no check's data, evidence only with -v.
    const section = displayed({
      ...rawSection,
      checks: rawSection.checks.map(({ data: _data, evidence, ...c }) => ({ ...c, data: {}, evidence: opts.verbose ? evidence : [] })),
    });
    if (section.checks.length === 0) continue; // every check of this cache was deselected (--only / --skip)
    const out = wrapWords(section.title, width).map(bold);
    if (section.cache) out.push(...wrapWords(describeCache(section.cache), width, '  ').map(dim));
    const folded = opts.verbose ? undefined : collapsedSkips(section.checks);
    for (const c of section.checks) {
      if (folded?.checks.has(c)) continue;
      out.push(...row(c));
    }
    if (folded?.line) out.push(...wrapWords(folded.line, width, ' – ', '   ').map(dim));
    out.push('');
    yield lines(out);
  }

  const out: string[] = [];
  if (report.fixFirst.length > 0) out.push(...fixFirst(displayed(report.fixFirst.slice(0, 64))), '');
  const { fail, warn } = report.summary;
  const closing =
    fail > 0
      ? {
          colour: 31,
          text: `Problems found: ${plural(fail, 'failing check')}${warn ? `, ${plural(warn, 'warning')}` : ''} — start with 1. above.`,
        }
      : warn > 0
        ? { colour: 33, text: `No failures; ${plural(warn, 'warning')} above.` }
        : { colour: 32, text: 'Everything checked is fine.' };
  out.push(...wrapWords(closing.text, width).map((l) => paint(closing.colour, l)));
  yield lines(out);

  function row(c: CheckResult): string[] {
    // Laid out without colour (escape codes would count as columns), the mark painted afterwards.
    const plain = MARK[c.status];
    const summary = clip(c.summary, MAX_TEXT);
    // The result column starts after the mark, the title column and two spaces; a title wider than
    // its column stands on a line of its own, the result under it in its column.
    const column = ' '.repeat(` ${plain}  `.length + titleWidth + 2);
    const lines = narrow
      ? [` ${plain}  ${c.title}`, ...wrapWords(summary, width, '     ')]
      : c.title.length > titleWidth
        ? [` ${plain}  ${c.title}`, ...wrapWords(summary, width, column)]
        : wrapWords(summary, width, ` ${plain}  ${c.title.padEnd(titleWidth)}  `, column);
    lines[0] = (lines[0] ?? '').replace(plain, paint(COLOUR[c.status], plain));
    const under = narrow ? '     ' : '          ';
    if (c.status !== 'pass' && c.detail) {
      for (const line of c.detail.split('\n')) {
        const indent = under + (/^\s*/.exec(line)?.[0] ?? '');
        // A detail line that only repeats the summary is said once.
        if (line.trim() && line.trim() !== c.summary.trim()) lines.push(...wrapWords(clip(line.trim(), MAX_TEXT), width, indent));
      }
    }
    if (c.status !== 'pass' && c.fix) {
      lines.push(`${under}${bold('Fix:')}`);
      for (const line of c.fix.split('\n')) if (line.trim()) lines.push(...wrapFixLine(clip(line, MAX_FIX_LINE), width, `${under}  `));
    }
    if (opts.verbose) for (const e of c.evidence) lines.push(...wrapWords(evidenceLine(e), width, `${under}· `, `${under}  `).map(dim));
    return lines;
  }

  function fixFirst(items: readonly FixFirstItem[]): string[] {
    const lines = [bold('Fix first')];
    let shown = 0;
    for (const item of items) {
      const mark = item.status === 'fail' ? '✘' : '▲';
      const head = truncate(`${mark} ${item.rank}. ${item.cache ?? 'this machine'}: ${item.title} — ${item.summary}`, width);
      const entry = [
        head.replace(mark, paint(COLOUR[item.status], mark)),
        ...(item.fix ? wrapFixLine(clip(item.fix, MAX_FIX_LINE), width, '     ') : []),
      ];
      // The first problem always; the others while the list fits the screen with its closing lines.
      if (shown > 0 && lines.length + entry.length > FIX_FIRST_LINES - (items.length > shown + 1 ? 1 : 0)) break;
      lines.push(...entry);
      shown++;
    }
    if (items.length > shown) lines.push(dim(`  … and ${plural(items.length - shown, 'more problem')}, in the sections above.`));
    return lines;
  }
}
