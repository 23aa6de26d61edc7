import type { CacheTarget } from '../src/discover/types.js';
import type { CacheCheck, Results } from '../src/runner/check.js';
import { fail, pass, skip, storeKind, warn } from '../src/runner/finding.js';

/** Step 3: is the host up? ICMP, judged together with TCP so a filtered ping is not a false alarm. */
export const ping: CacheCheck = {
  id: 'ping',
  title: 'Host answers ping',
  scope: 'cache',
  // Ping and the TCP probe of every cache start with the run: they overlap the local checks.
  reads: ['ping', 'path'],
  async run(facts, cache) {
    const pinging = facts.ping(cache);
    if (!pinging) return skip(`nothing to ping for ${storeKind(cache.url.scheme)}`, 'no host');
    // The TCP probe runs at the same time, so a dead host costs one timeout, not two.
    const [{ ping: result, address, resolution }, path] = await Promise.all([pinging, facts.path(cache)]);
    if (!resolution.ok) return skip(`cannot ping: ${resolution.message}`, 'host name does not resolve');
    if (!result || result.unavailable)
      return skip(`ping could not run: ${result?.unavailable ?? 'no address'}`, result?.unavailable ?? 'no address');
    const data = { address, alive: result.alive, rttMs: result.rttMs, loss: result.loss };
    if (result.alive) {
      return pass(`${address} answers ping in ${result.rttMs?.toFixed(1) ?? '?'} ms${result.loss ? ` (${result.loss}% loss)` : ''}`, {
        data,
      });
    }
    const own = path?.probes?.find((p) => p.address === address);
    if (path?.tcp?.result === 'open' && own && own.result !== 'open') {
      // Another address of the name answers: this one, which clients try first, is dead or filtered.
      return warn(
        `${address}, the first address of ${cache.url.host}, answers neither ping nor TCP port ${path.port} (${own.result}); ${path.tcp.address} accepts TCP: Nix (curl) tries ${address} first and waits for it on every connection`,
        {
          data: { ...data, openAddress: path.tcp.address },
          fix: `Remove ${address} from ${cache.url.host}'s DNS or /etc/hosts entries, or bring that address up on the cache host.`,
        },
      );
    }
    if (path?.tcp?.result === 'open') {
      return warn(`${address} does not answer ping, but port ${path.port} accepts TCP: ICMP is filtered, which is harmless`, {
        data,
        fix: 'Nothing needs fixing for Nix. To allow ping on a NixOS host: networking.firewall.allowPing = true;',
      });
    }
    return fail(
      `${address} answers neither ping nor TCP port ${path?.port ?? '?'}: the host is down, the address is wrong, or a firewall drops everything`,
      {
        data,
        fix: `Check that the cache host is up and that ${cache.url.host} is its address (ip addr on the host).`,
      },
    );
  },
};

/** What the ping check saw of CACHE's host, for checks that declare `uses: ['ping']`. */
export function pingOutcome(results: Results, cache: CacheTarget): { ran: boolean; failed: boolean; alive: boolean; rttMs?: number } {
  const r = results.get(ping.id, cache);
  const rtt = r?.data.rttMs;
  return {
    ran: r !== undefined,
    failed: r?.status === 'fail',
    alive: r?.data.alive === true,
    ...(typeof rtt === 'number' ? { rttMs: rtt } : {}),
  };
}
