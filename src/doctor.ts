import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { execStartArgv, listenFromArgv } from './host/systemd.js';
import { EffectiveSettings } from './nix/config.js';
import { parseNetrc } from './nix/netrc.js';
import { effectiveOrder, type PrioritySource, resolvePriority } from './nix/priority.js';
import { parseTrustedKeys } from './nix/signatures.js';
import { parseStoreUrl } from './nix/store-url.js';
import { isTrustedUser } from './nix/trust.js';
import { Redactor } from './report/redact.js';
import { runChecks } from './runner/run.js';
import { KNOWN_SERVERS, readSystemdUnits } from './runner/server.js';
import type { CacheTarget, Check, CheckResult, DoctorConfig, DoctorOptions, Environment, Io, NixConfigView } from './runner/types.js';
import { loadNixConf } from './system/config.js';
import type { Recorder } from './system/evidence.js';
import { createExec } from './system/exec.js';
import { createFs, readTextFile } from './system/fs.js';
import { createAgent, createHttp, loadUndici } from './system/http.js';
import { createNet, isLocalAddress, type Resolution } from './system/net.js';
import { createPing } from './system/ping.js';
import { SCHEMA_VERSION, VERSION } from './version.js';

export interface CacheEntry {
  url: string;
  role: CacheTarget['role'];
  local: boolean;
  priority: number;
  prioritySource: PrioritySource;
  /** 1-based position in the order Nix tries substituters; null for caches Nix is not configured to use. */
  order: number | null;
}

export interface Report {
  schemaVersion: number;
  tool: { name: string; version: string };
  generatedAt: string;
  durationMs: number;
  environment: Environment;
  config: { files: string[]; substituters: string[]; trustedPublicKeys: string[]; requireSigs: boolean };
  caches: CacheEntry[];
  checks: CheckResult[];
  summary: Record<'pass' | 'warn' | 'fail' | 'skip', number>;
}

export interface DoctorRun extends DoctorOptions {
  checks: readonly Check[];
  env?: NodeJS.ProcessEnv;
  onProgress?: (text: string) => void;
}

const NIX_DEFAULT_CONF_DIR = '/etc/nix';

