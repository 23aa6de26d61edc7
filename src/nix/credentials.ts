import type { Credentials, NetrcEntry } from './netrc.js';
import type { StoreUrl } from './store-url.js';

/** The netrc-file as the process that substitutes reads it, and who that is. */
export interface NetrcView {
  path: string;
  entries: readonly NetrcEntry[];
  /** Why the doctor could not read or parse it. */
  problem?: string;
  /** The doctor runs as root (it reads what the daemon reads). */
  root: boolean;
  /** A nix-daemon substitutes (as root), not this user's process. */
  multiUser: boolean;
}

/** What curl would send for a cache, or why nothing — with the near misses a person would not spot. */
export type NetrcMatch =
  | { kind: 'url' }
  | { kind: 'machine'; machine: string }
  | { kind: 'default' }
  /** The doctor could not read the file; the daemon (root) may well. */
  | { kind: 'unreadable-here'; problem: string }
  | { kind: 'unreadable'; problem: string }
  | { kind: 'none'; nearMisses: string[] };

/**
 * curl (and so Nix) picks the first `machine` entry equal to the host name — the port plays no part,
 * so `machine cache.lan:5000` never matches — else the `default` entry.
 */
export function matchNetrc(url: StoreUrl, view: NetrcView): NetrcMatch {
  if (url.credentials) return { kind: 'url' };
  if (view.problem && !/ENOENT|does not exist/.test(view.problem)) {
    const deniedHere = /EACCES|permission denied|not readable/i.test(view.problem) && !view.root && view.multiUser;
    return deniedHere ? { kind: 'unreadable-here', problem: view.problem } : { kind: 'unreadable', problem: view.problem };
  }
  const host = url.host ?? '';
  const exact = view.entries.find((e) => e.machine === host);
  if (exact?.machine) return { kind: 'machine', machine: exact.machine };
  if (view.entries.some((e) => e.machine === undefined)) return { kind: 'default' };
  const lower = host.toLowerCase();
  const nearMisses = view.entries.flatMap((e) => {
    const m = e.machine ?? '';
    if (m.replace(/:\d+$/, '') === host) return [`'machine ${m}' has a port: curl matches the host name alone, so it never applies`];
    if (m.toLowerCase() === lower) return [`'machine ${m}' differs from '${host}' in case only: curl compares them exactly`];
    if (/^https?:\/\//.test(m)) return [`'machine ${m}' is a URL: write the host name alone (machine ${host})`];
    return [];
  });
  return { kind: 'none', nearMisses };
}

/** Lines explaining where credentials for URL come from (or not), for a finding's detail. */
export function describeNetrc(url: StoreUrl, view: NetrcView): string {
  const m = matchNetrc(url, view);
  const who = view.multiUser ? 'the nix-daemon (root)' : 'Nix (this user)';
  switch (m.kind) {
    case 'url':
      return 'Credentials come from the URL (user:password@).';
    case 'machine':
      return `${view.path} has 'machine ${m.machine}': ${who} sends its login.`;
    case 'default':
      return `${view.path} has no entry for ${url.host} but a 'default' entry, which ${who} sends.`;
    case 'unreadable-here':
      return `The doctor could not read ${view.path} (${m.problem}), so its requests went without credentials; ${who} reads it with its own rights. Run sudo nixcache doctor to check with the daemon's credentials.`;
    case 'unreadable':
      return `${who} cannot use ${view.path}: ${m.problem}.`;
    case 'none':
      return [`${view.path} has no 'machine ${url.host}' entry and no 'default' entry.`, ...m.nearMisses].join('\n');
  }
}

/** The fix for a cache that wants credentials: the netrc line, where the file is named, both forms. */
export function netrcFix(url: StoreUrl, view: NetrcView, login = 'USER', tokens: readonly AccessTokenScope[] = []): string {
  const host = url.host ?? 'HOST';
  const entry = tokens.length
    ? [
        `  machine ${host} password ***`,
        `where *** is the cache's token (token servers such as attic and Cachix take it as the password; add 'login ${login}' if yours wants a user name),`,
        // Not "remove it": the same host may serve flake inputs (a GitLab with a cache beside it) that need it.
        `${tokens.map((t) => `${t.scope}=… (${t.origin})`).join(', ')} serves only GitHub, GitLab or SourceHut flake inputs on that host, never the cache: keep it for those or drop it from access-tokens`,
      ]
    : [`  machine ${host} login ${login} password ***`];
  return [
    `Add to ${view.path} (mode 600, owned by root — the nix-daemon reads it as root):`,
    ...entry,
    `and name it in /etc/nix/nix.conf: netrc-file = ${view.path}`,
    `NixOS: nix.settings.netrc-file = "${view.path}";  (keep the file out of the Nix store, e.g. with sops-nix or agenix)`,
  ].join('\n');
}

/** An `access-tokens` entry (`host=token`, or `host/path=token` since Nix 2.27) that names a cache's host; the token is never kept. */
export interface AccessTokenScope {
  /** What stands left of `=`: a host name (and path), never the token. */
  scope: string;
  /** Where it was set: `file:line`. */
  origin: string;
}

/**
 * The `access-tokens` entries a person wrote for URL's host (with or without its port, a scheme or a
 * path). Nix reads access-tokens only in libfetchers (github.cc: the GitHub, GitLab and SourceHut
 * inputs of flakes, matched by host, and by host/path prefix since 2.27); the HTTP binary cache store
 * and its file transfers never look at them — curl gets only netrc-file (filetransfer.cc) — so a
 * token written for a cache is never sent. Entries without `=` are skipped: their text may be a token.
 */
export function accessTokensFor(
  url: StoreUrl,
  items: readonly { value: string; origin: { file: string; line: number } }[],
): AccessTokenScope[] {
  const host = url.host?.toLowerCase();
  if (!host || url.scheme === 's3') return [];
  const names = new Set([host, `${host}:${url.port ?? ''}`]);
  return items.flatMap((item) => {
    const at = item.value.indexOf('=');
    if (at <= 0) return [];
    const scope = item.value.slice(0, at);
    const named = scope
      .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
      .split('/')[0]
      ?.toLowerCase();
    return named && names.has(named) ? [{ scope, origin: `${item.origin.file}:${item.origin.line}` }] : [];
  });
}

/**
 * The lines saying why an access-tokens entry for a cache does nothing. The redactor hides every
 * word after "access-tokens" on a line, so the setting's name always ends a line here.
 */
export function describeAccessTokens(tokens: readonly AccessTokenScope[]): string | undefined {
  if (tokens.length === 0) return undefined;
  return [
    ...tokens.map((t) => `${t.origin} gives '${t.scope}' a token in access-tokens`),
    "but Nix never sends those to a binary cache: they are only for fetching GitHub, GitLab and SourceHut flake inputs. A substituter's credentials come from netrc-file alone (or user:password@ in its URL).",
  ].join('\n');
}

/** The end of a summary when a token was written for the cache (the setting's name last: see describeAccessTokens). */
const unsentTokenNote = (url: StoreUrl, tokens: readonly AccessTokenScope[]) =>
  tokens.length ? `; Nix never sends binary caches the token for ${url.host} in access-tokens` : '';

/** Whether a 403 came from S3, which answers 403 for keys that do not exist when listing is not granted. */
export function looksLikeS3(headers: Record<string, string>): boolean {
  return /AmazonS3|MinIO/i.test(headers.server ?? '') || 'x-amz-request-id' in headers;
}

export interface AuthProblem {
  status: 'fail' | 'warn';
  summary: string;
  detail: string;
  fix: string;
  data: Record<string, unknown>;
}

/**
 * A cache whose nix-cache-info is public but whose narinfos answer 401/403: Nix takes those answers
 * for "not in this cache" (filetransfer.cc maps them to Forbidden), says nothing, and builds.
 */
export function narinfoAuthProblem(
  url: StoreUrl,
  probe: { url: string; status: number; headers: Record<string, string>; credentials: 'url' | 'netrc' | null },
  view: NetrcView,
  tokens: readonly AccessTokenScope[] = [],
): AuthProblem | undefined {
  if (probe.status !== 401 && probe.status !== 403) return undefined;
  if (probe.status === 403 && looksLikeS3(probe.headers)) return undefined;
  const match = matchNetrc(url, view);
  const sent = probe.credentials
    ? `credentials from ${probe.credentials === 'url' ? 'the URL' : view.path} were sent and refused`
    : 'no credentials were sent';
  const data = {
    narinfoStatus: probe.status,
    narinfoUrl: probe.url,
    credentials: probe.credentials,
    netrcFile: view.path,
    netrc: match.kind,
    ...(tokens.length ? { accessTokens: tokens.map((t) => t.scope) } : {}),
  };
  const summary = `nix-cache-info is public but narinfos answer ${probe.status} (${sent}) — Nix treats this as 'not in the cache', silently, and builds everything from source${unsentTokenNote(url, tokens)}`;
  return {
    status: match.kind === 'unreadable-here' ? 'warn' : 'fail',
    summary: match.kind === 'unreadable-here' ? `${summary}; the doctor could not read ${view.path}, which the daemon may` : summary,
    detail: [describeNetrc(url, view), describeAccessTokens(tokens)].filter(Boolean).join('\n'),
    fix: netrcFix(url, view, 'USER', probe.credentials ? [] : tokens),
    data,
  };
}

/** A cache whose nix-cache-info itself answers 401/403: what was sent (or why nothing), and the netrc line that fixes it. */
export function cacheInfoAuthProblem(
  url: StoreUrl,
  status: number,
  auth: Credentials | undefined,
  view: NetrcView,
  tokens: readonly AccessTokenScope[] = [],
): Omit<AuthProblem, 'status'> {
  const how = auth
    ? `credentials from ${auth.source === 'url' ? 'the URL' : view.path} were sent and refused`
    : `no credentials: Nix sends them from netrc-file (now ${view.path}${view.entries.length ? ', which has no entry for this host' : ', which does not exist or is empty'})`;
  const note403 =
    status === 403
      ? ' (Nix treats a 403 on a .narinfo as "not in cache", as S3 answers 403 for missing keys, so builds silently compile instead)'
      : '';
  return {
    summary: `GET /nix-cache-info answered ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}: ${how}${note403}${unsentTokenNote(url, tokens)}`,
    detail: [describeNetrc(url, view), describeAccessTokens(tokens)].filter(Boolean).join('\n'),
    fix:
      tokens.length && !auth
        ? netrcFix(url, view, 'USER', tokens)
        : [
            `Add to ${view.path} (mode 600, readable by the nix-daemon):`,
            `  machine ${url.host ?? 'HOST'} login ${auth?.user || 'USER'} password ***`,
            `and make sure nix.conf names it: netrc-file = ${view.path}  (NixOS: nix.settings.netrc-file = "${view.path}";)`,
          ].join('\n'),
    data: {
      credentials: auth?.source ?? null,
      netrcFile: view.path,
      ...(tokens.length ? { accessTokens: tokens.map((t) => t.scope) } : {}),
    },
  };
}
