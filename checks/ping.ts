import { fail, pass, skip, storeKind, warn } from '../src/runner/finding.js';
import { probePath, probePing } from '../src/runner/probes.js';
import type { Check } from '../src/runner/types.js';

/** Step 3: is the host up? ICMP, judged together with TCP so a filtered ping is not a false alarm. */
export const ping: Check = {
  id: 'ping',
  title: 'Host answers ping',
  scope: 'cache',
  prepare(ctx) {
    // Ping and the TCP probe of every cache start with the run: they overlap the local checks.
    for (const target of ctx.caches) {
      void probePing(ctx, target);
      void probePath(ctx, target);
    }
  },
  async run(ctx, target) {
    if (!target) throw new Error('cache check without a cache');
    const pinging = probePing(ctx, target);
    if (!pinging) return skip(`nothing to ping for ${storeKind(target.url.scheme)}`, 'no host');
    // The TCP probe runs at the same time, so a dead host costs one timeout, not two.
    const [{ ping: result, address, resolution }, path] = await Promise.all([pinging, probePath(ctx, target)]);
    if (!resolution.ok) return skip(`cannot ping: ${resolution.message}`, 'host name does not resolve');
    if (!result || result.unavailable)
      return skip(`ping could not run: ${result?.unavailable ?? 'no address'}`, result?.unavailable ?? 'no address');
    const data = { address, alive: result.alive, rttMs: result.rttMs, loss: result.loss };
    if (result.alive) {
      return pass(`${address} answers ping in ${result.rttMs?.toFixed(1) ?? '?'} ms${result.loss ? ` (${result.loss}% loss)` : ''}`, {
        data,
      });
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
        fix: `Check that the cache host is up and that ${target.url.host} is its address (ip addr on the host).`,
      },
    );
  },
};
