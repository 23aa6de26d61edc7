import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateFirewalld, parseActiveZones, parseServicePorts, parseZoneListAll } from '../../src/host/firewalld.js';
import { evaluateIptables, parseIptables } from '../../src/host/iptables.js';
import { evaluateNft, parseNftJson } from '../../src/host/nft.js';
import { parseProcNetTcp, parseSs } from '../../src/host/sockets.js';
import { execStartArgv, listenFromArgv, loadCredentials, parseSystemctlShow } from '../../src/host/systemd.js';
import { parseCacheInfo } from '../../src/nix/cache-info.js';
import { parseNixConf } from '../../src/nix/conf.js';
import { parseHash } from '../../src/nix/hash.js';
import { parsePublicKey, parseSecretKey, parseSignature } from '../../src/nix/keys.js';
import { parseNarInfo } from '../../src/nix/narinfo.js';
import { parseNetrc } from '../../src/nix/netrc.js';
import type { Result } from '../../src/nix/result.js';
import { classifySignatures, parseTrustedKeys } from '../../src/nix/signatures.js';
import { parseStorePath } from '../../src/nix/store-path.js';
import { parseStoreUrl, redactUrl } from '../../src/nix/store-url.js';
import { CACHES, FIXTURES, KEYS } from '../helpers/servers.js';

/**
 * The bad-input corpus: every parser of outside text meets random text and real outputs mutated
 * at random. None may throw: a parser answers with its typed error (a one-line message), and what
 * consumes a parsed value (firewall evaluation, signature classification) copes with whatever a
 * parser accepted.
 */
const RUNS = { numRuns: 300 };
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

const SEEDS = {
  nixConf:
    'substituters = https://cache.nixos.org http://lan:5000?priority=10\n# comment\nextra-trusted-public-keys = a:b c:d\ninclude other.conf\n!include missing.conf\nrequire-sigs = true\n',
  cacheInfo: read(CACHES, 'signed-lan', 'nix-cache-info'),
  narinfo: read(CACHES, 'multi-sig', '6vp2i8hirqg8x2dq8863mwgyxqvv1hkr.narinfo'),
  netrc:
    'machine cache.example.org login ci password s3cret\ndefault login anon password x\nmacdef init\ncd /\n\nmachine b login "q u" password p\n',
  ss: read(FIXTURES, 'host', 'ss-ltnpH.txt'),
  procTcp: read(FIXTURES, 'host', 'proc-net-tcp.txt'),
  procTcp6: read(FIXTURES, 'host', 'proc-net-tcp6.txt'),
  iptables: read(FIXTURES, 'firewall', 'nixos-iptables-S.txt'),
  iptablesSave: read(FIXTURES, 'firewall', 'nixos-iptables.rules'),
  nft: read(FIXTURES, 'firewall', 'nixos-nftables.json'),
  systemctl: read(FIXTURES, 'host', 'systemctl-show-nix-serve-active.txt'),
  systemctlCat: read(FIXTURES, 'host', 'systemctl-cat-nix-serve.txt'),
  zone: read(FIXTURES, 'host', 'firewall-cmd-zone-public-open-list-all.txt'),
  zones: read(FIXTURES, 'host', 'firewall-cmd-get-active-zones.txt'),
  publicKey: read(KEYS, 'lan.pub').trim(),
  secretKey: read(KEYS, 'backup.sec').trim(),
};

/** A real text changed by a few random edits: lines dropped, doubled or cut, characters replaced, junk inserted. */
function mutated(seed: string): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.constantFrom('drop', 'double', 'cut', 'char', 'junk', 'swap'),
    fc.nat(),
    fc.nat(),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let lines = seed.split('\n');
    for (const [op, a, b, junk] of edits) {
      const i = lines.length ? a % lines.length : 0;
      const line = lines[i] ?? '';
      if (op === 'drop') lines.splice(i, 1);
      else if (op === 'double') lines.splice(i, 0, line);
      else if (op === 'cut') lines[i] = line.slice(0, b % (line.length + 1));
      else if (op === 'char') lines[i] = line.slice(0, b % (line.length + 1)) + junk.slice(0, 1) + line.slice((b % (line.length + 1)) + 1);
      else if (op === 'junk') lines.splice(i, 0, junk);
      else lines = [...lines.slice(i), ...lines.slice(0, i)];
    }
    return lines.join('\n');
  });
}

const input = (seed: string) => fc.oneof(mutated(seed), fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ maxLength: 80 }));

function typed<T>(r: Result<T>): Result<T> {
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) {
    expect(r.error.message).toMatch(/\S/);
    expect(r.error.message).not.toMatch(/\n/);
  }
  return r;
}

