// Loaded with `node --import` ahead of the CLI (runCli's nodeArgs): records every DNS query, TCP
// connection and ping the process starts, one JSON line each, in the file $NIXCACHE_NETWORK_LOG.
// The CLI's named imports of node:dns/promises and node:net see the wrappers through
// syncBuiltinESMExports.
import childProcess from 'node:child_process';
import dns from 'node:dns';
import dnsPromises from 'node:dns/promises';
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { basename } from 'node:path';

const file = process.env.NIXCACHE_NETWORK_LOG;
const note = (kind, what) => {
  if (file) appendFileSync(file, `${JSON.stringify({ kind, what })}\n`);
};

for (const name of ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'reverse']) {
  for (const api of [dns, dnsPromises]) {
    const original = api[name];
    if (typeof original !== 'function') continue;
    api[name] = function (...args) {
      note('dns', `${name} ${String(args[0])}`);
      return original.apply(this, args);
    };
  }
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  // A path is a Unix socket (the nix-daemon's), not the network.
  const ipc = (first && typeof first === 'object' && first.path) || typeof first === 'string';
  if (!ipc) note('tcp', `${first?.host ?? first?.address ?? 'localhost'}:${first?.port ?? first}`);
  return connect.apply(this, args);
};

for (const name of ['spawn', 'execFile']) {
  const original = childProcess[name];
  childProcess[name] = function (command, ...rest) {
    if (/^ping6?$/.test(basename(String(command)))) note('ping', [command, ...(Array.isArray(rest[0]) ? rest[0] : [])].join(' '));
    return original.call(this, command, ...rest);
  };
}

syncBuiltinESMExports();
