/**
 * What a cache server's own records say about how well it serves its clients: of the narinfo
 * requests (Nix asking "do you have this path?"), how many it could answer, how much NAR data it
 * sent, and how many requests failed on its side.
 */
export interface HitRate {
  source: 'harmonia' | 'access-log';
  /** All requests counted (in the window, for an access log). */
  requests: number;
  narinfoRequests: number;
  /** narinfo answered 200. */
  narinfoHits: number;
  /** narinfo answered 404 (or 403/410, as some servers answer for a missing key). */
  narinfoMisses: number;
  /** hits / (hits + misses); null when there were none. */
  hitRatio: number | null;
  narRequests: number;
  /** Bytes of NAR files sent; null when the source does not say (harmonia's metrics). */
  narBytes: number | null;
  /** Requests answered 5xx. */
  serverErrors: number;
  /** The most requested missing store path hashes (access logs only), most requested first. */
  topMissing: { hash: string; count: number }[];
  /** The time span the figures cover (ISO 8601), when the source says. */
  from: string | null;
  to: string | null;
  /** Lines or samples that could not be read. */
  skipped: number;
}

/** Nothing counted yet, from SOURCE: what both readers start from. */
export function emptyHitRate(source: HitRate['source'], narBytes: number | null, skipped = 0): HitRate {
  return {
    source,
    requests: 0,
    narinfoRequests: 0,
    narinfoHits: 0,
    narinfoMisses: 0,
    hitRatio: null,
    narRequests: 0,
    narBytes,
    serverErrors: 0,
    topMissing: [],
    from: null,
    to: null,
    skipped,
  };
}

/** A 32-character Nix base32 hash part, the only part of a request path ever repeated in output. */
export const HASH_PART = /^[0-9a-df-np-sv-z]{32}$/;
export const NARINFO_PATH = /^\/([0-9a-df-np-sv-z]{32})\.narinfo$/;

/** How a request to a binary cache is counted. */
export type RequestKind = 'narinfo' | 'nar' | 'other';

export function requestKind(path: string): RequestKind {
  if (NARINFO_PATH.test(path)) return 'narinfo';
  if (path.startsWith('/nar/')) return 'nar';
  return 'other';
}

export const isMissStatus = (status: number) => status === 404 || status === 403 || status === 410;

export function ratio(hits: number, misses: number): number | null {
  return hits + misses === 0 ? null : hits / (hits + misses);
}

/** Top N of COUNTS by count, then hash (deterministic output). */
export function topCounts(counts: ReadonlyMap<string, number>, n: number): { hash: string; count: number }[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([hash, count]) => ({ hash, count }));
}

/** `--since` values: 90s, 30m, 1h, 2d, 1h30m; undefined for anything else (or over a year). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t.length === 0 || t.length > 32 || !/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(t)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * (unit[m[2] as string] as number);
  return total > 0 && total <= 366 * 86_400_000 ? Math.round(total) : undefined;
}
