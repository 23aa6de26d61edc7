import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleForNode } from '../../scripts/bundle.mjs';
import type { WorldServer } from './world.js';

const SERVE = new URL('./serve-cache.mjs', import.meta.url).pathname;

/**
 * A network namespace owned by one test: only its own loopback, so every packet the test sends
 * stays inside it. Firewall rules loaded here touch nothing outside.
 */
export class Netns {
  readonly name = `nxc-${randomBytes(4).toString('hex')}`;
  private readonly children: ChildProcess[] = [];

  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
    this.run('ip', ['link', 'set', 'lo', 'up']);
  }

  /** Runs a command inside the namespace and returns its stdout. */
  run(cmd: string, args: string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', ...(input ? { input } : {}) });
  }

  /** The prefix that runs a program inside the namespace. */
  get wrap(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Starts a cache server inside the namespace on HOST (its loopback) and returns its port. */
  async serveCache(dir: string, host = '127.0.0.1', port = 0): Promise<number> {
    const line = await this.startNode([SERVE, dir, host, String(port)], 'cache server', 10_000);
    return Number(/listening (\d+)/.exec(line)?.[1]);
  }

  /** Starts the servers of SPEC inside the namespace (test/helpers/world.ts) and returns their URLs by name. */
  async startWorld(spec: WorldServer[]): Promise<Record<string, string>> {
    const line = await this.startNode([await bundleWorld(), JSON.stringify(spec)], 'server world', 15_000);
    return JSON.parse(line) as Record<string, string>;
  }

  /** Runs a Node script inside the namespace, kept until destroy(), and returns the first line it prints. */
  private startNode(args: string[], what: string, timeoutMs: number): Promise<string> {
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ${what} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (!out.includes('\n')) return;
        clearTimeout(timer);
        resolve(out.split('\n')[0] as string);
      });
      child.once('exit', (code) => reject(new Error(`the ${what} exited with ${code}`)));
    });
  }

  destroy(): void {
    for (const c of this.children) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

let bundled: Promise<string> | undefined;

/** world.ts as one ES module file next to the built CLI (same depth as test/helpers, so fixture paths hold). */
function bundleWorld(): Promise<string> {
  const outfile = new URL('../../dist/test-world/world.mjs', import.meta.url).pathname;
  bundled ??= bundleForNode(new URL('./world.ts', import.meta.url).pathname, outfile);
  return bundled;
}

/**
 * A DNS server in NS on ADDRESS:53 that answers every question with RCODE (2 SERVFAIL, 3 NXDOMAIN)
 * over UDP; with `tcp`, a TCP listener on port 53 too (as systemd-resolved's stub has). Resolves
 * once it listens; the caller kills the returned child.
 */
export async function dnsResponder(ns: Netns, address: string, rcode: 2 | 3, { tcp = false } = {}): Promise<ChildProcess> {
  const script = join(mkdtempSync(join(tmpdir(), 'nixcache-dns-')), 'dns.mjs');
  writeFileSync(
    script,
    `import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
const s = createSocket('udp4');
s.on('message', (q, from) => {
  let end = 12;
  while (end < q.length && q[end] !== 0) end += q[end] + 1;
  const question = q.subarray(12, end + 5);
  const head = Buffer.from([q[0], q[1], 0x81 | (q[2] & 0x01), 0x80 | ${rcode}, 0, 1, 0, 0, 0, 0, 0, 0]);
  s.send(Buffer.concat([head, question]), from.port, from.address);
});
const ready = () => console.log('listening');
s.bind(53, '${address}', () => (${tcp} ? createServer((c) => c.destroy()).listen(53, '${address}', ready) : ready()));
`,
  );
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the DNS responder on ${address} did not start`)), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return child;
}
