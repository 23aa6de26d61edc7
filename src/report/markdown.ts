import { describeCache, evidenceLine, sections, summaryLine } from './group.js';
import type { CheckResult, Report } from './model.js';
import { forDisplay } from './sanitize.js';

const ICON = { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail', skip: '⏭️ skip' } as const;

/** The support-ticket view: what is wrong with its fixes in the order to fix it, the environment, then everything with evidence. */
export function renderMarkdown(raw: Report): string {
  const report = forDisplay(raw);
  const env = report.environment;
  const out: string[] = [];
  out.push('# nixcache doctor report', '');
  out.push(`${summaryLine(report)} — generated ${report.generatedAt} by nixcache ${report.tool.version}.`, '');
  // The ranking of the terminal's "Fix first" heads the report: what to do, in order, before the details.
  const byKey = new Map(report.checks.map((c) => [`${c.id}\u0000${c.cache}`, c]));
  out.push('## What is wrong, in the order to fix it', '');
  if (report.fixFirst.length === 0) out.push('Nothing: every check passed or was skipped.', '');
  for (const item of report.fixFirst) {
    const c = byKey.get(`${item.id}\u0000${item.cache}`);
    out.push(
      `${item.rank}. **${item.status === 'fail' ? 'FAIL' : 'WARN'} \`${item.id}\`**${item.cache ? ` — ${escapeInline(item.cache)}` : ''}: ${escapeInline(item.summary)}`,
    );
    if (c?.fix) out.push('', indent(fence(c.fix), 3));
    out.push('');
  }

  const lines: string[] = [];
  lines.push(` - system: ${env.os} ${env.arch}`);
  lines.push(` - Nix version: ${env.nixVersion ?? 'not installed (nix not found)'}`);
  lines.push(` - multi-user?: ${env.multiUser ? 'yes (nix-daemon)' : 'no'}`);
  lines.push(` - sandbox: ${env.sandbox ?? 'unknown'}`);
  lines.push(
    ` - user: ${env.user}${env.root ? ' (root)' : ''}, trusted by the daemon: ${env.trustedUser === null ? 'unknown' : env.trustedUser ? 'yes' : 'no'}`,
  );
  lines.push(` - store: ${env.storeDir}`);
  lines.push(` - config files: ${report.config.files.join(', ') || 'none'}`);
  lines.push(` - substituters: ${report.config.substituters.join(' ') || 'none'}`);
  lines.push(` - trusted-public-keys: ${report.config.trustedPublicKeys.join(' ') || 'none'}`);
  lines.push(` - require-sigs: ${report.config.requireSigs}`);
  out.push('## Environment', '', fence(lines.join('\n')), '');

  if (report.caches.length > 0) {
    out.push('## Caches', '', '| order | cache | priority | from | on this machine |', '|---|---|---|---|---|');
    for (const c of report.caches) {
      out.push(`| ${c.order ?? '–'} | ${cell(c.url)} | ${c.priority} | ${c.prioritySource} | ${c.local ? 'yes' : 'no'} |`);
    }
    out.push('');
  }

  out.push('## Checks', '');
  for (const section of sections(report)) {
    out.push(`### ${escapeInline(section.title)}`, '');
    if (section.cache) out.push(`_${escapeInline(describeCache(section.cache))}_`, '');
    out.push('| status | check | result |', '|---|---|---|');
    for (const c of section.checks) out.push(`| ${ICON[c.status]} | \`${c.id}\` | ${cell(c.summary)} |`);
    out.push('');
    for (const c of section.checks) out.push(...details(c));
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}

function details(c: CheckResult): string[] {
  const body: string[] = [];
  if (c.detail) body.push(fence(c.detail));
  if (c.fix) body.push('**Fix:**', '', fence(c.fix));
  if (c.reason && c.status === 'skip') body.push(`Skipped: ${escapeInline(c.reason)}`);
  if (c.evidence.length) body.push('**Evidence:**', '', fence(c.evidence.map(evidenceLine).join('\n')));
  const exec = c.evidence.filter((e) => e.kind === 'exec' && e.output);
  for (const e of exec) if (e.kind === 'exec') body.push(`Output of \`${e.argv.join(' ')}\`:`, '', fence(e.output));
  if (body.length === 0) return [];
  return [
    `<details><summary>${c.id}: ${escapeInline(c.summary.slice(0, 140))}</summary>`,
    '',
    ...body.flatMap((b) => [b, '']),
    '</details>',
    '',
  ];
}

/** A code block no line of TEXT can close: its fence is longer than any run of backticks in it. */
export function fence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(Math.max(3, longest + 1));
  return `${ticks}text\n${text}\n${ticks}`;
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

/** Text in a table cell: its lines kept apart by <br>. */
function cell(text: string): string {
  return text.split('\n').map(escapeInline).join('<br>');
}

/** Text in a Markdown line: one line (a newline becomes a space), no HTML, no link, image, emphasis or code of its own. */
export function escapeInline(text: string): string {
  return text
    .replace(/\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]~#!|]/g, (ch) => `\\${ch}`);
}
