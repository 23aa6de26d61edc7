import type { DoctorConfig } from '../discover/types.js';
import { parseEnviron, parseUnitEnvironment, proxyFor, relevantEnv } from '../nix/daemon-env.js';
import type { Recorder } from '../system/evidence.js';
import type { Io } from '../system/io.js';
import { type ProxyProbe, probeViaProxy } from '../system/proxy.js';

export const DEFAULT_SOCKET = '/nix/var/nix/daemon-socket/socket';

/** The nix-daemon as the doctor could see it: which process, its environment, when it read nix.conf. */
export interface DaemonFact {
  socket: string;
  socketExists: boolean;
  pid?: number;
  /** How the pid was found: the process listening on the socket (root), the unit's MainPID, or the oldest nix-daemon. */
  pidSource?: 'socket' | 'systemd' | 'pgrep';
  /** Its environment (the variables that matter), from /proc/PID/environ (root) or the unit's Environment=. */
  env?: Record<string, string>;
  envSource?: 'proc' | 'unit';
  /** Why /proc/PID/environ could not be read. */
  envProblem?: string;
  startedAtMs?: number;
  /** The system nix.conf files (the daemon reads no user file) with their modification times. */
  confFiles: { path: string; mtimeMs: number }[];
  userEnv: Record<string, string>;
  /** Store schemes this Nix cannot open, with what Nix said. */
  unsupported: { scheme: string; message: string }[];
}

const field = (text: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1];

export async function readDaemon(io: Io, config: DoctorConfig, userEnvAll: NodeJS.ProcessEnv, root: boolean): Promise<DaemonFact> {
  const socket = userEnvAll.NIX_DAEMON_SOCKET_PATH || DEFAULT_SOCKET;
  const userEnv = relevantEnv(userEnvAll);
  const [st, unsupported] = await Promise.all([io.fs.stat(socket), unsupportedSchemes(io, config)]);
  const fact: DaemonFact = { socket, socketExists: st !== null, confFiles: [], userEnv, unsupported };
  // Single-user (no socket, NIX_REMOTE not daemon): no daemon to look for, and no programs to run.
  if (!st && userEnvAll.NIX_REMOTE !== 'daemon') return fact;
  const [unitShow, confFiles] = await Promise.all([
    io.exec('systemctl', ['show', 'nix-daemon.service', '--property=MainPID,ActiveState,Environment', '--no-pager']),
    confMtimes(io, config),
  ]);
  fact.confFiles = confFiles;
  const unit = unitShow.exitCode === 0 ? unitShow.stdout : '';
  const pidFromSocket = root && st ? await listenerOf(io, socket) : undefined;
  const mainPid = Number(field(unit, 'MainPID') ?? 0);
  if (pidFromSocket) Object.assign(fact, { pid: pidFromSocket, pidSource: 'socket' });
  else if (mainPid > 0 && socket === DEFAULT_SOCKET) Object.assign(fact, { pid: mainPid, pidSource: 'systemd' });
  else if (socket === DEFAULT_SOCKET) {
    const pg = await io.exec('pgrep', ['-o', '-x', 'nix-daemon']);
    const pid = Number(pg.stdout.trim());
    if (pg.exitCode === 0 && pid > 0) Object.assign(fact, { pid, pidSource: 'pgrep' });
  }
  if (fact.pid) {
    const environ = await io.fs.readText(`/proc/${fact.pid}/environ`, 1024 * 1024);
    if (environ.ok) Object.assign(fact, { env: parseEnviron(environ.text), envSource: 'proc' });
    else fact.envProblem = environ.message;
    fact.startedAtMs = await startTime(io, fact.pid);
  }
  const unitEnv = field(unit, 'Environment');
  if (!fact.env && unitEnv !== undefined && fact.pidSource !== 'socket')
    Object.assign(fact, { env: parseUnitEnvironment(unitEnv), envSource: 'unit' });
  return fact;
}

/** The process listening on the daemon socket (`ss -xlpn`, which shows owners only to root). */
async function listenerOf(io: Io, socket: string): Promise<number | undefined> {
  const ss = await io.exec('ss', ['-xlpnH']);
  const line = ss.stdout.split('\n').find((l) => l.split(/\s+/).includes(socket));
  const pid = Number(/pid=(\d+)/.exec(line ?? '')?.[1] ?? 0);
  return pid > 0 ? pid : undefined;
}

/** /proc/PID/stat field 22 (clock ticks after boot; USER_HZ is 100 on Linux) plus btime from /proc/stat. */
async function startTime(io: Io, pid: number): Promise<number | undefined> {
  const [stat, sys] = await Promise.all([io.fs.readText(`/proc/${pid}/stat`, 4096), io.fs.readText('/proc/stat', 256 * 1024)]);
  if (!stat.ok || !sys.ok) return undefined;
  const fields = stat.text.slice(stat.text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  const btime = Number(/^btime (\d+)$/m.exec(sys.text)?.[1]);
  return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : undefined;
}

async function confMtimes(io: Io, config: DoctorConfig): Promise<DaemonFact['confFiles']> {
  const files = config.files.filter((f) => f.level === 'system' && f.status === 'read').map((f) => f.path);
  if (files.length === 0) return [];
  const r = await io.exec('stat', ['-L', '-c', '%Y %n', '--', ...files.slice(0, 64)]);
  return r.stdout.split('\n').flatMap((l) => {
    const m = /^(\d+) (.+)$/.exec(l);
    return m ? [{ path: m[2] as string, mtimeMs: Number(m[1]) * 1000 }] : [];
  });
}

/** Asks Nix to open an s3:// store at a local address: a Nix built without S3 says it cannot, at once. */
async function unsupportedSchemes(io: Io, config: DoctorConfig): Promise<DaemonFact['unsupported']> {
  const s3 = config.substituters.some((s) => s.startsWith('s3://'));
  if (!s3) return [];
  const r = await io.exec(
    'nix',
    ['--extra-experimental-features', 'nix-command', 'store', 'ping', '--store', 's3://nixcache-probe?endpoint=http://127.0.0.1:9'],
    { timeoutMs: 5000 },
  );
  const said = /don't know how to open Nix store[^\n]*/.exec(r.stderr)?.[0];
  return said ? [{ scheme: 's3', message: said }] : [];
}

/** Each http(s) cache through the proxy the daemon's environment gives it (curl's rules, no_proxy honoured). */
export async function probeDaemonProxies(
  urls: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
  record: Recorder,
): Promise<{ url: string; proxy: string; probe: ProxyProbe }[]> {
  const out: { url: string; proxy: string; probe: ProxyProbe }[] = [];
  for (const url of urls.slice(0, 16)) {
    const proxy = proxyFor(url, env);
    if (proxy)
      out.push({ url, proxy, probe: await probeViaProxy(proxy, `${url.replace(/\/$/, '')}/nix-cache-info`, timeoutMs, signal, record) });
  }
  return out;
}
