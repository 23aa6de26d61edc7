/**
 * Nix's narinfo disk cache (nar-info-disk-cache.cc): what Nix remembers about each cache and each
 * path, and for how long it believes it. Pure: rows in, verdicts out.
 */

/** A row of `BinaryCaches`: the cache-info as Nix last saw it. */
export interface DiskCacheInfo {
  id: number;
  url: string;
  /** Unix seconds. */
  timestamp: number;
  storeDir: string;
  wantMassQuery: boolean;
  priority: number;
}

/** A row of `NARs`: a remembered narinfo (present) or a remembered "not in this cache" (negative). */
export interface DiskCacheEntry {
  cache: number;
  hashPart: string;
  present: boolean;
  narHash: string | null;
  url: string | null;
  /** Unix seconds. */
  timestamp: number;
}

export type DiskCacheVerdict =
  /** Nix will answer "not in this cache" without asking the server until EXPIRES (unix seconds). */
  | { kind: 'negative'; expires: number; recorded: number }
  /** Nix will use its remembered narinfo, whose NarHash is not what the server serves now. */
  | { kind: 'positive-stale'; expires: number; recorded: number; remembered: string | null; served: string | null }
  | { kind: 'positive'; expires: number; recorded: number }
  /** No row, or one Nix no longer believes (EXPIRED is when it stopped). */
  | { kind: 'none'; expired?: { present: boolean; at: number } };

/** The TTLs from nix.conf (seconds), with Nix's defaults. */
export interface DiskCacheTtls {
  negative: number;
  positive: number;
}

export const DEFAULT_TTLS: DiskCacheTtls = { negative: 3600, positive: 30 * 24 * 3600 };

/** Reads `narinfo-cache-negative-ttl` / `-positive-ttl` values as Nix would (unsigned integers); defaults otherwise. */
export function diskCacheTtls(negative: string | undefined, positive: string | undefined): DiskCacheTtls {
  const n = (v: string | undefined, fallback: number) => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : fallback);
  return { negative: n(negative, DEFAULT_TTLS.negative), positive: n(positive, DEFAULT_TTLS.positive) };
}

/**
 * Judges ENTRY as `lookupNarInfo` would at NOW (unix seconds): a negative row counts while
 * `timestamp > now - negativeTtl`, a positive one while `timestamp > now - positiveTtl`. SERVED is
 * the NarHash the server serves now (undefined: not known, null: the server does not have it).
 */
export function judgeDiskEntry(
  entry: DiskCacheEntry | undefined,
  now: number,
  ttls: DiskCacheTtls,
  served?: string | null,
): DiskCacheVerdict {
  if (!entry) return { kind: 'none' };
  const ttl = entry.present ? ttls.positive : ttls.negative;
  const expires = entry.timestamp + ttl;
  if (!(entry.timestamp > now - ttl)) return { kind: 'none', expired: { present: entry.present, at: expires } };
  if (!entry.present) return { kind: 'negative', expires, recorded: entry.timestamp };
  if (served !== undefined && served !== entry.narHash)
    return { kind: 'positive-stale', expires, recorded: entry.timestamp, remembered: entry.narHash, served };
  return { kind: 'positive', expires, recorded: entry.timestamp };
}

/**
 * Unix SECONDS as an ISO time, or null when no date can show it: the database is written by Nix
 * but read as found, and a timestamp past year 275760 must not crash the check that quotes it.
 */
export function isoTime(seconds: number): string | null {
  const date = new Date(seconds * 1000);
  return Number.isFinite(date.getTime()) ? date.toISOString() : null;
}

/** Unix seconds as `2026-11-25 10:42 UTC`, the words for a time no date can show otherwise. */
export function formatTime(seconds: number): string {
  const iso = isoTime(seconds);
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : `unix time ${seconds}`;
}

/**
 * The URL Nix files a cache under in `BinaryCaches`: the store URI without its `?settings`, no
 * trailing slash (HttpBinaryCacheStore's cacheUri; a file:// store its path).
 */
export function diskCacheUrl(raw: string): string {
  const q = raw.indexOf('?');
  return (q >= 0 ? raw.slice(0, q) : raw).replace(/\/+$/, '');
}

/** The database file names Nix has used, newest first: later releases bump the schema version. */
export const DISK_CACHE_FILES = ['binary-cache-v7.sqlite', 'binary-cache-v6.sqlite'] as const;
