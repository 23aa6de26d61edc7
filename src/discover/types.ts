import type { EffectiveSettings } from '../nix/config.js';
import type { NetrcEntry } from '../nix/netrc.js';
import type { TrustedKeys } from '../nix/signatures.js';
import type { StoreUrl } from '../nix/store-url.js';
import type { ConfFileRecord, ConfProblem } from '../system/config.js';
import type { Resolution } from '../system/net.js';

/** This machine and this user, complete before any check runs. */
export interface Environment {
  os: string;
  arch: string;
  /** `nix --version`, or null where Nix is not installed (or did not answer in time). */
  nixVersion: string | null;
  user: string;
  uid: number;
  groups: string[];
  root: boolean;
  /** A nix-daemon socket exists (multi-user install); settings then need trust. */
  multiUser: boolean;
  /** Whether the daemon honours this user's settings (always true for a single-user install). */
  trustedUser: boolean | null;
  storeDir: string;
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

/** nix.conf as discovered, with everything the checks reason about derived once. */
export interface DoctorConfig {
  files: readonly ConfFileRecord[];
  problems: readonly ConfProblem[];
  searched: readonly { path: string; level: string }[];
  /** The nix.conf the daemon reads (`$NIX_CONF_DIR/nix.conf`, or --conf): where the fixes say to write. */
  systemFile: string;
  /** Every file's settings, as this user's Nix client applies them. */
  settings: EffectiveSettings;
  /** The system nix.conf's settings alone: what the nix-daemon applies for users it does not trust. */
  daemonSettings: EffectiveSettings;
  /** Keys given with --trusted-key (part of trustedKeys). */
  cliTrustedKeys: readonly string[];
  substituters: readonly string[];
  trustedKeys: TrustedKeys;
  requireSigs: boolean;
  netrc: { path: string; entries: readonly NetrcEntry[]; problem?: string };
}

/** What the user asked of this run, as the checks need it. */
export interface RunSettings {
  /** Per network operation. */
  timeoutMs: number;
  /** This machine is checked as a cache server (--server, or implied by a running cache service or a signing key). */
  server: boolean;
  secretKeyFile?: string;
  /** --sample (repeatable): the store paths whose narinfos are looked up; the first is the signature sample. */
  samples: readonly string[];
  /** The flake whose nixConfig the flake check reads: --flake DIR, else the working directory. */
  flakeDir: string;
  /** --conf: discovery was replaced by this one file. */
  confFile?: string;
}

/** Where the process looks for things: from its environment, read once. */
export interface HostPaths {
  home: string;
  /** $PATH, split. */
  pathDirs: readonly string[];
}

/** Everything discovery found, frozen: data flows on from here, never back. */
export interface Discovery {
  readonly env: Readonly<Environment>;
  readonly config: DoctorConfig;
  readonly targets: readonly CacheTarget[];
  readonly run: Readonly<RunSettings>;
  readonly host: HostPaths;
  /** Host names already resolved while planning the targets (facts reuse them). */
  readonly resolutions: ReadonlyMap<string, Resolution>;
  /** The CA bundle Nix's curl uses (ssl-cert-file), PEM, if one is set and readable. */
  readonly caBundle?: string;
  /** Values that must never appear in any output. */
  readonly secrets: readonly string[];
}
