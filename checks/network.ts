import { judgeConnectivity } from '../src/host/routes.js';
import { overNetwork } from '../src/nix/store-url.js';
import type { HostCheck } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';

const BUILD_OFFLINE = [
  'Meanwhile build without the caches — /etc/nix/nix.conf: fallback = true (or for one command: --option substitute false)',
  'NixOS: nix.settings.fallback = true;',
].join('\n');

/** Step 3½: is this machine online at all? One answer for every cache, so a dead network is not N "check the spelling"s. */
export const network: HostCheck = {
  id: 'network',
  title: 'This machine can reach the network',
  scope: 'host',
  async run(facts) {
    const remote = facts.caches.filter((c) => overNetwork(c.url));
    if (remote.length === 0) return skip('no cache is reached over the network', 'no network caches');
    const hosts = [...new Set(remote.flatMap((c) => (c.url.host && !/^[\d.]+$|:/.test(c.url.host) ? [c.url.host] : [])))];
    const [names, routes, resolvers] = await Promise.all([
      Promise.all(hosts.map((h) => facts.resolve(h))),
      facts.routes(),
      facts.nameservers(),
    ]);
    const verdict = judgeConnectivity(
      names.map((n) => (n.ok ? { ok: true } : { ok: false, code: n.code })),
      routes,
    );
    const via = [...new Set([...routes.defaultV4, ...routes.defaultV6])];
    const resolved = resolvers.length ? resolvers.join(', ') : 'none';
    const stub = resolvers.includes('127.0.0.53') ? ' (systemd-resolved: resolvectl status shows the servers it asks)' : '';
    const data = { hosts, resolvers, defaultRoutes: via, verdict: verdict.kind, errors: names.flatMap((n) => (n.ok ? [] : [n.code])) };
    // A file:// cache still works offline: then the finding warns and the network caches fail one by one.
    const verdictFn = remote.length === facts.caches.length ? fail : warn;
    if (verdict.kind === 'offline')
      return verdictFn(
        `this machine is offline: no default route, and no resolver answered for ${hosts.join(', ')} (resolvers: ${resolved})`,
        {
          detail: `Nix reports "Couldn't resolve host name (6)" for every cache, then builds everything itself (or fails without fallback).${stub}`,
          fix: `Connect this machine to a network (ip route shows no default route; /etc/resolv.conf names ${resolved}).\n${BUILD_OFFLINE}`,
          data,
        },
      );
    if (verdict.kind === 'dns-down')
      return verdictFn(
        `no resolver answers: ${hosts.join(', ')} could not be looked up (${data.errors.join(', ')}) although a default route exists via ${via.join(', ')}`,
        {
          detail: `Resolvers in /etc/resolv.conf: ${resolved}${stub}. "Could not be looked up" is not "does not exist": nobody answered.`,
          fix: `Check the resolvers: resolvectl query ${hosts[0]} (or dig @${resolvers[0] ?? 'RESOLVER'} ${hosts[0]}); fix /etc/resolv.conf or the network's DNS.\n${BUILD_OFFLINE}`,
          data,
        },
      );
    if (verdict.kind === 'no-names')
      return pass(
        `caches are reached by address; default route ${via.length ? `via ${via.join(', ')}` : 'none (a LAN cache needs none)'}`,
        { data },
      );
    return pass(
      `${names.filter((n) => n.ok).length} of ${hosts.length} cache host names resolve; default route ${via.length ? `via ${via.join(', ')}` : 'none'}`,
      { data },
    );
  },
};
