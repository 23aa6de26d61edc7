import type { NetrcEntry } from './netrc.js';
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
export function netrcFix(url: StoreUrl, view: NetrcView, login = 'USER'): string {
  return [
    `Add to ${view.path} (mode 600, owned by root — the nix-daemon reads it as root):`,
    `  machine ${url.host ?? 'HOST'} login ${login} password ***`,
    `and name it in /etc/nix/nix.conf: netrc-file = ${view.path}`,
    `NixOS: nix.settings.netrc-file = "${view.path}";  (keep the file out of the Nix store, e.g. with sops-nix or agenix)`,
  ].join('\n');
}

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
  };
  const summary = `nix-cache-info is public but narinfos answer ${probe.status} (${sent}) — Nix treats this as 'not in the cache', silently, and builds everything from source`;
  return {
    status: match.kind === 'unreadable-here' ? 'warn' : 'fail',
    summary: match.kind === 'unreadable-here' ? `${summary}; the doctor could not read ${view.path}, which the daemon may` : summary,
    detail: describeNetrc(url, view),
    fix: netrcFix(url, view),
    data,
  };
}
