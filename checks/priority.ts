import { isIP } from 'node:net';
import type { CacheTarget } from '../src/discover/types.js';
import type { Facts } from '../src/facts/types.js';
import { isLanHostName, isPrivateAddress } from '../src/nix/address.js';
import { judgeOrder, type OrderRow, type Place, substitutersFix } from '../src/nix/priority-advice.js';
import { advertisedPriority } from '../src/report/model.js';
import type { HostCheck, Results } from '../src/runner/check.js';
import { pass, warn } from '../src/runner/finding.js';

/** Store URL schemes Nix opens; anything else it skips with "don't know how to open Nix store". */
const NIX_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'file', 's3', 'ssh', 'ssh-ng', 'local', 'daemon', 'auto', 'unix']);

/** Step 7: the order Nix will actually try the caches in, and what is wrong with it. */
export const priority: HostCheck = {
  id: 'priority',
  title: 'Substituter priorities',
  scope: 'host',
  uses: ['cache-info', 'connect'],
  async run(facts, results) {
    const targets = facts.caches.filter((t) => t.role === 'substituter');
    if (targets.length === 0) return pass('no substituters to order', { data: { order: [] } });
    const inputs = await Promise.all(
      targets.map(async (t) => {
        const connect = results.get('connect', t)?.status;
        const info = results.get('cache-info', t);
        const working =
          connect === 'fail' || info?.status === 'fail'
            ? false
            : connect === 'pass' && (info?.status === 'pass' || info?.status === 'warn')
              ? true
              : null;
        // Read and without a Priority line: Nix's default. Not read: unknown.
        const read = info?.status === 'pass' || info?.status === 'warn';
        const advertised = advertisedPriority(info) ?? (read ? null : undefined);
        const place = await placeOf(facts, t, results);
        return { index: t.index, url: t.url.display, urlPriority: t.url.priority, advertised, place, working };
      }),
    );
    const { rows, problems, suggested } = judgeOrder(inputs);
    const unusable = rows.filter((r) => r.place === 'unusable');
    if (unusable.length === rows.length)
      problems.push(`Nix can open none of the substituters (${unusable.map((r) => `'${r.url}'`).join(', ')}): it downloads nothing`);
    for (const t of targets) {
      if (t.url.badPriority !== undefined)
        problems.push(`${t.url.display}: ?priority=${t.url.badPriority} is not an integer; Nix refuses this store URL`);
      if (['daemon', 'local', 'auto'].includes(t.url.scheme))
        problems.push(`${t.url.display} is a Nix store, not a binary cache: it does not belong in substituters`);
    }
    const order = rows.map((r) => ({
      order: r.order,
      url: r.url,
      priority: r.priority,
      source: r.source,
      place: r.place,
      working: r.working,
    }));
    const table = rows.map(describe).join('\n');
    const unknown = rows.filter((r) => r.source === 'unknown' && r.place !== 'unusable');
    const note = unknown.length
      ? `Priority not known for ${unknown.map((r) => r.url).join(', ')}: its nix-cache-info was not read, so where Nix puts ${unknown.length > 1 ? 'them' : 'it'} is not known either.`
      : undefined;
    const data = { order };
    if (problems.length === 0) {
      const known = rows.filter((r) => r.order !== null);
      const skipped = unusable.length ? `; ${unusable.length} skipped (not a store URL Nix can open)` : '';
      const summary = known.length
        ? `Nix tries ${known.map((r) => `${r.url} (${r.priority})`).join(', then ')}${unknown.length ? `; priority not known for ${unknown.length}` : ''}${skipped}`
        : `priority not known for any substituter (nix-cache-info not read)${skipped}`;
      return pass(summary, { detail: [table, note].filter(Boolean).join('\n'), data });
    }
    const urls = [...targets].sort((a, b) => a.index - b.index).map((t) => ({ index: t.index, url: t.url.display }));
    return warn(problems[0] as string, {
      detail: [...problems.slice(1), '', 'Order Nix uses (lower priority first, ties in nix.conf order):', table, note ?? '']
        .join('\n')
        .trim(),
      fix: substitutersFix(urls, suggested, facts.config.systemFile),
      data,
    });
  },
};

function describe(r: OrderRow): string {
  if (r.place === 'unusable') return `– ${r.url} — not a store URL Nix can open: Nix skips it`;
  const where = r.order === null ? '?.' : `${r.order}.`;
  const priority = r.source === 'unknown' ? 'priority unknown (nix-cache-info not read)' : `priority ${r.priority} (${r.source})`;
  return `${where} ${r.url} — ${priority}, ${r.place}${r.working === false ? ', failing' : ''}`;
}

/**
 * Where a cache is. A host name is looked up only when the connect check already resolved it (no
 * new DNS query: `--only priority` stays off the network); otherwise its name decides.
 */
async function placeOf(facts: Facts, t: CacheTarget, results: Results): Promise<Place> {
  const { scheme, host } = t.url;
  if (!NIX_SCHEMES.has(scheme)) return 'unusable';
  if (t.local || ['file', 'local', 'daemon', 'auto', 'unix'].includes(scheme)) return 'local';
  if (!host) return scheme === 's3' ? 'remote' : 'unusable';
  if (isIP(host)) return isPrivateAddress(host) ? 'lan' : 'remote';
  // A quote or a '$' left in the name: curl refuses the URL ("URL using bad/illegal format").
  if (!/^[A-Za-z0-9._-]+$/.test(host)) return 'unusable';
  const connect = results.get('connect', t)?.status;
  if (connect !== undefined && connect !== 'skip') {
    const r = await facts.resolve(host);
    if (r.ok && r.addresses.length > 0) return r.addresses.every(isPrivateAddress) ? 'lan' : 'remote';
  }
  return isLanHostName(host) ? 'lan' : 'remote';
}
