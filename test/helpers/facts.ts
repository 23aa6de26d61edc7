import type { CacheTarget, Discovery, DoctorConfig, Environment, RunSettings } from '../../src/discover/types.js';
import type { DiskCacheFact } from '../../src/facts/disk-cache.js';
import { createFacts } from '../../src/facts/index.js';
import type { Facts, NixConfigView } from '../../src/facts/types.js';
import { parseNixConf } from '../../src/nix/conf.js';
import { type Assignment, type ConfLevel, EffectiveSettings } from '../../src/nix/config.js';
import { type NetrcEntry, parseNetrc } from '../../src/nix/netrc.js';
import { parseTrustedKeys } from '../../src/nix/signatures.js';
import { parseStoreUrl } from '../../src/nix/store-url.js';
import type { CheckResult, Status } from '../../src/report/model.js';
import type { Results } from '../../src/runner/check.js';
import type { Evidence } from '../../src/system/evidence.js';
import type { ExecResult } from '../../src/system/exec.js';
import type { FileStat, ReadResult } from '../../src/system/fs.js';
import type { HttpFailureKind, HttpResult } from '../../src/system/http.js';
import type { Io } from '../../src/system/io.js';
import type { DnsQueryResult, Resolution, TcpResult, TlsProbe } from '../../src/system/net.js';
import type { PingResult } from '../../src/system/ping.js';

/**
 * Scripted adapters: the world as a check's facts would find it, without the network or the
 * machine. Anything not scripted is absent: programs are not installed, files do not exist, host
 * names do not resolve, TCP is refused, HTTP answers 404, ping cannot run.
 */
export interface Script {
  /** argv joined by spaces, matched by prefix → stdout (exit 0), or a whole result. */
  exec?: Record<string, string | Partial<ExecResult>>;
  /** path → text (mode 0644 regular file), or details. */
  files?: Record<string, string | { text?: string; mode?: number; error?: string; directory?: boolean }>;
  /** Exact URL → a response, or a transport failure. */
  http?: Record<string, { status: number; body?: string | Uint8Array; durationMs?: number } | { fail: HttpFailureKind; message?: string }>;
  /** host → its addresses, or an error code (ENOTFOUND, EAI_AGAIN). */
  resolve?: Record<string, string[] | string>;
  /** `address:port` → what a TCP connection gets (default refused). */
  tcp?: Record<string, TcpResult>;
  /** `address:port` → what a DNS question over UDP gets (default refused). */
  udp?: Record<string, DnsQueryResult>;
  /** `address:port` → the TLS handshake's failure message (default: TLSv1.3 works). */
  tlsFailure?: Record<string, string>;
  /** address → what ping says. */
  ping?: Record<string, Partial<PingResult>>;
  symlinks?: Record<string, string>;
  /** Paths this user may write (default: none). */
  writable?: string[];
  directories?: Record<string, string[]>;
}

export interface World {
  /** The system nix.conf ($NIX_CONF_DIR/nix.conf). */
  conf?: string;
  /** A user nix.conf (~/.config/nix/nix.conf): what the daemon ignores for untrusted users. */
  userConf?: string;
  netrc?: string;
  env?: Partial<Environment>;
  run?: Partial<RunSettings>;
  /** The caches to look at (default: the substituters of CONF); `local` is inferred from the host. */
  caches?: (string | { url: string; role?: CacheTarget['role']; local?: boolean })[];
  /** Trusted keys from the command line (--trusted-key). */
  trustedKeys?: string[];
  nixView?: NixConfigView;
  /** Nix's narinfo disk cache as the run finds it (default: the database of the user running the tests, read from the scripted files: absent). */
  diskCache?: DiskCacheFact;
  script?: Script;
  /** Facts replaced outright (the rest are gathered from SCRIPT by the real facts layer). */
  overrides?: Partial<Facts>;
}

export interface Fake {
  facts: Facts;
  caches: CacheTarget[];
  /** Every program run, as `file arg…`. */
  calls: string[];
  /** What the facts recorded as the check's evidence. */
  evidence: Evidence[];
  /** Values registered as secrets. */
  secrets: string[];
}

const ok = (stdout: string): ExecResult => ({
  exitCode: 0,
  stdout,
  stderr: '',
  missing: false,
  timedOut: false,
  denied: false,
  durationMs: 1,
});
const missing: ExecResult = { exitCode: null, stdout: '', stderr: '', missing: true, timedOut: false, denied: false, durationMs: 0 };

function assignments(text: string | undefined, file: string, level: ConfLevel): Assignment[] {
  if (text === undefined) return [];
  return parseNixConf(text).lines.flatMap((l) =>
    l.kind === 'set' ? [{ name: l.name, value: l.value, origin: { file, line: l.line, level } }] : [],
  );
}

