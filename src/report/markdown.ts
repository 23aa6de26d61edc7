import { describeCache, evidenceLine, sections, summaryLine } from './group.js';
import type { CheckResult, Report } from './model.js';

const ICON = { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail', skip: '⏭️ skip' } as const;

/** The support-ticket view: what is wrong with its fixes in the order to fix it, the environment, then everything with evidence. */
export function renderMarkdown(report: Report): string {
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

  out.push('## Environment', '', '```text');
  out.push(` - system: ${env.os} ${env.arch}`);
  out.push(` - Nix version: ${env.nixVersion ?? 'not installed (nix not found)'}`);
  out.push(` - multi-user?: ${env.multiUser ? 'yes (nix-daemon)' : 'no'}`);
  out.push(` - sandbox: ${env.sandbox ?? 'unknown'}`);
  out.push(
    ` - user: ${env.user}${env.root ? ' (root)' : ''}, trusted by the daemon: ${env.trustedUser === null ? 'unknown' : env.trustedUser ? 'yes' : 'no'}`,
  );
  out.push(` - store: ${env.storeDir}`);
  out.push(` - config files: ${report.config.files.join(', ') || 'none'}`);
  out.push(` - substituters: ${report.config.substituters.join(' ') || 'none'}`);
  out.push(` - trusted-public-keys: ${report.config.trustedPublicKeys.join(' ') || 'none'}`);
  out.push(` - require-sigs: ${report.config.requireSigs}`);
  out.push('```', '');

  if (report.caches.length > 0) {
    out.push('## Caches', '', '| order | cache | priority | from | on this machine |', '|---|---|---|---|---|');
    for (const c of report.caches) {
      out.push(`| ${c.order ?? '–'} | ${cell(c.url)} | ${c.priority} | ${c.prioritySource} | ${c.local ? 'yes' : 'no'} |`);
    }
    out.push('');
  }

  out.push('## Checks', '');
  for (const section of sections(report)) {
    out.push(`### ${section.title}`, '');
    if (section.cache) out.push(`_${describeCache(section.cache)}_`, '');
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
    `<details><summary>${c.id}: ${escapeHtml(c.summary.slice(0, 140))}</summary>`,
    '',
    ...body.flatMap((b) => [b, '']),
    '</details>',
    '',
  ];
}

function fence(text: string): string {
  const ticks = text.includes('```') ? '~~~~' : '```';
  return `${ticks}text\n${text}\n${ticks}`;
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

function cell(text: string): string {
  return escapeInline(text).replace(/\|/g, '\\|').replace(/\n/g, '<br>');
}

function escapeInline(text: string): string {
  return text.replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
