import { describeResolvers, judgeConnectivity, type Resolvers } from '../src/host/routes.js';
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
  reads: ['routes'],
  async run(facts) {
    const remote = facts.caches.filter((c) => overNetwork(c.url));
    if (remote.length === 0) return skip('no cache is reached over the network', 'no network caches');
    const hosts = [...new Set(remote.flatMap((c) => (c.url.host && !/^[\d.]+$|:/.test(c.url.host) ? [c.url.host] : [])))];
    const [names, routes] = await Promise.all([Promise.all(hosts.map((h) => facts.resolve(h))), facts.routes()]);
    const resolvers: Resolvers = routes.resolvers ?? { configured: await facts.nameservers() };
    const verdict = judgeConnectivity(
      names.map((n) => (n.ok ? { ok: true } : { ok: false, code: n.code })),
      { ...routes, resolvers },
    );
    const via = [...new Set([...routes.defaultV4, ...routes.defaultV6])];
    const named = describeResolvers(resolvers);
    const resolved = resolvers.resolved;
    const upstreamFrom = resolved && resolved.source !== 'none' ? ` (from ${resolved.source})` : '';
    const data = {
      hosts,
      resolvers: resolvers.configured,
      ...(resolved ? { resolved } : {}),
      defaultRoutes: via,
      verdict: verdict.kind,
      errors: names.flatMap((n) => (n.ok ? [] : [n.code])),
    };
    const looked = `${hosts.join(', ')} could not be looked up (${data.errors.join(', ')})`;
    // A file:// cache still works offline: then the finding warns and the network caches fail one by one.
    const verdictFn = remote.length === facts.caches.length ? fail : warn;
    if (verdict.kind === 'offline')
      return verdictFn(
        `this machine is offline: no default route, and no resolver answered for ${hosts.join(', ')} (resolvers: ${named})`,
        {
          detail: `Nix reports "Couldn't resolve host name (6)" for every cache, then builds everything itself (or fails without fallback).${
            resolved ? `\n/etc/resolv.conf sends look-ups to systemd-resolved at ${resolved.stub}: ${named}${upstreamFrom}.` : ''
          }`,
          fix: `Connect this machine to a network (ip route shows no default route; /etc/resolv.conf names ${resolvers.configured.join(', ') || 'none'}).\n${BUILD_OFFLINE}`,
          data,
        },
      );
    if (verdict.kind === 'resolved-down')
      return verdictFn(
        `systemd-resolved is not running: /etc/resolv.conf sends every look-up to its stub ${resolved?.stub}, where nothing answers, so ${looked}`,
        {
          detail: `A connection to ${resolved?.stub} port 53 was refused. The default route via ${via.join(', ')} is there; only the resolver is missing.`,
          fix: [
            'Start it: systemctl enable --now systemd-resolved  (see why it stopped: journalctl -u systemd-resolved -n 50)',
            'Or point /etc/resolv.conf at a resolver that runs — NixOS: services.resolved.enable = true; or networking.nameservers = [ "…" ];',
            BUILD_OFFLINE,
          ].join('\n'),
          data,
        },
      );
    if (verdict.kind === 'resolved-no-servers')
      return verdictFn(
        `systemd-resolved at ${resolved?.stub} knows no DNS server to ask${upstreamFrom}, so ${looked} although a default route exists via ${via.join(', ')}`,
        {
          detail: '"No DNS servers known": neither its configuration nor the network (DHCP, NetworkManager, systemd-networkd) gave it one.',
          fix: [
            'Give it servers: /etc/systemd/resolved.conf, [Resolve] DNS=<your resolver>, then systemctl restart systemd-resolved; check with resolvectl dns',
            'NixOS: networking.nameservers = [ "<your resolver>" ];',
            BUILD_OFFLINE,
          ].join('\n'),
          data,
        },
      );
    if (verdict.kind === 'dns-down') {
      const ask = resolved?.upstream[0] ?? resolvers.configured[0] ?? 'RESOLVER';
      return verdictFn(`no resolver answers: ${looked} although a default route exists via ${via.join(', ')}`, {
        detail: `Resolvers: ${named}${upstreamFrom}. "Could not be looked up" is not "does not exist": nobody answered.`,
        fix: `Check the resolvers: resolvectl query ${hosts[0]} (or dig @${ask} ${hosts[0]}); fix ${resolved ? 'the DNS servers systemd-resolved asks (resolvectl dns)' : '/etc/resolv.conf'} or the network's DNS.\n${BUILD_OFFLINE}`,
        data,
      });
    }
    if (verdict.kind === 'no-names')
      return pass(
        `caches are reached by address; default route ${via.length ? `via ${via.join(', ')}` : 'none (a LAN cache needs none)'}`,
        {
          data,
        },
      );
    return pass(
      `${names.filter((n) => n.ok).length} of ${hosts.length} cache host names resolve; default route ${via.length ? `via ${via.join(', ')}` : 'none'}`,
      { data },
    );
  },
};
