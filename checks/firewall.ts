import {
  type BackendVerdict,
  destinationFor,
  familiesFor,
  firewallFix,
  inspectFirewallByHand,
  judgeFirewall,
  openToClientsFix,
} from '../src/host/firewall-judge.js';
import { isHttpScheme } from '../src/nix/store-url.js';
import type { CacheCheck } from '../src/runner/check.js';
import { fail, pass, skip, storeKind, warn } from '../src/runner/finding.js';

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
    const to = destinationFor(host);
    const verdicts = judgeFirewall(state, port, families, to);
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
        openOnlyTo: v.openOnlyTo,
      })),
      notes: state.notes,
    };
    if (verdicts.length === 0)
      return skip(`no firewall to read: ${state.notes.join('; ') || 'no iptables, nft or firewall-cmd here'}`, 'no firewall tools', {
        data,
      });
    const refusing = verdicts.find((v) => v.verdict !== 'accept');
    const unmodelled = [...new Set(verdicts.flatMap((v) => v.unmodelled))];
    const unsure = [...new Set(verdicts.flatMap((v) => v.unsure))];
    const detail =
      [
        unmodelled.length
          ? `Rules with matches the doctor does not model were assumed to match:\n${unmodelled.slice(0, 8).join('\n')}`
          : '',
        unsure.length
          ? `Rules for one destination address, passed over (the cache URL names no address of this machine):\n${unsure.slice(0, 8).join('\n')}`
          : '',
      ]
        .filter(Boolean)
        .join('\n') || undefined;
    if (refusing?.openOnlyTo.length) {
      const only = refusing.openOnlyTo.map((o) => `${o.who} (${o.rule})`).join(' or ');
      return warn(
        `TCP port ${port} is open only ${only}; ${refusing.backend} ${refusing.verdict === 'reject' ? 'rejects' : 'drops'} ${what(refusing)} from every other host: decided in ${refusing.chain} by '${refusing.rule}'`,
        { detail, fix: openToClientsFix(refusing, port, state), data },
      );
    }
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
    if (unsure.length) {
      const rules = unsure.length === 1 ? 'a rule' : `${unsure.length} rules`;
      return warn(
        `TCP port ${port} is open to other hosts${conditions.length ? ` ${conditions.join(', ')}` : ''}, but ${rules} for one address of this machine could refuse them (${unsure[0]}${unsure.length > 1 ? ', …' : ''}), and the cache URL names no address to tell: accepted by ${accepted}`,
        {
          detail,
          fix: `Judge the rules for the address clients connect to: sudo nixcache doctor --cache http://<that address>:${port} --only firewall`,
          data,
        },
      );
    }
    return pass(`TCP port ${port} is open to other hosts${conditions.length ? ` ${conditions.join(', ')}` : ''}: accepted by ${accepted}`, {
      detail,
      data,
    });
  },
};