export async function runDoctor(run: DoctorRun): Promise<{ report: Report; redactor: Redactor }> {
  const started = performance.now();
  const env = run.env ?? process.env;
  const redactor = new Redactor();
  const resolved = new Map<string, Promise<Resolution>>();
  void loadUndici().catch(() => {}); // compiles while discovery waits for child processes
  // Set from ssl-cert-file once nix.conf is read; nothing makes a TLS connection before that.
  const trust: { ca?: string } = {};
  const agent = createAgent(run.timeoutMs, () => trust.ca);
  const discoverySignal = AbortSignal.timeout(Math.max(1000, run.deadlineMs / 2));
  setMaxListeners(0, discoverySignal);
  const io = (record: Recorder, signal: AbortSignal): Io => ({
    exec: createExec(record, signal, run.timeoutMs),
    http: createHttp(agent, record, signal, run.timeoutMs),
    net: createNet(record, signal, run.timeoutMs, resolved, () => trust.ca),
    ping: createPing(record, run.timeoutMs, started + run.deadlineMs),
    fs: createFs(record),
  });
  const quiet = io(() => {}, discoverySignal);

  try {
    run.onProgress?.('reading nix.conf');
    // Nix's own view (version, effective settings) is not waited for: Nix starts in the background
    // while the checks run, and only the config check and the report's environment wait for it.
    const nixVersion = readNixVersion(quiet);
    const nixConfig = readNixConfig(quiet, env);
    const [conf, environment] = await Promise.all([
      loadNixConf({ env, ...(run.conf ? { confFile: run.conf } : {}) }),
      discoverEnvironment(quiet, env),
    ]);
    const settings = new EffectiveSettings(conf.assignments);
    trust.ca = await sslCertFile(env, settings);
    const config = await buildConfig(conf, settings, run, env, nixConfig, redactor);
    environment.trustedUser = environment.multiUser
      ? isTrustedUser(
          settings
            .list('trusted-users')
            .filter((i) => i.origin.level === 'system' || i.origin.level === 'default')
            .map((i) => i.value),
          environment.user,
          environment.groups,
        )
      : true;
    collectEnvSecrets(env, redactor);

    const targets = await planTargets(run, config, quiet);
    for (const t of targets) redactor.add(t.url.credentials?.password);

    const elapsed = performance.now() - started;
    const results = await runChecks({
      checks: run.checks,
      caches: targets,
      deadlineMs: Math.max(0, run.deadlineMs - elapsed),
      verbose: run.verbose,
      checkTimeoutMs: (check) => check.timeoutMs?.(run) ?? run.timeoutMs * 2 + 1000,
      io,
      context: (record, signal) => ({
        ...io(record, signal),
        options: run,
        env: environment,
        config,
        caches: targets,
        signal,
        timeoutMs: run.timeoutMs,
        secret: (s: string) => redactor.add(s),
      }),
      onProgress: ({ check, target, done }) => {
        if (!done) run.onProgress?.(`${check.title}${target ? ` — ${target.url.display}` : ''}`);
      },
    });

    // Never past the deadline for them: a hung `nix` leaves the version unknown, not the run late.
    const left = Math.max(0, run.deadlineMs - (performance.now() - started));
    environment.nixVersion = await within(nixVersion, left, null);
    // `nix show-config --json` gives every setting as { value, description, … }.
    const nix = await within(nixConfig, left, undefined);
    const nixSandbox = nix && 'values' in nix ? (nix.values.sandbox as { value?: unknown } | undefined)?.value : undefined;
    environment.sandbox = settings.get('sandbox') ?? (nixSandbox === undefined ? null : String(nixSandbox));

    const report: Report = {
      schemaVersion: SCHEMA_VERSION,
      tool: { name: 'nixcache', version: VERSION },
      generatedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      environment,
      config: {
        files: conf.files.filter((f) => f.status === 'read').map((f) => f.path),
        substituters: config.substituters,
        trustedPublicKeys: config.trustedKeys.keys.map((k) => k.text).concat(config.trustedKeys.invalid.map((k) => k.text)),
        requireSigs: config.requireSigs,
      },
      caches: cacheEntries(targets, results),
      checks: results,
      summary: { pass: 0, warn: 0, fail: 0, skip: 0 },
    };
    for (const r of results) report.summary[r.status]++;
    return { report: redactor.deep(report), redactor };
  } finally {
    agent.destroy().catch(() => {});
  }
}

/** The JSON `caches` list: priority from the URL, else from nix-cache-info, else Nix's default 0. */
export function cacheEntries(targets: readonly CacheTarget[], results: readonly CheckResult[]): CacheEntry[] {
  const entries = targets.map((t) => {
    const info = results.find((r) => r.id === 'cache-info' && r.cache === t.url.display);
    const advertised = typeof info?.data.priority === 'number' ? (info.data.priority as number) : undefined;
    const { priority, source } = resolvePriority(t.url.priority, advertised);
    return {
      target: t,
      entry: { url: t.url.display, role: t.role, local: t.local, priority, prioritySource: source, order: null as number | null },
    };
  });
  const used = entries.filter((e) => e.target.role === 'substituter');
  effectiveOrder(used.map((e) => ({ ...e, priority: e.entry.priority }))).forEach((e, i) => {
    e.entry.order = i + 1;
  });
  return entries.map((e) => e.entry);
}

async function discoverEnvironment(io: Io, env: NodeJS.ProcessEnv): Promise<Environment> {
  let user = env.USER ?? 'unknown';
  let uid = -1;
  try {
    const info = userInfo();
    user = info.username;
    uid = info.uid;
  } catch {
    // No passwd entry (containers): keep $USER.
  }
  const groups = await groupNames(io);
  const multiUser = env.NIX_REMOTE === 'daemon' || (env.NIX_REMOTE === undefined && existsSync('/nix/var/nix/daemon-socket/socket'));
  return {
    os: `${process.platform}`,
    arch: process.arch,
    nixVersion: null, // filled in from readNixVersion when the checks are done
    user,
    uid,
    groups,
    root: uid === 0,
    multiUser,
    trustedUser: null,
    storeDir: env.NIX_STORE_DIR || '/nix/store',
    sandbox: null,
  };
}

