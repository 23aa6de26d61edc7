import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { Recorder } from './evidence.js';
import { classifyNetworkError } from './http.js';

export type Resolution =
  | { ok: true; addresses: string[]; durationMs: number }
  | { ok: false; code: string; message: string; durationMs: number };
export type TcpResult = 'open' | 'refused' | 'timeout' | 'unreachable' | 'error' | 'cancelled';
export interface TcpProbe {
  result: TcpResult;
  address: string;
  port: number;
  durationMs: number;
  code?: string;
}
/** A DNS question over UDP: 'answered' is any reply to it (SERVFAIL included), 'refused' an ICMP port unreachable. */
export type DnsQueryResult = 'answered' | 'refused' | 'timeout' | 'error' | 'cancelled';
export interface DnsQueryProbe {
  result: DnsQueryResult;
  address: string;
  port: number;
  durationMs: number;
}
export type TlsProbe =
  | { ok: true; durationMs: number; protocol: string | null }
  | { ok: false; message: string; code?: string; durationMs: number };

export interface Net {
  resolve(host: string): Promise<Resolution>;
  tcpConnect(address: string, port: number, host?: string): Promise<TcpProbe>;
  /** Asks the DNS server at ADDRESS:PORT one question over UDP, as the C library's resolver does first. */
  dnsQuery(address: string, port: number): Promise<DnsQueryProbe>;
  tlsHandshake(address: string, port: number, servername: string): Promise<TlsProbe>;
  isLocalAddress(address: string): boolean;
}

/** Every address of this machine's interfaces, plus all of 127.0.0.0/8 and ::1. */
export function isLocalAddress(address: string): boolean {
  const a = address.replace(/^::ffff:/, '');
  if (a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::') return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.address === a || i.address.split('%')[0] === a) return true;
  }
  return false;
}

/** Network probes bounded by TIMEOUTMS and the run's SIGNAL; CA is the trusted certificates (PEM) for TLS. */
export function createNet(record: Recorder, signal: AbortSignal, timeoutMs: number, ca?: string): Net {
  return {
    isLocalAddress,
    async resolve(host) {
      if (isIP(host)) return { ok: true, addresses: [host], durationMs: 0 };
      const r = await resolveOnce(host, timeoutMs);
      record({ kind: 'dns', host, addresses: r.ok ? r.addresses : [], durationMs: r.durationMs, ...(r.ok ? {} : { error: r.message }) });
      return r;
    },
    async tcpConnect(address, port, host = address) {
      const probe = await tcpProbe(address, port, timeoutMs, signal);
      record({ kind: 'tcp', host, address, port, result: probe.result, durationMs: probe.durationMs });
      return probe;
    },
    async dnsQuery(address, port) {
      const probe = await dnsQueryProbe(address, port, Math.min(timeoutMs, DNS_QUERY_MS), signal);
      record({ kind: 'udp', host: address, address, port, result: probe.result, durationMs: probe.durationMs });
      return probe;
    },
    async tlsHandshake(address, port, servername) {
      const started = performance.now();
      const result = await new Promise<TlsProbe>((resolve) => {
        const socket = tlsConnect({
          host: address,
          port,
          servername: isIP(servername) ? undefined : servername,
          ...(ca ? { ca } : {}),
        });
        const done = (r: TlsProbe) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          resolve(r);
        };
        const ms = () => Math.round(performance.now() - started);
        const timer = setTimeout(
          () => done({ ok: false, message: `TLS handshake timed out after ${timeoutMs / 1000} s`, durationMs: ms() }),
          timeoutMs,
        );
        const onAbort = () => done({ ok: false, message: 'cancelled at the run deadline', durationMs: ms() });
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('secureConnect', () => done({ ok: true, durationMs: ms(), protocol: socket.getProtocol() }));
        socket.once('error', (e) => {
          const c = classifyNetworkError(e);
          done({ ok: false, message: c.message, ...(c.code ? { code: c.code } : {}), durationMs: ms() });
        });
      });
      record({
        kind: 'tls',
        host: servername,
        port,
        result: result.ok ? `ok (${result.protocol})` : 'failed',
        durationMs: result.durationMs,
        ...(result.ok ? {} : { error: result.message }),
      });
      return result;
    },
  };
}

async function resolveOnce(host: string, timeoutMs: number): Promise<Resolution> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Resolution>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, code: 'ETIMEOUT', message: `no answer from the resolver within ${timeoutMs / 1000} s`, durationMs: ms() }),
      timeoutMs,
    );
    timer.unref();
  });
  const lookedUp = lookup(host, { all: true, verbatim: true }).then(
    (list): Resolution => ({ ok: true, addresses: [...new Set(list.map((a) => a.address))], durationMs: ms() }),
    (e: { code?: string; message?: string }): Resolution => ({
      ok: false,
      code: e.code ?? 'EUNKNOWN',
      message: e.code === 'ENOTFOUND' ? `'${host}' does not resolve (ENOTFOUND)` : `resolving '${host}' failed (${e.code ?? e.message})`,
      durationMs: ms(),
    }),
  );
  const r = await Promise.race([lookedUp, timeout]);
  clearTimeout(timer);
  return r;
}

function tcpProbe(address: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<TcpProbe> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (result: TcpResult, code?: string) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ result, address, port, durationMs: Math.round(performance.now() - started), ...(code ? { code } : {}) });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const onAbort = () => done('cancelled');
    if (signal.aborted) return done('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done('open'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'EUNKNOWN';
      if (code === 'ECONNREFUSED') done('refused', code);
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') done('unreachable', code);
      else if (code === 'ETIMEDOUT') done('timeout', code);
      else done('error', code);
    });
    socket.connect({ host: address, port });
  });
}

/** A DNS server that answers at all does so in well under this; a slow upstream makes the stub wait, not us. */
const DNS_QUERY_MS = 2000;

/**
 * One standard query (the root's NS records, recursion desired) on a connected UDP socket: a reply
 * carrying its id and the response bit is 'answered', whatever its code — a stub with no upstream
 * answers SERVFAIL, and that still proves it runs; the kernel turns an ICMP port unreachable into
 * ECONNREFUSED on a connected socket.
 */
function dnsQueryProbe(address: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<DnsQueryProbe> {
  const started = performance.now();
  const id = randomInt(0x10000);
  // Header: id, flags RD, one question; then the root name (one zero byte), type NS, class IN.
  const query = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
  return new Promise((resolve) => {
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const done = (result: DnsQueryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.close();
      resolve({ result, address, port, durationMs: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const onAbort = () => done('cancelled');
    if (signal.aborted) return done('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('message', (m: Buffer) => {
      if (m.length >= 12 && m.readUInt16BE(0) === id && (m[2] as number) & 0x80) done('answered');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
    socket.connect(port, address, () => socket.send(query, (e) => e && done('error')));
  });
}
