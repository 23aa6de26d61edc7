import type { EffectiveSettings } from '../nix/config.js';
import type { NetrcEntry } from '../nix/netrc.js';
import type { TrustedKeys } from '../nix/signatures.js';
import type { StoreUrl } from '../nix/store-url.js';
import type { ConfFileRecord, ConfProblem } from '../system/config.js';
import type { Evidence } from '../system/evidence.js';
import type { Exec } from '../system/exec.js';
import type { Fs } from '../system/fs.js';
import type { Http } from '../system/http.js';
import type { Net } from '../system/net.js';
import type { Ping } from '../system/ping.js';

export type Status = 'pass' | 'warn' | 'fail' | 'skip';
export const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'skip'];

/** What a check says. The runner adds id, cache, evidence and timing. */
export interface Finding {
  status: Status;
  summary: string;
  detail?: string;
  fix?: string;
  reason?: string;
  data?: Record<string, unknown>;
}

/** One cache the doctor looks at. */
export interface CacheTarget {
  url: StoreUrl;
  /** Position in the configured substituters (nix.conf order), or after them for --cache/--server targets. */
  index: number;
  /** `substituter`: from nix.conf; `cli`: named with --cache; `server`: this machine's cache server (--server). */
  role: 'substituter' | 'cli' | 'server';
  /** The host is this machine (loopback or one of its addresses). */
  local: boolean;
}

export interface DoctorOptions {
  timeoutMs: number;
  deadlineMs: number;
  strict: boolean;
  verbose: boolean;
  server: boolean;
  port?: number;
  secretKeyFile?: string;
  sample?: string;
  trustedKeys: string[];
  caches: string[];
  conf?: string;
}

export interface Environment {
  os: string;
  arch: string;
  nixVersion: string | null;
  user: string;
  uid: number;
  groups: string[];
  root: boolean;
  /** A nix-daemon socket exists (multi-user install); settings then need trust. */
  multiUser: boolean;
  trustedUser: boolean | null;
  storeDir: string;
  sandbox: string | null;
}

export type NixConfigView = { command: string; values: Record<string, unknown> } | { command: string; error: string };

/** nix.conf as discovered, with everything the checks reason about derived once. */
export interface DoctorConfig {
  files: ConfFileRecord[];
  problems: ConfProblem[];
  searched: { path: string; level: string }[];
  /** The nix.conf the daemon reads (`$NIX_CONF_DIR/nix.conf`, or --conf): where the fixes say to write. */
  systemFile: string;
  settings: EffectiveSettings;
  substituters: string[];
  trustedKeys: TrustedKeys;
  requireSigs: boolean;
  netrc: { path: string; entries: NetrcEntry[]; problem?: string; mode?: number };
  /**
   * Settings and names from `nix config show --json` / `nix show-config --json`, undefined without
   * Nix. A promise: Nix starts while the checks already run, and only the config check waits for it.
   */
  nixConfig: Promise<NixConfigView | undefined>;
}

export interface Io {
  exec: Exec;
  http: Http;
  net: Net;
  ping: Ping;
  fs: Fs;
}

export interface CheckContext extends Io {
  options: DoctorOptions;
  env: Environment;
  config: DoctorConfig;
  caches: readonly CacheTarget[];
  signal: AbortSignal;
  /** Per network operation. */
  timeoutMs: number;
  /** Registers a value that must never appear in any output (a secret key read by a check). */
  secret(value: string): void;
  /**
   * Runs FN once per run for KEY and shares its result (and evidence) with every caller: how
   * ping and connect share one TCP probe, so a dead cache costs one timeout.
   */
  once<T>(key: string, fn: (io: Io) => Promise<T>): Promise<T>;
  /** The result of an earlier check for TARGET (or the host). */
  result(id: string, target?: CacheTarget): CheckResult | undefined;
}

export interface Check {
  id: string;
  title: string;
  scope: 'host' | 'cache';
  needs?: string[];
  /** Longer than one network operation when the check makes several. */
  timeoutMs?: (opts: DoctorOptions) => number;
  run(ctx: CheckContext, target?: CacheTarget): Promise<Finding>;
  /**
   * Starts, at the beginning of the run, the shared reads (`ctx.once`) this check will need, so that
   * slow local commands overlap the network checks instead of waiting in line before them. What it
   * returns is ignored; `run` still awaits the same reads and reports on them.
   */
  prepare?(ctx: CheckContext): void;
}

/** A finding as it appears in the output. */
export interface CheckResult {
  id: string;
  title: string;
  cache: string | null;
  status: Status;
  summary: string;
  detail: string | null;
  fix: string | null;
  reason: string | null;
  data: Record<string, unknown>;
  evidence: Evidence[];
  durationMs: number;
}
