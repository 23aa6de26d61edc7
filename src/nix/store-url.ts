/** A substituter URL as Nix reads it: the store URI, then `?name=value&…` store settings. */
export interface StoreUrl {
  /** Exactly as configured, credentials included: used for requests, never printed. */
  raw: string;
  /** The URL with any password replaced by `***`: safe to print. */
  display: string;
  scheme: string;
  /** Without the query string and without credentials, trailing slash removed (as Nix does for http). */
  base: string;
  params: Record<string, string>;
  host?: string;
  port?: number;
  credentials?: { user: string; password: string };
  /**
   * Where the cache's files can be read over HTTP(S): the base of an http(s) cache; for s3:// the
   * bucket's address (path-style under `endpoint=` for S3-compatible servers such as MinIO, else
   * AWS's virtual-hosted `https://BUCKET.s3.REGION.amazonaws.com`). host and port are this address's.
   */
  httpBase?: string;
  /** The bucket of an s3:// store. */
  bucket?: string;
  /** `?priority=N` when present and a valid integer. */
  priority?: number;
  /** `?priority=` present but not an integer: Nix would refuse the store. */
  badPriority?: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ssh: 22, 'ssh-ng': 22 };
/** Query parameters whose values are credentials (`?api_key=`, `?sig=`, `?access_token=` …). */
export const SECRET_PARAMS = /pass|token|secret|auth|key|sig|credential|session/i;

export function isHttpScheme(scheme: string): boolean {
  return scheme === 'http' || scheme === 'https';
}

export function parseStoreUrl(raw: string): StoreUrl {
  const q = raw.indexOf('?');
  const uri = q >= 0 ? raw.slice(0, q) : raw;
  const query = q >= 0 ? raw.slice(q + 1) : '';
  const params: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq >= 0 ? pair.slice(0, eq) : pair);
    params[key] = safeDecode(eq >= 0 ? pair.slice(eq + 1) : '');
  }
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  const scheme = schemeMatch
    ? (schemeMatch[1] as string).toLowerCase()
    : uri === 'daemon' || uri === 'local' || uri === 'auto'
      ? uri
      : 'other';
  const result: StoreUrl = { raw, display: raw, scheme, base: uri, params };

  if (schemeMatch && scheme !== 'file') {
    try {
      const u = new URL(uri);
      if (u.hostname) result.host = u.hostname.replace(/^\[|\]$/g, '');
      const port = u.port ? Number(u.port) : DEFAULT_PORTS[scheme];
      if (port !== undefined) result.port = port;
      if (u.username || u.password) {
        result.credentials = { user: safeDecode(u.username), password: safeDecode(u.password) };
        u.username = '';
        u.password = '';
      }
      result.base = u.toString();
    } catch {
      // Not a valid URL: leave host/port unset; the connect check reports it.
    }
  }
  if (isHttpScheme(scheme)) {
    result.base = result.base.replace(/\/+$/, '');
    result.httpBase = result.base;
  }
  if (scheme === 's3') s3Address(result, uri.slice('s3://'.length).split('/')[0] ?? '', params);

  if ('priority' in params) {
    const p = params.priority as string;
    if (/^[+-]?\d+$/.test(p)) result.priority = Number(p);
    else result.badPriority = p;
  }
  result.display = redactUrl(raw);
  return result;
}

function s3Address(result: StoreUrl, bucket: string, params: Record<string, string>): void {
  result.bucket = bucket;
  delete result.host;
  delete result.port;
  if (!bucket) return;
  const endpoint = params.endpoint?.replace(/\/+$/, '');
  const base = endpoint
    ? `${/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${params.scheme || 'https'}://${endpoint}`}/${encodeURIComponent(bucket)}`
    : `https://${bucket}.s3.${params.region || 'us-east-1'}.amazonaws.com`;
  try {
    const u = new URL(base);
    if (!isHttpScheme(u.protocol.slice(0, -1))) return;
    result.httpBase = base;
    result.host = u.hostname.replace(/^\[|\]$/g, '');
    result.port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  } catch {
    // An endpoint that is not a URL: nothing to read; the connect check says so.
  }
}

/** Replaces a URL's password (and secret-looking query values) with `***`. */
export function redactUrl(raw: string): string {
  // The password runs to the last '@' before the query: it may hold '@' or '/' itself (`u:P@SS/W0RD@host`).
  let out = raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^?#\s]*)@/i, (m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    if (colon < 0 || userinfo.slice(0, colon).includes('/')) return m;
    return `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
  out = out.replace(/([?&])([^=&#]+)=([^&#]*)/g, (m, sep: string, key: string) => (SECRET_PARAMS.test(key) ? `${sep}${key}=***` : m));
  return out;
}

/** Joins a path under a cache's base URL (`base` has no trailing slash). */
export function cacheFileUrl(base: string, file: string): string {
  return `${base}/${file.replace(/^\/+/, '')}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `host:port`, with an IPv6 literal in brackets. */
export function hostPort(url: StoreUrl): string {
  const { host, port } = url;
  return host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Stores reached over the network at their URL's host: an s3:// "host" is a bucket name. */
const NETWORK_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ssh', 'ssh-ng']);

/** Whether the doctor reaches this store over the network at url.host (an s3:// store at its bucket's address). */
export function overNetwork(url: StoreUrl): boolean {
  return url.httpBase !== undefined || NETWORK_SCHEMES.has(url.scheme);
}

/**
 * The store URL RAW with NAME=VALUE among its parameters (`nix copy --to 'URL?compression=xz'`):
 * added after `&` when it already has some, replacing the parameter when it has that one.
 */
export function withStoreParam(raw: string, name: string, value: string): string {
  const [base = raw, query = ''] = raw.split(/\?(.*)/s);
  const kept = query.split('&').filter((p) => p !== '' && p.split('=')[0] !== name);
  return `${base}?${[...kept, `${name}=${value}`].join('&')}`;
}

/** The directory of a file:// cache. */
export function fileCacheDir(url: StoreUrl): string {
  return url.base.replace(/^file:\/\//, '');
}
