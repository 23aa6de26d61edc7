import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { readSystemdUnits } from '../facts/host.js';
import { execStartArgv, listenFromArgv } from '../host/systemd.js';
import { EffectiveSettings } from '../nix/config.js';
import { parseNetrc } from '../nix/netrc.js';
import { KNOWN_SERVERS } from '../nix/servers.js';
import { parseTrustedKeys } from '../nix/signatures.js';
import { isHttpScheme, parseStoreUrl } from '../nix/store-url.js';
import { type LoadedConf, loadNixConf } from '../system/config.js';
import type { Io } from '../system/io.js';
import { isLocalAddress, type Resolution } from '../system/net.js';
import { environmentOf, readIdentity, readNixVersion } from './environment.js';
import type { CacheTarget, Discovery, DoctorConfig, RunSettings } from './types.js';

const NIX_DEFAULT_CONF_DIR = '/etc/nix';

/** What the command line asks discovery for. */
export interface DiscoverRequest {
  conf?: string | undefined;
  /** --cache: check only these (configured or not). */
  caches: readonly string[];
  trustedKeys: readonly string[];
  server: boolean;
  port?: number | undefined;
  secretKeyFile?: string | undefined;
  /** --sample: the store paths whose narinfos are looked up (the first is the signature sample). */
  samples?: readonly string[] | undefined;
  /** --flake DIR (absolute): the flake the flake check reads. */
  flakeDir?: string | undefined;
  timeoutMs: number;
  /**
   * Whether the selected checks go on the network. When not (e.g. `--only config,trust,priority`),
   * discovery resolves no host name: a cache is local only by its name (an address of this
   * machine, localhost, this machine's own host name).
   */
  network?: boolean | undefined;
  /** The run's deadline (or the part of it discovery may use): reading nix.conf stops there. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads this machine as Nix would see it — nix.conf with origins, the user and the daemon's trust,
 * the caches to look at — and returns it frozen. IO's calls are not evidence (nothing is judged yet).
 */
export async function discover(io: Io, env: Readonly<NodeJS.ProcessEnv>, request: DiscoverRequest): Promise<Discovery> {
  const [conf, identity, nixVersion] = await Promise.all([
    loadNixConf({ env, ...(request.conf ? { confFile: request.conf } : {}), ...(request.signal ? { signal: request.signal } : {}) }),
    readIdentity(io, env),
    readNixVersion(io),
  ]);
  // Nix applies a name or value by what its own release knows (aliases, `extra-`, types).
  const knowledge = { version: nixVersion, platform: process.platform };
  const settings = new EffectiveSettings(conf.assignments, knowledge);
  const secrets: string[] = [];
  const [config, caBundle] = await Promise.all([buildConfig(io, conf, settings, request, env, secrets), readCaBundle(io, env, settings)]);
  const environment = environmentOf(identity, env, config.daemonSettings, nixVersion);
  for (const [name, value] of Object.entries(env)) {
    if (value && /TOKEN|SECRET|PASSW|API_?KEY|ACCESS_KEY|CREDENTIAL/i.test(name) && value.length >= 6) secrets.push(value);
  }

  const resolutions = new Map<string, Resolution>();
  const targets = await planTargets(io, request, config, resolutions);
  for (const t of targets) if (t.url.credentials?.password) secrets.push(t.url.credentials.password);
  const run: RunSettings = {
    timeoutMs: request.timeoutMs,
    server: request.server || targets.some((t) => t.role === 'server'),
    ...(request.secretKeyFile ? { secretKeyFile: request.secretKeyFile } : {}),
    samples: [...(request.samples ?? [])],
    flakeDir: request.flakeDir ?? process.cwd(),
    ...(request.conf ? { confFile: request.conf } : {}),
  };
  return deepFreeze({
    env: environment,
    config,
    targets,
    run,
    host: { home: env.HOME ?? '', pathDirs: (env.PATH ?? '').split(':').filter(Boolean) },
    resolutions,
    ...(caBundle ? { caBundle } : {}),
    secrets,
  });
}

async function buildConfig(
  io: Io,
  conf: LoadedConf,
  settings: EffectiveSettings,
  request: DiscoverRequest,
  env: Readonly<NodeJS.ProcessEnv>,
  secrets: string[],
): Promise<DoctorConfig> {
  const substituters = [...new Set(settings.list('substituters').map((i) => i.value))];
  const trustedKeys = parseTrustedKeys([...settings.list('trusted-public-keys').map((i) => i.value), ...request.trustedKeys]);
  for (const token of settings.list('access-tokens')) secrets.push(token.value.split('=').slice(1).join('='));

  const netrcPath = settings.get('netrc-file') || `${env.NIX_CONF_DIR || NIX_DEFAULT_CONF_DIR}/netrc`;
  const netrc: DoctorConfig['netrc'] = { path: netrcPath, entries: [] };
  const text = await io.fs.readText(netrcPath, 256 * 1024);
  if (text.ok) {
    const parsed = parseNetrc(text.text);
    if (parsed.ok) netrc.entries = parsed.value;
    else netrc.problem = `line ${parsed.error.line ?? '?'}: ${parsed.error.message}`;
    for (const e of netrc.entries) if (e.password) secrets.push(e.password);
    for (const m of text.text.matchAll(/\bpassword\s+(\S+)/g)) if (m[1]) secrets.push(m[1]);
  } else if (text.code !== 'ENOENT') {
    netrc.problem = text.message;
  }
  return {
    files: conf.files,
    problems: conf.problems,
    searched: conf.searched,
    systemFile:
      request.conf ?? conf.searched.find((f) => f.level === 'system')?.path ?? `${env.NIX_CONF_DIR || NIX_DEFAULT_CONF_DIR}/nix.conf`,
    settings,
    daemonSettings: new EffectiveSettings(
      conf.assignments.filter((a) => a.origin.level === 'system'),
      settings.knowledge,
    ),
    cliTrustedKeys: [...request.trustedKeys],
    substituters,
    trustedKeys,
    requireSigs: settings.bool('require-sigs') !== false,
    netrc,
  };
}

/** The CA bundle Nix's curl uses: ssl-cert-file, whose default comes from NIX_SSL_CERT_FILE or SSL_CERT_FILE. */
async function readCaBundle(io: Io, env: Readonly<NodeJS.ProcessEnv>, settings: EffectiveSettings): Promise<string | undefined> {
  const file = settings.get('ssl-cert-file') || env.NIX_SSL_CERT_FILE || env.SSL_CERT_FILE;
  if (!file) return undefined;
  const r = await io.fs.readText(file, 4 * 1024 * 1024);
  return r.ok ? r.text : undefined;
}

async function planTargets(
  io: Io,
  request: DiscoverRequest,
  config: DoctorConfig,
  resolutions: Map<string, Resolution>,
): Promise<CacheTarget[]> {
  const configured = new Set(config.substituters);
  // A --cache that is also configured keeps its nix.conf identity, so its order is meaningful.
  const urls =
    request.caches.length > 0
      ? request.caches.map((u) => ({ url: u, role: configured.has(u) ? ('substituter' as const) : ('cli' as const) }))
      : config.substituters.map((u) => ({ url: u, role: 'substituter' as const }));
  const pending = new Map<string, Promise<Resolution>>();
  const resolveOnce = (host: string) => {
    let r = pending.get(host);
    if (!r) {
      r = io.net.resolve(host);
      pending.set(host, r);
      void r.then((value) => resolutions.set(host, value));
    }
    return r;
  };
  const [targets, server] = await Promise.all([
    Promise.all(
      urls.map(async (u, index): Promise<CacheTarget> => {
        const url = parseStoreUrl(u.url);
        const resolve = request.network === false ? undefined : resolveOnce;
        return { url, index, role: u.role, local: await isLocalTarget(url.scheme, url.host, resolve) };
      }),
    ),
    detectServer(io, request, config),
  ]);
  if (server) {
    const already = targets.some((t) => t.local && t.url.port === server.port && isHttpScheme(t.url.scheme));
    if (!already)
      targets.push({ url: parseStoreUrl(`http://127.0.0.1:${server.port}`), index: targets.length, role: 'server', local: true });
  }
  return targets;
}

/**
 * Server mode: asked for with --server, or implied by a known cache service active here or by
 * nix.conf's secret-key-files. The port: --port, else the service's own --listen, else 5000.
 */
async function detectServer(io: Io, request: DiscoverRequest, config: DoctorConfig): Promise<{ port: number } | undefined> {
  let fromService: number | undefined;
  let active = false;
  const sd = await readSystemdUnits(io);
  for (const unit of sd.available ? sd.units : []) {
    if (unit.ActiveState !== 'active') continue;
    active = true;
    fromService ??= listenFromArgv(execStartArgv(unit.ExecStart))?.port ?? KNOWN_SERVERS.find((k) => k.unit === unit.Id)?.defaultPort;
  }
  if (!request.server && !active && !config.settings.isSet('secret-key-files') && !request.secretKeyFile) return undefined;
  return { port: request.port ?? fromService ?? 5000 };
}

/** Whether a cache is on this machine: by its address, else by what its name resolves to (when RESOLVE is given). */
async function isLocalTarget(
  scheme: string,
  host: string | undefined,
  resolve: ((host: string) => Promise<Resolution>) | undefined,
): Promise<boolean> {
  if (scheme === 'file' || scheme === 'local' || scheme === 'daemon') return true;
  if (!host) return false;
  if (host === 'localhost' || isIP(host)) return host === 'localhost' || isLocalAddress(host);
  if (scheme === 's3') return false;
  if (!resolve) return isOwnHostName(host);
  const r = await resolve(host);
  return r.ok && r.addresses.length > 0 && r.addresses.every((a) => isLocalAddress(a));
}

/** This machine's own name (`hostname`, with or without its domain): known without asking DNS. */
function isOwnHostName(host: string): boolean {
  const own = hostname().toLowerCase();
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === own || name === own.split('.')[0];
}

/** Freezes plain data all the way down (maps and class instances are left as they are). */
function deepFreeze<T>(value: T): T {
  if (
    value &&
    typeof value === 'object' &&
    !Object.isFrozen(value) &&
    (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)
  ) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
