import { parseRoutes, type Routes } from '../host/routes.js';
import type { Io } from '../system/io.js';
import { readResolvers } from './network.js';

/** The kernel's routing tables (readable by every user), and the resolvers names go to (systemd-resolved's upstreams too). */
export async function readRoutes(io: Io): Promise<Routes> {
  const [v4, v6, resolvers] = await Promise.all([
    io.fs.readText('/proc/net/route', 256 * 1024),
    io.fs.readText('/proc/net/ipv6_route', 256 * 1024),
    readResolvers(io),
  ]);
  return { ...parseRoutes(v4.ok ? v4.text : '', v6.ok ? v6.text : ''), resolvers };
}
