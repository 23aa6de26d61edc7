import type { HitRate } from '../src/host/hit-rate.js';
import type { HostCheck } from '../src/runner/check.js';
import { pass, skip, warn } from '../src/runner/finding.js';

/** Below this many narinfo requests a ratio says little. */
const MIN_REQUESTS_FOR_RATIO = 20;
const LOW_RATIO = 0.5;

/** Server step: what the cache server's own records say — how often it had what clients asked for. */
export const hitRate: HostCheck = {
  id: 'hit-rate',
  title: 'Cache hit rate (server side)',
  scope: 'host',
  async run(facts) {
    const fact = await facts.hitRate();
    if (fact.kind === 'none') {
      if (!facts.run.server) return skip('not a cache server here (use --server, or --access-log FILE to read a log)', 'not a server');
      return skip(fact.why, 'no access log', {
        fix: 'nginx: nixcache doctor --server --access-log /var/log/nginx/access.log --since 1h\nharmonia serves its figures at /metrics by itself.',
      });
    }
    if (fact.kind === 'unreadable') return skip(`could not read ${fact.source}: ${fact.message}`, 'access log unreadable');
    const h = fact.hitRate;
    const over = fact.sinceMs === null ? 'since the server started' : `in the last ${span(fact.sinceMs)}`;
    const data = { ...h, source: fact.source, sinceSeconds: fact.sinceMs === null ? null : fact.sinceMs / 1000, partial: fact.partial };
    const detail = details(h, fact);
    if (h.narinfoRequests === 0)
      return pass(`no narinfo requests ${over} (${fact.source}): no client asked this cache for a path`, { data, detail });
    const found = `${h.narinfoHits} of ${h.narinfoHits + h.narinfoMisses} narinfo requests found (${percent(h.hitRatio)})`;
    const figures = `${found} ${over}`;
    if (h.serverErrors > 0)
      return warn(`${h.serverErrors} requests failed on the server (5xx) ${over}; ${found}`, {
        data,
        detail,
        fix: 'Read the cache server’s own log for the failing requests: journalctl -u nix-serve -u harmonia -u nginx --since -1h',
      });
    if (h.hitRatio !== null && h.hitRatio < LOW_RATIO && h.narinfoHits + h.narinfoMisses >= MIN_REQUESTS_FOR_RATIO)
      return warn(`${figures}: clients mostly ask for paths this cache does not have`, {
        data,
        detail,
        fix: 'Push what clients build to the cache (nix copy --to <cache> <paths>, or a post-build-hook), or build the missing paths on the server: the most requested missing hashes are listed above.',
      });
    return pass(figures, { data, detail });
  },
};

function details(h: HitRate, fact: { source: string; partial: boolean }): string {
  const lines = [`source: ${fact.source}${fact.partial ? ' (its last 4 MiB)' : ''}`];
  lines.push(
    `requests: ${h.requests}; narinfo: ${h.narinfoRequests} (${h.narinfoHits} found, ${h.narinfoMisses} missing); NAR: ${h.narRequests}`,
  );
  if (h.narBytes !== null) lines.push(`NAR bytes sent: ${h.narBytes}`);
  lines.push(`5xx: ${h.serverErrors}`);
  if (h.topMissing.length > 0) lines.push(`most requested missing: ${h.topMissing.map((m) => `${m.hash} (${m.count}×)`).join(', ')}`);
  if (h.skipped > 0) lines.push(`${h.skipped} lines not in a known format were skipped`);
  return lines.join('\n');
}

const percent = (r: number | null) => (r === null ? 'n/a' : `${(r * 100).toFixed(1)}%`);

function span(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}