function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `nix --version`: `nix (Nix) 2.8.0`. */
async function readNixVersion(io: Io): Promise<string | null> {
  const r = await io.exec('nix', ['--version'], { timeoutMs: 3000 });
  return r.exitCode === 0 ? (/(\d+\.\d+[\w.+-]*)/.exec(r.stdout)?.[1] ?? null) : null;
}

/**
 * The names of this process's groups, as `id -Gn` prints them (the daemon matches `@group` in
 * trusted-users against them). Read from /etc/group; `id` (which asks NSS: LDAP, sssd…) only when
 * a group is not there.
 */
async function groupNames(io: Io): Promise<string[]> {
  const gids = [...new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])].filter((g): g is number => g !== undefined))];
  const etc = await io.fs.readText('/etc/group', 1024 * 1024);
  const byGid = new Map<number, string>();
  if (etc.ok) {
    for (const line of etc.text.split('\n')) {
      const [name, , gid] = line.split(':');
      if (name && gid && !byGid.has(Number(gid))) byGid.set(Number(gid), name);
    }
  }
  if (gids.length && gids.every((g) => byGid.has(g))) return gids.map((g) => byGid.get(g) as string);
  const id = await io.exec('id', ['-Gn'], { timeoutMs: 2000 });
  return id.exitCode === 0 ? id.stdout.trim().split(/\s+/).filter(Boolean) : gids.map((g) => byGid.get(g) ?? String(g));
}