export function scriptedIo(script: Script, calls: string[] = [], record: (e: Evidence) => void = () => {}): Io {
  const files = script.files ?? {};
  const fileOf = (p: string) => {
    const f = files[p];
    return typeof f === 'string' ? { text: f } : f;
  };
  const stat = (p: string): FileStat | null => {
    const f = fileOf(p);
    if (script.directories?.[p]) return { mode: 0o755, uid: 0, gid: 0, size: 0, isFile: false, isDirectory: true };
    if (!f) return null;
    return { mode: f.mode ?? 0o644, uid: 0, gid: 0, size: f.text?.length ?? 0, isFile: !f.directory, isDirectory: Boolean(f.directory) };
  };
  return {
    async exec(file, args) {
      const line = [file, ...args].join(' ');
      calls.push(line);
      const found = Object.entries(script.exec ?? {}).find(([prefix]) => line.startsWith(prefix))?.[1];
      const result = found === undefined ? missing : typeof found === 'string' ? ok(found) : { ...ok(''), ...found };
      record({ kind: 'exec', argv: [file, ...args], exitCode: result.exitCode, output: result.stdout, durationMs: result.durationMs });
      return result;
    },
    http: {
      async get(url, options) {
        const answer = script.http?.[url];
        let result: HttpResult;
        if (answer && 'fail' in answer) {
          result = { ok: false, error: { kind: answer.fail, message: answer.message ?? answer.fail, bytes: 0, durationMs: 1 } };
        } else {
          const status = answer?.status ?? 404;
          const raw = Buffer.from(answer?.body ?? '');
          const limit = options?.maxBytes ?? Number.POSITIVE_INFINITY;
          result =
            raw.length > limit
              ? {
                  ok: false,
                  error: { kind: 'too-large', message: `the answer is larger than ${limit} B`, bytes: raw.length, durationMs: 1 },
                }
              : {
                  ok: true,
                  response: {
                    status,
                    headers: {},
                    body: raw.toString('utf8'),
                    raw,
                    bytes: raw.length,
                    url,
                    redirects: 0,
                    durationMs: answer?.durationMs ?? 3,
                  },
                };
        }
        record({ kind: 'http', method: 'GET', url, status: result.ok ? result.response.status : null, bytes: 0, durationMs: 1 });
        return result;
      },
      async stream(url, _options, sink) {
        const answer = script.http?.[url];
        if (answer && 'fail' in answer)
          return { ok: false, error: { kind: answer.fail, message: answer.message ?? answer.fail, bytes: 0, durationMs: 1 } };
        const status = answer?.status ?? 404;
        const raw = Buffer.from(answer?.body ?? '');
        let bytes = 0;
        let stopped = false;
        // Scripted bodies arrive in 1 kB chunks, as a server's would in several reads.
        for (let at = 0; status === 200 && at < raw.length && !stopped; at += 1024) {
          const chunk = raw.subarray(at, at + 1024);
          bytes += chunk.length;
          stopped = (await sink(chunk)) === 'stop';
        }
        record({ kind: 'http', method: 'GET', url, status, bytes, durationMs: 1 });
        return { ok: true, status, headers: {}, bytes, durationMs: answer?.durationMs ?? 3, stopped };
      },
    },
    net: {
      isLocalAddress: (a) => a.startsWith('127.') || a === '::1',
      async resolve(host) {
        if (/^[\d.]+$/.test(host) || host.includes(':')) return { ok: true, addresses: [host], durationMs: 0 };
        const r = script.resolve?.[host];
        const resolution: Resolution = Array.isArray(r)
          ? { ok: true, addresses: r, durationMs: 1 }
          : { ok: false, code: r ?? 'ENOTFOUND', message: `'${host}' does not resolve (${r ?? 'ENOTFOUND'})`, durationMs: 1 };
        record({ kind: 'dns', host, addresses: resolution.ok ? resolution.addresses : [], durationMs: 1 });
        return resolution;
      },
      async dnsQuery(address, port) {
        const result = script.udp?.[`${address}:${port}`] ?? 'refused';
        record({ kind: 'udp', host: address, address, port, result, durationMs: 2 });
        return { result, address, port, durationMs: 2 };
      },
      async tcpConnect(address, port, host = address) {
        const result = script.tcp?.[`${address}:${port}`] ?? 'refused';
        record({ kind: 'tcp', host, address, port, result, durationMs: 2 });
        return {
          result,
          address,
          port,
          durationMs: 2,
          ...(result === 'refused' ? { code: 'ECONNREFUSED' } : result === 'unreachable' ? { code: 'EHOSTUNREACH' } : {}),
          ...(result === 'unreachable' ? { code: 'EHOSTUNREACH' } : {}),
        };
      },
      async tlsHandshake(address, port): Promise<TlsProbe> {
        const failure = script.tlsFailure?.[`${address}:${port}`];
        return failure ? { ok: false, message: failure, durationMs: 2 } : { ok: true, protocol: 'TLSv1.3', durationMs: 2 };
      },
    },
    async ping(address) {
      const p = script.ping?.[address];
      const result: PingResult = p
        ? { alive: false, rttMs: null, loss: null, durationMs: 3, ...p }
        : { alive: false, rttMs: null, loss: null, unavailable: 'ping is not installed', durationMs: 0 };
      record({ kind: 'ping', host: address, alive: result.alive, rttMs: result.rttMs, loss: result.loss, durationMs: result.durationMs });
      return result;
    },
    fs: {
      async readText(p, maxBytes = 1024 * 1024): Promise<ReadResult> {
        const f = fileOf(p);
        if (!f) return { ok: false, code: 'ENOENT', message: `'${p}' does not exist` };
        if (f.error) return { ok: false, code: f.error, message: `'${p}' cannot be read (${f.error})` };
        const text = f.text ?? '';
        if (text.length > maxBytes) return { ok: false, code: 'EFBIG', message: `'${p}' is larger than ${maxBytes} bytes` };
        return { ok: true, text };
      },
      stat: async (p) => stat(p),
      readdir: async (p, max) => script.directories?.[p]?.slice(0, max) ?? null,
      readlink: async (p) => script.symlinks?.[p] ?? null,
      exists: async (p) => stat(p) !== null || p in (script.symlinks ?? {}),
      canRead: async (p) => Boolean(fileOf(p) && !fileOf(p)?.error),
      canWrite: async (p) => Boolean(script.writable?.includes(p)),
    },
  };
}

