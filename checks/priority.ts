import type { CacheTarget } from '../src/discover/types.js';
import type { Facts } from '../src/facts/types.js';
import { isLanHostName, isPrivateAddress } from '../src/nix/address.js';
import { effectiveOrder, resolvePriority } from '../src/nix/priority.js';
import { advertisedPriority } from '../src/report/model.js';
import type { HostCheck } from '../src/runner/check.js';
import { pass, warn } from '../src/runner/finding.js';

type Place = 'local' | 'lan' | 'remote';

/** Step 7: the order Nix will actually try the caches in, and what is wrong with it. */
export const priority: HostCheck = {
  id: 'priority',
  title: 'Substituter priorities',
  scope: 'host',
  uses: ['cache-info', 'connect'],
  async run(facts, results) {
    const targets = facts.caches.filter((t) => t.role === 'substituter');
    if (targets.length === 0) return pass('no substituters to order', { data: { order: [] } });
    const unordered = await Promise.all(
      targets.map(async (t) => {
        const connect = results.get('connect', t)?.status;
        const info = results.get('cache-info', t);
        const working =
          connect === 'fail' || info?.status === 'fail'
            ? false
            : connect === 'pass' && (info?.status === 'pass' || info?.status === 'warn')
              ? true
              : null;
        const { priority, source } = resolvePriority(t.url.priority, advertisedPriority(info));
        return { target: t, url: t.url.display, priority, source, place: await placeOf(facts, t), working };
      }),
    );
    const rows = effectiveOrder(unordered).map((r, i) => ({ ...r, order: i + 1 }));
    const order = rows.map((r) => ({
      order: r.order,
      url: r.url,
      priority: r.priority,
      source: r.source,
      place: r.place,
      working: r.working,
    }));
    const problems: string[] = [];
    const suggested = new Map<string, number>();

    const firstRemote = rows.find((r) => r.place === 'remote');
    for (const r of rows) {
      if (r.place !== 'remote' && firstRemote && r.order > firstRemote.order) {
        problems.push(
          `${r.url} is on ${r.place === 'local' ? 'this machine' : 'your network'} but is tried after the remote ${firstRemote.url} (priority ${r.priority} vs ${firstRemote.priority})`,
        );
        suggested.set(r.target.url.raw, 10);
      }
    }
    for (const r of rows) {
      const tie = rows.find((o) => o !== r && o.priority === r.priority && o.order < r.order && o.place !== r.place);
      if (tie)
        problems.push(
          `${r.url} and ${tie.url} both have priority ${r.priority}: only their order in nix.conf decides which is tried first`,
        );
    }
    for (const r of rows) {
      if (r.working !== false) continue;
      const later = rows.filter((o) => o.order > r.order && o.working === true);
      if (later.length > 0) {
        problems.push(`${r.url} fails but is tried before ${later.map((o) => o.url).join(', ')}: every lookup waits on it first`);
        suggested.set(r.target.url.raw, 100);
      }
    }
    for (const r of rows) {
      if (r.place === 'remote' && r.source === 'default' && r.working !== false) {
        problems.push(
          `${r.url} advertises no Priority in nix-cache-info, so Nix gives it 0 and tries it before everything else (cache.nixos.org is 40)`,
        );
        if (!suggested.has(r.target.url.raw)) suggested.set(r.target.url.raw, 50);
      }
      if (r.target.url.badPriority !== undefined)
        problems.push(`${r.url}: ?priority=${r.target.url.badPriority} is not an integer; Nix refuses this store URL`);
      if (['daemon', 'local', 'auto'].includes(r.target.url.scheme))
        problems.push(`${r.url} is a Nix store, not a binary cache: it does not belong in substituters`);
    }

    const data = { order };
    const table = order
      .map((o) => `${o.order}. ${o.url} — priority ${o.priority} (${o.source}), ${o.place}${o.working === false ? ', failing' : ''}`)
      .join('\n');
    if (problems.length === 0) {
      return pass(`Nix tries ${order.map((o) => `${o.url} (${o.priority})`).join(', then ')}`, { detail: table, data });
    }
    return warn(problems[0] as string, {
      detail: [...problems.slice(1), '', 'Order Nix uses (lower priority first, ties in nix.conf order):', table].join('\n').trim(),
      fix: fixLine(
        rows.map((r) => r.target),
        suggested,
        facts.config.systemFile,
      ),
      data,
    });
  },
};

/** The substituters line with ?priority= set where it should change; the convention is local 10, remote 40, fallback 100. */
function fixLine(targets: CacheTarget[], suggested: Map<string, number>, file: string): string {
  const urls = targets.map((t) => {
    const p = suggested.get(t.url.raw);
    if (p === undefined) return t.url.display;
    const base = t.url.display.replace(/([?&])priority=[^&]*&?/, '$1').replace(/[?&]$/, '');
    return `${base}${base.includes('?') ? '&' : '?'}priority=${p}`;
  });
  return [
    `In ${file}: substituters = ${urls.join(' ')}`,
    `NixOS: nix.settings.substituters = [ ${urls.map((u) => `"${u}"`).join(' ')} ];`,
    'Lower numbers are tried first: this machine or LAN 10, cache.nixos.org 40, fallbacks 100.',
  ].join('\n');
}

async function placeOf(facts: Facts, t: CacheTarget): Promise<Place> {
  if (t.local) return 'local';
  const host = t.url.host;
  if (!host) return t.url.scheme === 's3' ? 'remote' : 'local';
  const r = await facts.resolve(host);
  if (r.ok && r.addresses.length > 0) return r.addresses.every(isPrivateAddress) ? 'lan' : 'remote';
  return isLanHostName(host) ? 'lan' : 'remote';
}
