import type { CacheTarget, Discovery, Environment } from '../discover/types.js';
import {
  DISK_CACHE_FILES,
  type DiskCacheEntry,
  type DiskCacheInfo,
  type DiskCacheTtls,
  type DiskCacheVerdict,
  diskCacheTtls,
  diskCacheUrl,
  judgeDiskEntry,
} from '../nix/disk-cache.js';
import type { Fs } from '../system/fs.js';
import { readSqlite, type SqliteValue } from '../system/sqlite.js';

/** Nix's narinfo disk cache as this run could read it. */
export type DiskCacheFact =
  | {
      kind: 'read';
      path: string;
      /** Whose cache it is: the daemon's (root) for a multi-user install, else this user's. */
      owner: string;
      ttls: DiskCacheTtls;
      caches: DiskCacheInfo[];
      /** The row for this cache and path, judged now. SERVED: the NarHash the server serves (null: it has none). */
      judge(cacheUrl: string, hashPart: string, served?: string | null): DiskCacheVerdict;
      /** The hash parts whose rows were read, when not all were: judge() knows nothing of the others. */
      hashParts?: ReadonlySet<string>;
    }
  | { kind: 'absent'; owner: string; searched: string[] }
  | { kind: 'unreadable'; owner: string; path: string; message: string; denied: boolean };

/** Where Nix keeps the database: `$XDG_CACHE_HOME/nix` of the user whose process queries the caches. */
export function diskCacheDirs(env: Readonly<Environment>, processEnv: Readonly<NodeJS.ProcessEnv>): { owner: string; dir: string } {
  // With a daemon, the daemon (root, started by systemd with HOME=/root and no XDG_CACHE_HOME) asks the caches.
  if (env.multiUser && !env.root) return { owner: 'root (the nix-daemon)', dir: '/root/.cache/nix' };
  const base = processEnv.XDG_CACHE_HOME || `${processEnv.HOME || '/root'}/.cache`;
  return { owner: env.multiUser ? 'root (the nix-daemon)' : env.user, dir: `${base}/nix` };
}

/**
 * Reads the newest database that exists, keeping only the rows of CACHEURLS (raw store URLs) and,
 * when given, of HASHPARTS (a busy machine's database holds 10⁵ rows; the doctor needs a few).
 */
export async function readDiskCache(
  fs: Fs,
  where: { owner: string; dir: string },
  cacheUrls: readonly string[],
  ttls: DiskCacheTtls,
  now: () => number,
  hashParts?: readonly string[],
): Promise<DiskCacheFact> {
  const searched = DISK_CACHE_FILES.map((f) => `${where.dir}/${f}`);
  let path: string | undefined;
  for (const candidate of searched) {
    const stat = await fs.stat(candidate);
    if (stat) {
      path = candidate;
      break;
    }
  }
  if (!path) return { kind: 'absent', owner: where.owner, searched };
  const urls = new Set<SqliteValue>(cacheUrls.map(diskCacheUrl));
  const read = await readSqlite(path, (db) => {
    const caches = db.rows(
      'BinaryCaches',
      ['id', 'url', 'timestamp', 'storeDir', 'wantMassQuery', 'priority'],
      [{ column: 'url', values: urls }],
    );
    const ids = new Set<SqliteValue>(caches.map((r) => r[0] as SqliteValue));
    const nars = db.rows(
      'NARs',
      ['cache', 'hashPart', 'present', 'narHash', 'url', 'timestamp'],
      [{ column: 'cache', values: ids }, ...(hashParts ? [{ column: 'hashPart', values: new Set<SqliteValue>(hashParts) }] : [])],
    );
    return { caches, nars };
  });
  if (!read.ok) {
    if (read.code === 'ENOENT') return { kind: 'absent', owner: where.owner, searched };
    return { kind: 'unreadable', owner: where.owner, path, message: read.message, denied: read.code === 'EACCES' };
  }
  const caches: DiskCacheInfo[] = read.value.caches.map((r) => ({
    id: Number(r[0]),
    url: String(r[1]),
    timestamp: Number(r[2]),
    storeDir: String(r[3]),
    wantMassQuery: Number(r[4]) === 1,
    priority: Number(r[5]),
  }));
  const entries = new Map<string, DiskCacheEntry>();
  for (const r of read.value.nars) {
    const entry: DiskCacheEntry = {
      cache: Number(r[0]),
      hashPart: String(r[1]),
      present: Number(r[2]) !== 0,
      narHash: r[3] === null ? null : String(r[3]),
      url: r[4] === null ? null : String(r[4]),
      timestamp: Number(r[5]),
    };
    entries.set(`${entry.cache}\u0000${entry.hashPart}`, entry);
  }
  const idOf = new Map(caches.map((c) => [c.url, c.id]));
  return {
    kind: 'read',
    path,
    owner: where.owner,
    ttls,
    caches,
    ...(hashParts ? { hashParts: new Set(hashParts) } : {}),
    judge(cacheUrl, hashPart, served) {
      const id = idOf.get(diskCacheUrl(cacheUrl));
      const entry = id === undefined ? undefined : entries.get(`${id}\u0000${hashPart}`);
      return judgeDiskEntry(entry, now(), ttls, served);
    },
  };
}

/**
 * Nix's disk cache as Nix would use it on this machine: where DISCOVERY and PROCESSENV put it, with
 * the TTLs nix.conf sets, the rows of TARGETS (of HASHPARTS only, when given). The doctor, why and
 * coverage read it alike.
 */
export function readNixDiskCache(
  fs: Fs,
  discovery: Discovery,
  processEnv: Readonly<NodeJS.ProcessEnv>,
  targets: readonly CacheTarget[],
  hashParts?: readonly string[],
): Promise<DiskCacheFact> {
  const { settings } = discovery.config;
  const ttls = diskCacheTtls(settings.get('narinfo-cache-negative-ttl'), settings.get('narinfo-cache-positive-ttl'));
  const cacheUrls = targets.map((t) => t.url.raw);
  return readDiskCache(fs, diskCacheDirs(discovery.env, processEnv), cacheUrls, ttls, () => Math.floor(Date.now() / 1000), hashParts);
}

/** What to say about a database this run could not read (once, never a guess at what it holds). */
export function unreadableNote(fact: Extract<DiskCacheFact, { kind: 'unreadable' }>): string {
  return fact.denied
    ? `cannot read ${fact.path} (${fact.owner}'s): run with sudo to see which paths Nix remembers as missing`
    : `cannot use ${fact.path}: ${fact.message}`;
}
