import type { CacheTarget } from '../src/discover/types.js';
import type { Facts } from '../src/facts/types.js';
import { openPortFix } from '../src/host/firewall-judge.js';
import { describeResolvers } from '../src/host/routes.js';
import { deadCacheAdvice } from '../src/nix/advice.js';
import { hostPort } from '../src/nix/store-url.js';
import type { CacheCheck, Finding } from '../src/runner/check.js';
import { fail, pass, skip } from '../src/runner/finding.js';
import { pingOutcome } from './ping.js';

/** Step 4: is the port open? Refused, dropped, unreachable and TLS failures each get their own answer. */
export const connect: CacheCheck = {
  id: 'connect',
  title: 'TCP/TLS connection',
  scope: 'cache',
  needs: ['network'],
  uses: ['ping'],
  reads: ['path'],
  async run(facts, cache, results) {
    const scheme = cache.url.scheme;
    if (scheme === 'file') return connectFile(facts, cache);
    const probing = facts.path(cache);
    if (!probing) return skip(`the doctor does not connect to ${scheme} stores`, `${scheme} store`);
    const path = await probing;
    const where = hostPort(cache.url);
    const advice = cache.role === 'substituter' ? deadCacheAdvice(facts.config.settings, cache.url.display) : undefined;
    const withAdvice = (f: Finding): Finding => (advice ? { ...f, detail: [f.detail, advice].filter(Boolean).join('\n') } : f);
    const seconds = (facts.run.timeoutMs / 1000).toFixed(1);

    if (!path.resolution.ok) {
      const { resolvers: behind } = await facts.routes();
      const resolvers = behind ? (behind.configured.length ? describeResolvers(behind) : '') : (await facts.nameservers()).join(', ');
      // ENOTFOUND: a resolver answered that the name does not exist; anything else: no answer.
      const missing = path.resolution.code === 'ENOTFOUND' || path.resolution.code === 'ENODATA';
      return withAdvice(
        fail(
          missing
            ? `cannot resolve host name '${path.host}': the name does not exist (${path.resolution.code}, the resolver's answer) — Nix reports "Couldn't resolve host name (6)"`
            : `cannot resolve host name '${path.host}': no resolver answered (${path.resolution.code}), which says nothing about the name — Nix reports "Couldn't resolve host name (6)"`,
          {
            detail: resolvers ? `Resolvers in /etc/resolv.conf: ${resolvers}` : undefined,
            fix: missing
              ? `Check the spelling of '${path.host}', add it to /etc/hosts or DNS, or use the server's IP address in substituters.`
              : `Check the resolvers (${resolvers || 'none'}): resolvectl query ${path.host}${behind?.resolved?.upstream[0] ? ` (or dig @${behind.resolved.upstream[0]} ${path.host})` : ''}, or use the server's IP address in substituters.`,
            data: { host: path.host, resolveError: path.resolution.code },
          },
        ),
      );
    }
    const tcp = path.tcp;
    const data: Record<string, unknown> = {
      host: path.host,
      addresses: path.resolution.addresses,
      port: path.port,
      tcp: tcp?.result ?? null,
      connectMs: tcp?.durationMs ?? null,
    };
    if (!tcp || tcp.result === 'cancelled') return skip('not finished by the run deadline', 'deadline', { data });
    if (tcp.result === 'refused') {
      return withAdvice(
        fail(
          `connection to ${where} refused: the host is up but nothing listens on port ${path.port} (or a REJECT rule answers) — Nix reports "Couldn't connect to server (7)"`,
          {
            fix: [
              'On the cache server, see whether it runs (or harmonia, atticd): systemctl status nix-serve',
              'Start it: systemctl enable --now nix-serve',
              `See where it listens: ss -ltnp 'sport = :${path.port}'`,
              'It must listen on an address other machines reach — NixOS: services.nix-serve.bindAddress = "0.0.0.0";',
              `If it runs and listens there, a firewall REJECT rule answers: open the port — NixOS: networking.firewall.allowedTCPPorts = [ ${path.port} ];`,
            ].join('\n'),
            data,
          },
        ),
      );
    }
    if (tcp.result === 'timeout') {
      const pinged = pingOutcome(results, cache);
      const rtt = pinged.rttMs !== undefined ? ` in ${pinged.rttMs.toFixed(1)} ms` : '';
      const summary = pinged.alive
        ? `port ${path.port} timed out after ${seconds} s while ping answers${rtt} — a firewall drops it`
        : `connecting to ${where} timed out after ${seconds} s${pinged.failed ? ' and ping gets no reply either: the host is down or everything is filtered' : ''} — Nix reports "Timeout was reached (28)"`;
      return withAdvice(fail(summary, { fix: openPortFix(path.port), data: { ...data, pingAlive: pinged.alive } }));
    }
    if (tcp.result === 'unreachable') {
      // Host-unreachable for TCP while the host answers ping: a REJECT rule (icmp-host-prohibited, the
      // firewalld default) answers, not the network.
      const pinged = pingOutcome(results, cache);
      if (pinged.alive && tcp.code === 'EHOSTUNREACH')
        return withAdvice(
          fail(
            `port ${path.port} gets "host unreachable" (EHOSTUNREACH) while ${cache.url.host} answers ping: a firewall REJECT rule answers (icmp-host-prohibited, as firewalld rejects) — Nix reports "Couldn't connect to server (7)"`,
            { fix: openPortFix(path.port), data: { ...data, pingAlive: true } },
          ),
        );
      return withAdvice(
        fail(`no route to ${where} (${tcp.code}): this machine cannot reach that network`, {
          fix: `Check the address in substituters and this machine's routes (ip route get ${tcp.address}); on a LAN, both machines must be on the same network or routed.`,
          data,
        }),
      );
    }
    if (tcp.result !== 'open') return withAdvice(fail(`connecting to ${where} failed (${tcp.code ?? tcp.result})`, { data }));

    if (cache.url.httpBase?.startsWith('https:')) {
      const tls = await facts.tls(tcp.address, path.port, path.host);
      if (!tls.ok) {
        const curl = /certificate|self-signed|expired|authority|host name/.test(tls.message)
          ? 'SSL peer certificate or SSH remote key was not OK (60)'
          : 'SSL connect error (35)';
        return withAdvice(
          fail(`TLS to ${where} failed: ${tls.message} — Nix reports "${curl}"`, {
            fix: 'Give the server a certificate for this host name from an authority this machine trusts, or point NIX_SSL_CERT_FILE / ssl-cert-file at a bundle that includes its CA.',
            data: { ...data, tlsError: tls.code ?? tls.message },
          }),
        );
      }
      data.tls = tls.protocol;
      data.tlsMs = tls.durationMs;
    }
    const address = tcp.address.includes(':') ? `[${tcp.address}]` : tcp.address;
    return pass(`connected to ${address}:${path.port} in ${tcp.durationMs} ms${data.tls ? ` (${data.tls})` : ''}`, { data });
  },
};

async function connectFile(facts: Facts, cache: CacheTarget): Promise<Finding> {
  const dir = cache.url.base.replace(/^file:\/\//, '');
  const st = await facts.stat(dir);
  if (!st?.isDirectory)
    return fail(`the cache directory ${dir} does not exist`, {
      fix: `Create it: nix copy --to file://${dir} <store paths>\nOr fix the path in substituters.`,
    });
  return pass(`the cache directory ${dir} exists`, { data: { path: dir } });
}
