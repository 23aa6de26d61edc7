import type { CacheTarget, DoctorConfig, Environment, RunSettings } from '../discover/types.js';
import type { FirewallState } from '../host/firewall-judge.js';
import type { Routes } from '../host/routes.js';
import type { Listener } from '../host/sockets.js';
import type { UnitProperties } from '../host/systemd.js';
import type { NarFileVerdict } from '../nix/nar.js';
import type { NarInfo } from '../nix/narinfo.js';
import type { Credentials } from '../nix/netrc.js';
import type { ExecResult } from '../system/exec.js';
import type { FileStat, ReadResult } from '../system/fs.js';
import type { HttpResult } from '../system/http.js';
import type { Resolution, TcpProbe, TlsProbe } from '../system/net.js';
import type { PingResult } from '../system/ping.js';
import type { NarinfoProbe } from './credentials.js';
import type { DaemonFact, probeDaemonProxies } from './daemon.js';
import type { DiskCacheFact } from './disk-cache.js';
import type { FlakeFact } from './flake.js';
import type { HitRateFact } from './hit-rate.js';
import type { NarFact } from './nar.js';
import type { PathLookupFact } from './path-view.js';

/** Facts worth starting when the run starts (checks name them in `reads`). */
export type FactKind = 'path' | 'ping' | 'firewall' | 'systemd' | 'listeners' | 'daemon' | 'nar' | 'routes';

/** A cache host resolved and its port tried on every address (up to four) at once. */
export interface PathProbe {
  host: string;
  port: number;
  resolution: Resolution;
  /** The most telling TCP result: an open address if any, else refused > unreachable > timeout. */
  tcp?: TcpProbe;
  /** Every address's own result, in the order the name resolved (clients try them in that order). */
  probes?: TcpProbe[];
}

export interface PingFact {
  resolution: Resolution;
  address?: string;
  ping?: PingResult;
}

/** `/nix-cache-info` as the cache served it (or could not). */
export type CacheInfoFact =
  | { kind: 'unsupported' }
  | { kind: 'file'; path: string; read: ReadResult }
  | { kind: 'http'; auth?: Credentials; result: HttpResult };

export type NarInfoLookup =
  | { kind: 'hit'; path: string; info: NarInfo; text: string }
  | { kind: 'miss'; path: string }
  | { kind: 'corrupt'; path: string; message: string }
  | { kind: 'error'; path: string; message: string };

/** A small NAR file against its narinfo's FileSize and FileHash (read by the download the nar check judges), or why not. */
export type NarFileFact = { kind: 'read'; verdict: NarFileVerdict } | { kind: 'unread'; why: string };

export type SystemdState = { available: true; units: UnitProperties[] } | { available: false; reason: string };

export type ListenerState = { list: Listener[]; source: string } | { error: string };

export type SecretKeyFact =
  | { kind: 'missing' }
  | { kind: 'unreadable'; stat: FileStat; code: string; message: string }
  | { kind: 'read'; stat: FileStat; text: string };

export type NixConfigView = { command: string; values: Record<string, unknown> } | { command: string; error: string };

/**
 * Everything a check may look at. Discovery's frozen values, and facts gathered at most once per
 * run (whoever asks first starts it; the evidence of the commands and requests behind a fact is
 * attached to every check that reads it).
 */
export interface Facts {
  readonly env: Readonly<Environment>;
  readonly config: DoctorConfig;
  readonly caches: readonly CacheTarget[];
  readonly run: Readonly<RunSettings>;

  /** Nix's own effective settings (`nix show-config --json`); undefined where Nix is not installed. */
  nixView(): Promise<NixConfigView | undefined>;
  resolve(host: string): Promise<Resolution>;
  /** DNS and TCP to the cache's host; undefined for stores not reached over the network. */
  path(cache: CacheTarget): Promise<PathProbe> | undefined;
  /** ICMP to the cache's host; undefined for stores not reached over the network. */
  ping(cache: CacheTarget): Promise<PingFact> | undefined;
  tls(address: string, port: number, servername: string): Promise<TlsProbe>;
  /** The resolvers in /etc/resolv.conf. */
  nameservers(): Promise<string[]>;
  stat(path: string): Promise<FileStat | null>;
  /** Whether this user may write PATH (create files in a directory). */
  writable(path: string): Promise<boolean>;

  cacheInfo(cache: CacheTarget): Promise<CacheInfoFact>;
  /** --sample, else the automatic candidates. */
  sampleCandidates(): Promise<string[]>;
  /** Store paths likely to be in a cache, most likely first (whatever --sample says). */
  storeCandidates(): Promise<string[]>;
  narinfo(cache: CacheTarget, path: string): Promise<NarInfoLookup>;
  /** Looks CANDIDATES up a few at a time and stops at WANT hits; bounded in count and by the deadline. */
  findNarInfos(cache: CacheTarget, candidates: readonly string[], want: number): Promise<{ hits: NarInfoLookup[]; tried: NarInfoLookup[] }>;
  /** The NAR file INFO points to against FileSize and FileHash, when it is small: the same download as nar(). */
  narFile(cache: CacheTarget, info: NarInfo): Promise<NarFileFact>;
  /** A narinfo no cache has, requested with the credentials Nix would send: 404 means narinfos are public. */
  narinfoProbe(cache: CacheTarget): Promise<NarinfoProbe | undefined>;
  /** The NAR file INFO points to, streamed whole through FileHash, the decompressor and NarHash within NAR_BUDGET_OPERATIONS operation timeouts. */
  nar(cache: CacheTarget, info: NarInfo): Promise<NarFact>;
  /** Nix's narinfo disk cache (the daemon's for a multi-user install), the rows of the configured caches. */
  diskCache(): Promise<DiskCacheFact>;
  /** PATH in CACHE looked up as `nixcache why` does: narinfo, signature, NAR HEAD, Nix's disk cache row. */
  pathLookup(cache: CacheTarget, path: string): Promise<PathLookupFact>;

  /** The flake.nix in the working directory: its nixConfig and the user's trusted-settings.json. */
  flake(): Promise<FlakeFact>;
  /** Default routes from the kernel's routing tables. */
  routes(): Promise<Routes>;
  /** The nix-daemon: which process, its environment, when it started, what this Nix cannot open. */
  daemon(): Promise<DaemonFact>;
  /** Each http(s) cache requested through the proxy the daemon's environment gives it. */
  daemonProxies(): Promise<Awaited<ReturnType<typeof probeDaemonProxies>>>;
  firewall(): Promise<FirewallState>;
  systemd(): Promise<SystemdState>;
  /** `systemctl cat UNIT`, when it works. */
  unitFile(unit: string): Promise<string | undefined>;
  /** The unit's last journal lines, when they can be read. */
  journal(unit: string): Promise<string | undefined>;
  listeners(): Promise<ListenerState>;
  /** A secret key file: its mode and content (registered as a secret before anyone sees it). */
  secretKey(path: string): Promise<SecretKeyFact>;

  /** What this machine's cache server reports about its clients' requests (harmonia's /metrics, an access log). */
  hitRate(): Promise<HitRateFact>;

  /** For plugins: what a program prints (no shell; bounded by TIMEOUTMS, else the operation timeout, and by the deadline). */
  command(file: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** For plugins: a text file, at most MAXBYTES. */
  readFile(path: string, maxBytes?: number): Promise<ReadResult>;
}