const port = fc.integer({ min: 1, max: 65535 });
const VERDICTS = ['accept', 'drop', 'reject'];

describe('bad-input corpus: parsers never throw, they answer with their typed error', () => {
  it('nix.conf', () => {
    fc.assert(
      fc.property(input(SEEDS.nixConf), (text) => {
        const parsed = parseNixConf(text);
        for (const e of parsed.errors) expect(e.line).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it.each([
    ['nix-cache-info', SEEDS.cacheInfo, parseCacheInfo],
    ['narinfo', SEEDS.narinfo, (t: string) => parseNarInfo(t)],
    ['netrc', SEEDS.netrc, parseNetrc],
    ['public key', SEEDS.publicKey, parsePublicKey],
    ['secret key', SEEDS.secretKey, parseSecretKey],
    ['signature', 'lan-cache-1:AAAA', parseSignature],
    ['hash', 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s', parseHash],
    ['store path', '/nix/store/6vp2i8hirqg8x2dq8863mwgyxqvv1hkr-nixcache-fixture-app', (t: string) => parseStorePath(t)],
    ['ss -ltnpH', SEEDS.ss, parseSs],
    ['/proc/net/tcp', SEEDS.procTcp, (t: string) => parseProcNetTcp(t, false)],
    ['/proc/net/tcp6', SEEDS.procTcp6, (t: string) => parseProcNetTcp(t, true)],
    ['systemctl show', SEEDS.systemctl, parseSystemctlShow],
  ] as [string, string, (t: string) => Result<unknown>][])('%s', (_name, seed, parse) => {
    fc.assert(
      fc.property(input(seed), (text) => {
        typed(parse(text));
      }),
      RUNS,
    );
  });

  it('iptables -S and iptables-save, then evaluation for any port', () => {
    fc.assert(
      fc.property(fc.oneof(input(SEEDS.iptables), input(SEEDS.iptablesSave)), port, (text, p) => {
        const t = typed(parseIptables(text));
        if (t.ok) expect(VERDICTS).toContain(evaluateIptables(t.value, p).verdict);
      }),
      RUNS,
    );
  });

  it('nft -j list ruleset, as text and as JSON with random parts, then evaluation for any port', () => {
    const base = JSON.parse(SEEDS.nft) as { nftables: unknown[] };
    const structural = fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 4 })).map(([i, junk]) => {
      const items = [...base.nftables];
      items[i % items.length] = junk;
      return JSON.stringify({ nftables: items });
    });
    fc.assert(
      fc.property(fc.oneof(input(SEEDS.nft), structural, fc.json()), port, (text, p) => {
        const r = typed(parseNftJson(text));
        if (r.ok) {
          const v = evaluateNft(r.value, p);
          if (v) expect(VERDICTS).toContain(v.verdict);
        }
      }),
      RUNS,
    );
  });

  it('systemd unit properties and firewall-cmd outputs', () => {
    fc.assert(
      fc.property(input(SEEDS.systemctlCat), input(SEEDS.zone), input(SEEDS.zones), port, (cat, zone, zones, p) => {
        loadCredentials(cat);
        listenFromArgv(execStartArgv(cat));
        parseActiveZones(zones);
        parseServicePorts(zone);
        const z = parseZoneListAll(zone);
        if (z) expect(VERDICTS).toContain(evaluateFirewalld([z], { ssh: parseServicePorts(zone) }, p, z.zone).verdict);
      }),
      RUNS,
    );
  });

  it('substituter URLs, and redaction of whatever they hold', () => {
    fc.assert(
      fc.property(fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string({ unit: 'binary', maxLength: 120 })), (raw) => {
        const u = parseStoreUrl(raw);
        expect(typeof u.display).toBe('string');
        redactUrl(raw);
        if (u.credentials?.password && u.credentials.password.length > 3) expect(u.display).not.toContain(`:${u.credentials.password}@`);
      }),
      RUNS,
    );
  });

  it('signature classification of any narinfo that parses, against any trusted keys', () => {
    fc.assert(
      fc.property(
        input(SEEDS.narinfo),
        fc.array(fc.oneof(fc.constant(SEEDS.publicKey), fc.string({ maxLength: 60 })), { maxLength: 3 }),
        (text, keys) => {
          const info = parseNarInfo(text);
          if (!info.ok) return;
          const verdict = classifySignatures(info.value, parseTrustedKeys(keys).keys);
          expect(['valid', 'unsigned', 'untrusted', 'mismatch', 'unverifiable']).toContain(verdict.kind);
        },
      ),
      RUNS,
    );
  });
});
