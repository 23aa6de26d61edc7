import Table from 'cli-table3';
import { describeCache, evidenceLine, sections, summaryLine } from './group.js';
import type { Report, Status } from './model.js';

const MARK: Record<Status, string> = { pass: '✔ pass', warn: '▲ warn', fail: '✘ fail', skip: '– skip' };
const COLOUR: Record<Status, number> = { pass: 32, warn: 33, fail: 31, skip: 90 };

export interface TableOptions {
  color: boolean;
  verbose: boolean;
  width?: number;
}

/** The terminal view: one table per section, every non-pass row with its fix. */
export function renderTable(report: Report, opts: TableOptions): string {
  const paint = (code: number, s: string) => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const bold = (s: string) => (opts.color ? `\u001b[1m${s}\u001b[22m` : s);
  const width = Math.max(72, Math.min(opts.width ?? 110, 160));
  const resultWidth = width - 8 - 30 - 4;
  const out: string[] = [bold(`nixcache doctor — ${summaryLine(report)}`), ''];

  for (const section of sections(report)) {
    if (section.checks.length === 0) continue; // every check of this cache was deselected (--only / --skip)
    out.push(bold(section.title) + (section.cache ? `  ${describeCache(section.cache)}` : ''));
    const table = new Table({
      head: ['status', 'check', 'result'],
      colWidths: [8, 30, resultWidth],
      wordWrap: true,
      wrapOnWordBoundary: true,
      style: { head: [], border: [], compact: false },
    });
    for (const c of section.checks) {
      const lines = [c.summary];
      if (c.status === 'skip' && c.reason && !c.summary.includes(c.reason)) lines.push(`(${c.reason})`);
      if (c.status !== 'pass' && c.detail) lines.push(c.detail);
      if (c.status !== 'pass' && c.fix) lines.push(`Fix: ${c.fix}`);
      if (opts.verbose) lines.push(...c.evidence.map((e) => `· ${evidenceLine(e)}`));
      // Wrapped here, not by cli-table3, which cuts indented lines short with '…': a fix must print whole.
      table.push([paint(COLOUR[c.status], MARK[c.status].split(' ')[1] as string), c.title, wrap(lines.join('\n'), resultWidth - 2)]);
    }
    out.push(table.toString(), '');
  }
  const worst =
    report.summary.fail > 0
      ? paint(31, 'Problems found: fix the failing rows above, top to bottom.')
      : report.summary.warn > 0
        ? paint(33, 'No failures; see the warnings above.')
        : paint(32, 'Everything checked is fine.');
  out.push(worst, '');
  const text = out.join('\n');
  return opts.color ? text : stripAnsi(text);
}

/** Wraps every line at WIDTH on spaces, keeping its indent; a word longer than a line is split. */
export function wrap(text: string, width: number): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const indent = /^\s*/.exec(line)?.[0] ?? '';
    let current = '';
    for (const word of line.trim().split(/ +/)) {
      let w = word;
      while (w.length > width - indent.length) {
        if (current) out.push(current);
        out.push(indent + w.slice(0, width - indent.length));
        w = w.slice(width - indent.length);
        current = '';
      }
      if (!current) current = indent + w;
      else if (current.length + 1 + w.length <= width) current += ` ${w}`;
      else {
        out.push(current);
        current = indent + w;
      }
    }
    out.push(current);
  }
  return out.join('\n');
}

function stripAnsi(s: string): string {
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