/** A cache target as discovery makes it. */
export function cacheTarget(url: string, index = 0, role: CacheTarget['role'] = 'substituter', local?: boolean): CacheTarget {
  const parsed = parseStoreUrl(url);
  const host = parsed.host ?? '';
  const isLocal = local ?? (parsed.scheme === 'file' || host === 'localhost' || host.startsWith('127.') || host === '::1');
  return { url: parsed, index, role, local: isLocal };
}

/** Facts over a scripted world, gathered by the real facts layer, for one check's run. */
export function fakeFacts(world: World = {}): Fake {
  const settings = new EffectiveSettings([
    ...assignments(world.conf, '/etc/nix/nix.conf', 'system'),
    ...assignments(world.userConf, '/home/alice/.config/nix/nix.conf', 'user'),
  ]);
  let netrcEntries: NetrcEntry[] = [];
  if (world.netrc !== undefined) {
    const parsed = parseNetrc(world.netrc);
    if (parsed.ok) netrcEntries = parsed.value;
  }
  const substituters = [...new Set(settings.list('substituters').map((i) => i.value))];
  const config: DoctorConfig = {
    files: world.conf !== undefined ? [{ path: '/etc/nix/nix.conf', level: 'system', status: 'read' }] : [],
    problems: [],
    searched: [{ path: '/etc/nix/nix.conf', level: 'system' }],
    systemFile: '/etc/nix/nix.conf',
    settings,
    daemonSettings: new EffectiveSettings(assignments(world.conf, '/etc/nix/nix.conf', 'system')),
    cliTrustedKeys: world.trustedKeys ?? [],
    substituters,
    trustedKeys: parseTrustedKeys([...settings.list('trusted-public-keys').map((i) => i.value), ...(world.trustedKeys ?? [])]),
    requireSigs: settings.get('require-sigs') !== 'false',
    netrc: { path: '/etc/nix/netrc', entries: netrcEntries },
  };
  const env: Environment = {
    os: 'linux',
    arch: 'x64',
    nixVersion: '2.8.0',
    user: 'alice',
    uid: 1000,
    groups: ['users'],
    root: false,
    multiUser: false,
    trustedUser: true,
    storeDir: '/nix/store',
    ...world.env,
  };
  const caches = (world.caches ?? substituters).map((c, i) =>
    typeof c === 'string' ? cacheTarget(c, i) : cacheTarget(c.url, i, c.role ?? 'substituter', c.local),
  );
  const run: RunSettings = {
    timeoutMs: 5000,
    server: caches.some((c) => c.role === 'server'),
    samples: [],
    flakeDir: '/home/alice',
    ...world.run,
  };
  const discovery: Discovery = {
    env,
    config,
    targets: caches,
    run,
    host: { home: '/home/alice', pathDirs: ['/usr/bin'] },
    resolutions: new Map(),
    secrets: [],
  };
  const calls: string[] = [];
  const evidence: Evidence[] = [];
  const secrets: string[] = [];
  const script = world.script ?? {};
  const real = createFacts({
    discovery,
    io: (record) => scriptedIo(script, calls, record),
    nixView: Promise.resolve(world.nixView),
    secret: (s) => secrets.push(s),
    deadline: new AbortController().signal,
    ...(world.diskCache ? { diskCache: async () => world.diskCache as DiskCacheFact } : {}),
  }).view((e) => evidence.push(e));
  return { facts: { ...real, ...world.overrides }, caches, calls, evidence, secrets };
}

/** The results of earlier checks, as the runner would hand them to a check that declared them. */
export function fakeResults(
  entries: { id: string; cache?: CacheTarget; status: Status; data?: Record<string, unknown>; reason?: string }[] = [],
): Results {
  return {
    get(id, cache) {
      const e = entries.find((x) => x.id === id && (x.cache === undefined || cache === undefined || x.cache.index === cache.index));
      if (!e) return undefined;
      const result: CheckResult = {
        id: e.id,
        title: e.id,
        cache: e.cache?.url.display ?? null,
        status: e.status,
        summary: '',
        detail: null,
        fix: null,
        reason: e.reason ?? null,
        data: e.data ?? {},
        evidence: [],
        durationMs: 1,
      };
      return result;
    },
  };
}
