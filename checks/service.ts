import { isIP } from 'node:net';
import { reachOf, serves } from '../src/host/sockets.js';
import { execStartArgv } from '../src/host/systemd.js';
import { KNOWN_SERVERS } from '../src/nix/servers.js';
import { isHttpScheme } from '../src/nix/store-url.js';
import type { CacheCheck } from '../src/runner/check.js';
import { fail, pass, skip, storeKind, warn } from '../src/runner/finding.js';

/** Server step 1: `systemctl status nix-serve` — is the cache server running, and listening where others reach it? */
export const service: CacheCheck = {
  id: 'service',
  title: 'Cache server service',
  scope: 'cache',
  reads: ['systemd', 'listeners'],
  async run(facts, cache) {
    const { host, port, scheme } = cache.url;
    if (!isHttpScheme(scheme)) return skip(`${storeKind(scheme)} has no cache server to check`, `${scheme} store`);
    if (!cache.local) {
      return skip(`the cache runs on another host (${host}): check its service there`, 'remote cache', {
        fix: [
          `On ${host}: nixcache doctor --server --port ${port}`,
          'Or by hand:',
          '  systemctl status nix-serve',
          '  journalctl -u nix-serve -n 20',
          `  ss -ltnp 'sport = :${port}'`,
        ].join('\n'),
      });
    }
    const [sd, ls] = await Promise.all([facts.systemd(), facts.listeners()]);
    const unit = sd.available
      ? (sd.units.find((u) => u.ActiveState === 'active') ?? sd.units.find((u) => u.ActiveState === 'failed') ?? sd.units[0])
      : undefined;
    const server = KNOWN_SERVERS.find((s) => s.unit === unit?.Id) ?? KNOWN_SERVERS[0]!;
    const onPort = 'list' in ls ? ls.list.filter((l) => l.port === port) : [];
    const unitText = unit
      ? `${unit.Id} ${unit.ActiveState} (${unit.SubState})${unit.ExecMainStartTimestamp ? ` since ${unit.ExecMainStartTimestamp}` : ''}${Number(unit.NRestarts) > 0 ? `, restarted ${unit.NRestarts} times` : ''}`
      : sd.available
        ? 'no nix-serve, harmonia or atticd unit is installed'
        : sd.reason;
    const data = {
      port,
      unit: unit
        ? {
            id: unit.Id,
            activeState: unit.ActiveState,
            subState: unit.SubState,
            result: unit.Result,
            mainPid: Number(unit.MainPID) || null,
            restarts: Number(unit.NRestarts) || 0,
            execStart: execStartArgv(unit.ExecStart).join(' ') || null,
          }
        : null,
      systemd: sd.available ? 'available' : sd.reason,
      listeners: onPort.map((l) => ({ address: l.address, process: l.process ?? null })),
      listenersFrom: 'list' in ls ? ls.source : ls.error,
    };

    const journal = unit?.Id && unit.ActiveState === 'failed' ? await facts.journal(unit.Id) : undefined;
    if (!('list' in ls)) return skip(`cannot see which sockets listen: ${ls.error}`, 'no socket list', { detail: unitText, data });
    if (onPort.length === 0) {
      const failed = unit?.ActiveState === 'failed';
      return fail(
        failed
          ? `${unit?.Id} has failed (${unit?.Result}) and nothing listens on port ${port}`
          : `nothing listens on port ${port} on this machine`,
        {
          detail: [unitText, journal ? `Last journal lines:\n${journal}` : ''].filter(Boolean).join('\n'),
          fix: failed
            ? `See why: journalctl -u ${unit?.Id} -n 50; then systemctl restart ${unit?.Id}.`
            : `Start the cache server: systemctl enable --now ${server.unit}  (NixOS: ${server.enableFix}${port !== server.defaultPort ? ` and its port ${port}` : ''})`,
          data,
        },
      );
    }
    const where = onPort
      .map((l) => `${l.address.includes(':') ? `[${l.address}]` : l.address}:${port}${l.process ? ` (${l.process})` : ''}`)
      .join(', ');
    // The address the URL names must be one the server listens on: a server on [fd77::1] refuses
    // http://10.77.0.1:PORT, one on 127.0.0.1 refuses this machine's LAN address too.
    const named = (host ?? '').replace(/^\[|\]$/g, '');
    const fromSs = 'list' in ls && !ls.source.startsWith('/proc');
    if (isIP(named) && !onPort.some((l) => serves(l.address, named, fromSs))) {
      return fail(
        `the cache server listens on ${where}, not on ${named}, the address the cache's URL names: connections to it are refused`,
        {
          detail: unitText,
          fix: `Make it listen on ${named} or on every interface — NixOS: ${server.bindFix}  (nix-serve by hand: nix-serve --listen ${isIP(named) === 6 ? '[::]' : '0.0.0.0'}:${port}); or name an address it listens on in substituters`,
          data,
        },
      );
    }
    const reaches = onPort.map((l) => reachOf(l.address));
    if (reaches.every((r) => r === 'loopback')) {
      return warn(`the cache server listens only on ${where}: this machine can use it, other machines cannot (bindAddress)`, {
        detail: unitText,
        fix: `Make it listen on every interface — NixOS: ${server.bindFix}  (nix-serve by hand: nix-serve --listen 0.0.0.0:${port})`,
        data,
      });
    }
    const summary = `listening on ${where}${unit ? `; ${unitText}` : ''}`;
    if (unit && unit.ActiveState !== 'active') return warn(summary, { detail: sd.available ? undefined : sd.reason, data });
    return pass(summary, { ...(sd.available ? {} : { detail: sd.reason }), data });
  },
};