/** `nix config show --json` (Nix ≥ 2.20) or `nix show-config --json`: Nix's own view, as a cross-check. */
async function readNixConfig(io: Io, env: NodeJS.ProcessEnv): Promise<NixConfigView | undefined> {
  const features = ['--extra-experimental-features', 'nix-command'];
  const passEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  // `show-config` is what Nix < 2.20 knows and later Nix keeps as an alias of `config show`: one Nix
  // start-up on every version, a second only where the alias is gone.
  const commands = [
    ['show-config', '--json'],
    ['config', 'show', '--json'],
  ];
  for (const argv of commands) {
    const command = `nix ${argv.join(' ')}`;
    const r = await io.exec('nix', [...features, ...argv], { timeoutMs: 5000, env: passEnv, quiet: true });
    if (r.missing) return undefined;
    if (r.exitCode === 0) {
      try {
        return { command, values: JSON.parse(r.stdout) as Record<string, unknown> };
      } catch {
        return { command, error: 'printed something that is not JSON' };
      }
    }
    if (!/is not a recogni[sz]ed command|unrecogni[sz]ed (command|argument)/i.test(r.stderr)) {
      return { command, error: (r.stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `exit code ${r.exitCode}` };
    }
  }
  return { command: 'nix show-config --json', error: 'neither `nix config show` nor `nix show-config` worked' };
}

async function buildConfig(
  conf: Awaited<ReturnType<typeof loadNixConf>>,
  settings: EffectiveSettings,
  run: DoctorRun,
  env: NodeJS.ProcessEnv,
  nixConfig: DoctorConfig['nixConfig'],
  redactor: Redactor,
): Promise<DoctorConfig> {
  const substituters = [...new Set(settings.list('substituters').map((i) => i.value))];
  const trustedKeys = parseTrustedKeys([...settings.list('trusted-public-keys').map((i) => i.value), ...run.trustedKeys]);
  const requireSigs = settings.get('require-sigs') !== 'false';
  for (const token of settings.list('access-tokens')) redactor.add(token.value.split('=').slice(1).join('='));

  const netrcPath = settings.get('netrc-file') || `${env.NIX_CONF_DIR || NIX_DEFAULT_CONF_DIR}/netrc`;
  const netrc: DoctorConfig['netrc'] = { path: netrcPath, entries: [] };
  const text = await readTextFile(netrcPath, 256 * 1024);
  if (text.ok) {
    const parsed = parseNetrc(text.text);
    if (parsed.ok) netrc.entries = parsed.value;
    else netrc.problem = `line ${parsed.error.line ?? '?'}: ${parsed.error.message}`;
    for (const e of netrc.entries) redactor.add(e.password);
    for (const m of text.text.matchAll(/\bpassword\s+(\S+)/g)) redactor.add(m[1]);
  } else if (text.code !== 'ENOENT') {
    netrc.problem = text.message;
  }
  return {
    files: conf.files,
    problems: conf.problems,
    searched: conf.searched,
    systemFile: run.conf ?? conf.searched.find((f) => f.level === 'system')?.path ?? `${env.NIX_CONF_DIR || NIX_DEFAULT_CONF_DIR}/nix.conf`,
    settings,
    substituters,
    trustedKeys,
    requireSigs,
    netrc,
    nixConfig,
  };
}

async function planTargets(run: DoctorRun, config: DoctorConfig, io: Io): Promise<CacheTarget[]> {
  const urls =
    run.caches.length > 0
      ? run.caches.map((u) => ({ url: u, role: 'cli' as const }))
      : config.substituters.map((u) => ({ url: u, role: 'substituter' as const }));
  if (run.caches.length > 0) {
    // A --cache that is also configured keeps its nix.conf identity, so its order is meaningful.
    for (const u of urls) if (config.substituters.includes(u.url)) (u as { role: CacheTarget['role'] }).role = 'substituter';
  }
  const targets: CacheTarget[] = [];
  for (const [index, u] of urls.entries()) {
    const url = parseStoreUrl(u.url);
    targets.push({ url, index, role: u.role, local: await isLocalTarget(url.scheme, url.host, io) });
  }
  const server = await detectServer(run, config, io);
  if (server) {
    const port = server.port;
    const already = targets.some((t) => t.local && t.url.port === port && (t.url.scheme === 'http' || t.url.scheme === 'https'));
    if (!already) targets.push({ url: parseStoreUrl(`http://127.0.0.1:${port}`), index: targets.length, role: 'server', local: true });
  }
  return targets;
}

/**
 * Server mode: asked for with --server, or implied by a known cache service active here or by
 * nix.conf's secret-key-files. The port: --port, else the service's own --listen, else 5000.
 */
async function detectServer(run: DoctorRun, config: DoctorConfig, io: Io): Promise<{ port: number } | undefined> {
  let fromService: number | undefined;
  let active = false;
  const sd = await readSystemdUnits(io);
  for (const unit of sd.available ? sd.units : []) {
    if (unit.ActiveState !== 'active') continue;
    active = true;
    fromService ??= listenFromArgv(execStartArgv(unit.ExecStart))?.port ?? KNOWN_SERVERS.find((k) => k.unit === unit.Id)?.defaultPort;
  }
  if (!run.server && !active && !config.settings.isSet('secret-key-files') && !run.secretKeyFile) return undefined;
  return { port: run.port ?? fromService ?? 5000 };
}

async function isLocalTarget(scheme: string, host: string | undefined, io: Io): Promise<boolean> {
  if (scheme === 'file' || scheme === 'local' || scheme === 'daemon') return true;
  if (!host) return false;
  if (host === 'localhost' || isIP(host)) return host === 'localhost' || isLocalAddress(host);
  if (scheme === 's3') return false;
  const r = await io.net.resolve(host);
  return r.ok && r.addresses.length > 0 && r.addresses.every((a) => isLocalAddress(a));
}

/** The CA bundle Nix's curl uses: ssl-cert-file, whose default comes from NIX_SSL_CERT_FILE or SSL_CERT_FILE. */
async function sslCertFile(env: NodeJS.ProcessEnv, settings: EffectiveSettings): Promise<string | undefined> {
  const file = settings.get('ssl-cert-file') || env.NIX_SSL_CERT_FILE || env.SSL_CERT_FILE;
  if (!file) return undefined;
  const r = await readTextFile(file, 4 * 1024 * 1024);
  return r.ok ? r.text : undefined;
}

function collectEnvSecrets(env: NodeJS.ProcessEnv, redactor: Redactor): void {
  for (const [name, value] of Object.entries(env)) {
    if (value && /TOKEN|SECRET|PASSW|API_?KEY|ACCESS_KEY|CREDENTIAL/i.test(name) && value.length >= 6) redactor.add(value);
  }
}
