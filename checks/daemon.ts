import { type DaemonProblem, driftProblem, envProblems } from '../src/nix/daemon-advice.js';
import { diffEnv } from '../src/nix/daemon-env.js';
import type { Finding, HostCheck } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';
import type { ProxyProbe } from '../src/system/proxy.js';

/** Step 9: the nix-daemon's own view — which process substitutes, with which environment and settings. */
export const daemon: HostCheck = {
  id: 'daemon',
  title: 'The nix-daemon sees what you see',
  scope: 'host',
  reads: ['daemon'],
  timeoutMs: (operation) => operation * 4 + 2000,
  async run(facts) {
    const d = await facts.daemon();
    const problems: DaemonProblem[] = d.unsupported.map((u) => ({
      severity: 'fail',
      summary: `substituters has ${u.scheme}:// caches, which this Nix cannot open: "${u.message}"`,
      fix: [
        `Use a Nix built with S3 support (Debian's nix-bin has none), or read the bucket over HTTPS where it is public — /etc/nix/nix.conf: substituters = https://BUCKET.s3.amazonaws.com`,
        'NixOS: nix.settings.substituters = [ "https://BUCKET.s3.amazonaws.com" ];  (NixOS’s own Nix reads s3:// natively)',
      ].join('\n'),
    }));
    const data: Record<string, unknown> = {
      socket: d.socket,
      socketExists: d.socketExists,
      pid: d.pid ?? null,
      pidSource: d.pidSource ?? null,
      envSource: d.envSource ?? null,
    };
    if (!d.socketExists && !d.pid && !facts.env.multiUser) {
      if (problems.length) return judge(problems, [], data);
      return pass('single-user install: Nix substitutes in your own process, with your environment and your nix.conf', { data });
    }
    if (!d.pid) {
      const why = facts.env.root
        ? `no process listens on ${d.socket}`
        : `the doctor could not tell which process listens on ${d.socket} (ss shows socket owners only to root)`;
      problems.push({
        severity: facts.env.root ? 'fail' : 'warn',
        summary: `a multi-user install, but ${why}`,
        fix: facts.env.root
          ? 'Start it: systemctl enable --now nix-daemon.socket nix-daemon'
          : 'Run sudo nixcache doctor: it finds the daemon and reads its environment.',
      });
      return judge(problems, [], data);
    }
    const notes: string[] = [`nix-daemon pid ${d.pid} (found by ${d.pidSource})`];
    if (d.startedAtMs) {
      const drift = driftProblem(d.startedAtMs, d.confFiles);
      if (drift) problems.push(drift);
      data.startedAt = new Date(d.startedAtMs).toISOString();
    }
    if (!d.env) {
      notes.push(
        `its environment is unknown: /proc/${d.pid}/environ ${d.envProblem ?? 'could not be read'} — sudo nixcache doctor reads it`,
      );
      return judge(problems, notes, { ...data, envProblem: d.envProblem ?? null }, !facts.env.root);
    }
    notes.push(
      `its environment read from ${d.envSource === 'proc' ? `/proc/${d.pid}/environ` : "the unit's Environment= (without root; a running daemon may differ)"}`,
    );
    const diffs = diffEnv(d.env, d.userEnv);
    data.differences = diffs;
    const urls = facts.caches.map((c) => c.url.httpBase ?? c.url.display);
    problems.push(...envProblems(diffs, d.env, d.userEnv, urls));
    for (const p of await facts.daemonProxies()) {
      const problem = proxyProblem(p.url, p.proxy, p.probe);
      if (problem) problems.push(problem);
      else
        notes.push(`${p.url} through the daemon's proxy ${redact(p.proxy)}: answered ${p.probe.kind === 'through' ? p.probe.status : '?'}`);
    }
    return judge(problems, notes, data);
  },
};

const redact = (proxy: string) => proxy.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');

/** The proxy's own failures, told apart from the cache's. */
function proxyProblem(url: string, proxy: string, probe: ProxyProbe): DaemonProblem | undefined {
  const fixProxy = `Fix or replace the daemon's proxy: systemctl edit nix-daemon → [Service] Environment="https_proxy=…", then systemctl daemon-reload && systemctl restart nix-daemon\nNixOS: networking.proxy.default = "http://PROXY:PORT"; (or nix.envVars.https_proxy)`;
  if (probe.kind === 'proxy-unreachable')
    return {
      severity: 'fail',
      summary: `the daemon's proxy ${redact(proxy)} cannot be reached (${probe.message}): every download of the daemon fails before it reaches ${url}`,
      fix: fixProxy,
    };
  if (probe.kind === 'proxy-status' && probe.status === 407)
    return {
      severity: 'fail',
      summary: `the daemon's proxy ${redact(proxy)} answers 407 Proxy Authentication Required for ${url}`,
      fix: `Give the daemon's proxy URL its credentials (http://USER:PASSWORD@PROXY:PORT).\n${fixProxy}`,
    };
  if (probe.kind === 'proxy-status')
    return {
      severity: 'fail',
      summary: `the daemon's proxy ${redact(proxy)} answers ${probe.status} for ${url}: the proxy cannot reach the cache`,
      fix: `Let the proxy reach the cache, or add its host to no_proxy for the daemon.\n${fixProxy}`,
    };
  return undefined;
}

function judge(problems: DaemonProblem[], notes: string[], data: Record<string, unknown>, unknown = false): Finding {
  const first = problems.find((p) => p.severity === 'fail') ?? problems[0];
  const detail = [...problems.filter((p) => p !== first).map((p) => p.summary), ...notes].join('\n') || undefined;
  const fix = [first, ...problems.filter((p) => p !== first)].flatMap((p) => (p ? [p.fix] : [])).join('\n') || undefined;
  if (first)
    return (problems.some((p) => p.severity === 'fail') ? fail : warn)(first.summary, {
      detail,
      fix,
      data: { ...data, problems: problems.length },
    });
  if (unknown)
    return skip(`the daemon's environment cannot be read without root (${notes[0]})`, 'needs root', {
      detail,
      fix: 'Run sudo nixcache doctor to compare the daemon’s environment with yours.',
      data,
    });
  return pass(`the daemon's environment and settings match yours where it matters (${notes[0]})`, { detail, data });
}
