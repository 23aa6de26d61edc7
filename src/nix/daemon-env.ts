import { BlockList, isIP } from 'node:net';
/** Environment variables that change how the process that substitutes reaches caches. */
export type EnvKind = 'proxy' | 'ca' | 'aws' | 'conf';

const PROXY = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'];
const CA = ['NIX_SSL_CERT_FILE', 'SSL_CERT_FILE'];
const CONF = ['NIX_CONF_DIR'];
/** Values never shown: only whether they are set. */
const SECRET = /^AWS_(SECRET_ACCESS_KEY|SESSION_TOKEN|SECURITY_TOKEN)$/;

export function envKind(name: string): EnvKind | undefined {
  if (PROXY.includes(name)) return 'proxy';
  if (CA.includes(name)) return 'ca';
  if (CONF.includes(name)) return 'conf';
  if (name.startsWith('AWS_')) return 'aws';
  return undefined;
}

/** The variables that matter, from a NUL-separated /proc/PID/environ. */
export function parseEnviron(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split('\0').slice(0, 10_000)) {
    const eq = entry.indexOf('=');
    if (eq > 0 && envKind(entry.slice(0, eq))) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** `systemctl show -p Environment --value`: space-separated NAME=value, double-quoted when they hold spaces. */
export function parseUnitEnvironment(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const entry = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string);
    const eq = entry.indexOf('=');
    if (eq > 0 && envKind(entry.slice(0, eq))) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

export function relevantEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && envKind(k)) out[k] = v;
  return out;
}

export interface EnvDifference {
  name: string;
  kind: EnvKind;
  daemon?: string;
  user?: string;
}

/** What the daemon's environment has that the user's has not, and the reverse (secret values blanked). */
export function diffEnv(daemon: Record<string, string>, user: Record<string, string>): EnvDifference[] {
  const names = [...new Set([...Object.keys(daemon), ...Object.keys(user)])].sort();
  const show = (name: string, v: string | undefined) => (v === undefined ? undefined : SECRET.test(name) ? '(set)' : redactProxy(v));
  return names.flatMap((name) => {
    if (daemon[name] === user[name]) return [];
    const d = show(name, daemon[name]);
    const u = show(name, user[name]);
    return [{ name, kind: envKind(name) as EnvKind, ...(d !== undefined ? { daemon: d } : {}), ...(u !== undefined ? { user: u } : {}) }];
  });
}

function redactProxy(v: string): string {
  return v.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/** Whether the IP address HOST lies in ENTRY, a no_proxy entry in CIDR notation (curl ≥ 7.86: 10.0.0.0/8, fd00::/8). */
function inSubnet(host: string, entry: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  const family = isIP(host);
  if (!m || family === 0 || isIP(m[1] as string) !== family) return false;
  const prefix = Number(m[2]);
  if (prefix > (family === 4 ? 32 : 128)) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const subnet = new BlockList();
  subnet.addSubnet(m[1] as string, prefix, type);
  return subnet.check(host, type);
}

/**
 * The proxy curl uses for URL under ENV: the scheme's own variable (for http only in lower case —
 * curl ignores HTTP_PROXY), else all_proxy; none when no_proxy names the host (or a domain of it, a subnet holding its address, or *).
 */
export function proxyFor(url: string, env: Record<string, string>): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = u.protocol.replace(':', '');
  const noProxy = (env.no_proxy ?? env.NO_PROXY ?? '')
    .split(',')
    .map((s) =>
      s
        .trim()
        .toLowerCase()
        .replace(/^\*?\./, ''),
    )
    .filter(Boolean);
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (noProxy.some((n) => n === '*' || host === n || host.endsWith(`.${n}`) || inSubnet(host, n))) return undefined;
  const own = scheme === 'http' ? env.http_proxy : (env.https_proxy ?? env.HTTPS_PROXY);
  const proxy = own || env.all_proxy || env.ALL_PROXY;
  return proxy || undefined;
}
