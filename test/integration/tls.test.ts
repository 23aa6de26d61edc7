import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOf, nixConf, parseReport, runCli } from '../helpers/cli.js';
import { CACHES, KEYS, type Running, serveCache } from '../helpers/servers.js';
import { missing } from '../helpers/system.js';

const reason = missing('TLS diagnosis with certificates made by openssl', { commands: ['openssl'] });
const LAN_KEY = readFileSync(join(KEYS, 'lan.pub'), 'utf8').trim();
const dir = mkdtempSync(join(tmpdir(), 'nixcache-tls-'));
const running: Running[] = [];
afterAll(() => Promise.all(running.map((r) => r.close())));

/** A self-signed certificate from openssl for NAMES, valid for DAYS (negative: already expired). */
function certificate(label: string, names: string, days: number): { key: string; cert: string; file: string } {
  const key = join(dir, `${label}.key`);
  const cert = join(dir, `${label}.pem`);
  const csr = join(dir, `${label}.csr`);
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      `/CN=${names.split(',')[0]?.replace(/^\w+:/, '')}`,
      '-out',
      csr,
    ],
    { stdio: 'ignore' },
  );
  const ext = join(dir, `${label}.ext`);
  writeFileSync(ext, `subjectAltName=${names}\nbasicConstraints=critical,CA:TRUE\n`);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', String(days), '-out', cert, '-extfile', ext], {
    stdio: 'ignore',
  });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8'), file: cert };
}

async function doctorOver(tls: { key: string; cert: string }, caFile?: string, how: 'env' | 'nix.conf' = 'env') {
  const server = await serveCache(join(CACHES, 'signed-lan'), { tls });
  running.push(server);
  const url = server.url.replace('127.0.0.1', 'localhost');
  const sslLine = caFile && how === 'nix.conf' ? `ssl-cert-file = ${caFile}\n` : '';
  const { env } = nixConf(`substituters = ${url}\ntrusted-public-keys = ${LAN_KEY}\n${sslLine}`);
  const r = await runCli(['doctor', '--json', '--only', 'connect,cache-info,signature', '--timeout', '3'], {
    env: { ...env, ...(caFile && how === 'env' ? { NIX_SSL_CERT_FILE: caFile } : {}) },
  });
  const report = parseReport(r.stdout);
  return {
    connect: checkOf(report, 'connect', url),
    info: checkOf(report, 'cache-info', url),
    signature: checkOf(report, 'signature', url),
  };
}

describe.skipIf(reason)('TLS like curl and Nix see it (https caches on loopback)', () => {
  it('passes an https cache whose certificate NIX_SSL_CERT_FILE trusts, through to the signature', async () => {
    const good = certificate('good', 'DNS:localhost,IP:127.0.0.1', 1);
    const r = await doctorOver(good, good.file);
    expect(r.connect).toMatchObject({ status: 'pass', summary: expect.stringMatching(/TLSv1\.[23]/) });
    expect(r.info.status).toBe('pass');
    expect(r.signature.status).toBe('pass');
  });

  it('uses ssl-cert-file from nix.conf exactly when the installed Nix has that setting (2.15 and later)', async () => {
    const good = certificate('good-conf', 'DNS:localhost', 1);
    const version = /(\d+)\.(\d+)/.exec(execFileSync('nix', ['--version'], { encoding: 'utf8' }));
    const knows = Number(version?.[1]) > 2 || (Number(version?.[1]) === 2 && Number(version?.[2]) >= 15);
    const r = await doctorOver(good, good.file, 'nix.conf');
    // Nix 2.8 says "unknown setting 'ssl-cert-file'" and its curl never sees the bundle: neither does the doctor.
    expect(r.connect.status).toBe(knows ? 'pass' : 'fail');
  });

  it('fails a self-signed certificate nobody trusts, as Nix would (curl error 60)', async () => {
    const r = await doctorOver(certificate('untrusted', 'DNS:localhost', 1));
    expect(r.connect).toMatchObject({ status: 'fail', summary: expect.stringMatching(/self-signed.*\(60\)/) });
    expect(r.connect.fix).toMatch(/NIX_SSL_CERT_FILE/);
    expect(r.info).toMatchObject({ status: 'skip', reason: 'needs connect' });
  });

  it('fails a trusted certificate made for another host name', async () => {
    const other = certificate('other', 'DNS:cache.other.example', 1);
    const r = await doctorOver(other, other.file);
    expect(r.connect).toMatchObject({ status: 'fail', summary: expect.stringMatching(/another host name/) });
  });

  it('fails an expired certificate, saying so', async () => {
    const old = certificate('expired', 'DNS:localhost', -1);
    const r = await doctorOver(old, old.file);
    expect(r.connect).toMatchObject({ status: 'fail', summary: expect.stringMatching(/expired/) });
  });
});
