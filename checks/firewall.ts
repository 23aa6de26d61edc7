import { type BackendVerdict, familiesFor, firewallFix, inspectFirewallByHand, judgeFirewall } from '../src/host/firewall-judge.js';
import { isHttpScheme } from '../src/nix/store-url.js';
import type { CacheCheck } from '../src/runner/check.js';
import { fail, pass, skip, storeKind } from '../src/runner/finding.js';

/** Server step 3: `iptables -L -n | grep 5000`, done properly — would another host's new connection to the port get in? */
export const firewall: CacheCheck = {
  id: 'firewall',
  title: 'Firewall admits the port',
  scope: 'cache',
  reads: ['firewall'],
  async run(facts, cache) {
    const { host, port, scheme } = cache.url;
    if (!isHttpScheme(scheme) || port === undefined) return skip(`${storeKind(scheme)} has no port to open`, `${scheme} store`);
    if (!cache.local) {
      return skip(`the cache runs on another host (${host}): check its firewall there`, 'remote cache', {
        fix: [
          `On ${host}: sudo nixcache doctor --server --port ${port}`,
          'Or by hand:',
          ...inspectFirewallByHand(port).map((c) => `  ${c}`),
        ].join('\n'),
      });
    }
    if (!facts.env.root) return skip('reading the firewall needs root; run with sudo', 'needs root');
    const state = await facts.firewall();
    const families = familiesFor(host);
    const verdicts = judgeFirewall(state, port, families);
    const what = (v: BackendVerdict) =>
      families.length > 1 || v.family === 'ipv6' ? `new ${v.family === 'ipv6' ? 'IPv6' : 'IPv4'} connections` : 'new connections';
    const data = {
      port,
      families,
      backends: verdicts.map((v) => ({
        backend: v.backend,
        family: v.family ?? null,
        verdict: v.verdict,
        rule: v.rule,
        chain: v.chain,
        conditions: v.conditions,
      })),
      notes: state.notes,
    };
    if (verdicts.length === 0)
      return skip(`no firewall to read: ${state.notes.join('; ') || 'no iptables, nft or firewall-cmd here'}`, 'no firewall tools', {
        data,
      });
    const refusing = verdicts.find((v) => v.verdict !== 'accept');
    const unmodelled = [...new Set(verdicts.flatMap((v) => v.unmodelled))];
    const detail = unmodelled.length
      ? `Rules with matches the doctor does not model were assumed to match:\n${unmodelled.slice(0, 8).join('\n')}`
      : undefined;
    if (refusing) {
      return fail(
        `${refusing.backend} ${refusing.verdict === 'reject' ? 'rejects' : 'drops'} ${what(refusing)} to TCP port ${port}: decided in ${refusing.chain} by '${refusing.rule}'`,
        { detail, fix: firewallFix(refusing, port, state), data },
      );
    }
    const conditions = [...new Set(verdicts.flatMap((v) => v.conditions))];
    const accepted = verdicts
      .map((v) => `${v.backend}${v.backend === 'nftables' && families.length > 1 && v.family === 'ipv6' ? ' for IPv6' : ''} (${v.rule})`)
      .join(', ');
    return pass(`TCP port ${port} is open to other hosts${conditions.length ? ` ${conditions.join(', ')}` : ''}: accepted by ${accepted}`, {
      detail,
      data,
    });
  },
};
