import { describe, expect, it } from 'vitest';
import { trust } from '../../../checks/trust.js';
import type { Facts } from '../../../src/facts/types.js';
import { EffectiveSettings } from '../../../src/nix/config.js';
import { NIXOS_CACHE, NIXOS_CACHE_KEY } from '../../../src/nix/settings.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';

/** The trust check (step 2): what the nix-daemon does with an untrusted user's settings. */

const SYSTEM = '/etc/nix/nix.conf';
const USER = '/home/alice/.config/nix/nix.conf';
const EXTRA = 'https://cache.example.org';
const EXTRA_KEY = 'cache.example.org-1:7bV6xvGkD1v0sGxWm2vS7bIh3g1mYl7u7uX2bGZ0J2c=';
const SYSTEM_CONF = `substituters = ${NIXOS_CACHE}\ntrusted-public-keys = ${NIXOS_CACHE_KEY}\ntrusted-users = root @wheel\n`;

const untrusted: World['env'] = { multiUser: true, trustedUser: false };
const run = (facts: Facts) => trust.run(facts, fakeResults());
const check = (world: World) => run(fakeFacts(world).facts);

describe('trust check: users whose settings the daemon applies', () => {
  it('passes a single-user install, whatever the user nix.conf adds', async () => {
    const f = await check({ conf: SYSTEM_CONF, userConf: `extra-substituters = ${EXTRA}\n`, env: { multiUser: false } });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe('single-user install (no nix-daemon socket): Nix applies every setting as alice gives it');
    expect(f.data).toMatchObject({ user: 'alice', multiUser: false });
  });

  it('passes a trusted user of a multi-user install, quoting trusted-users from the system nix.conf', async () => {
    const f = await check({
      conf: `${SYSTEM_CONF}extra-trusted-users = alice\n`,
      userConf: `extra-substituters = ${EXTRA}\nextra-trusted-public-keys = ${EXTRA_KEY}\n`,
      env: { multiUser: true, trustedUser: true },
    });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'alice is a trusted user of the nix-daemon (trusted-users = root @wheel alice): substituters and keys from any nix.conf apply',
    );
    expect(f.data).toMatchObject({ multiUser: true, trusted: true, trustedUsers: ['root', '@wheel', 'alice'] });
    expect(f.data).not.toHaveProperty('ignoredSubstituters');
  });

  it('does not count trusted-users from the user nix.conf, which the daemon never reads', async () => {
    const f = await check({
      conf: SYSTEM_CONF,
      userConf: 'extra-trusted-users = alice\n',
      env: { multiUser: true, trustedUser: true },
    });
    expect(f.data).toMatchObject({ trustedUsers: ['root', '@wheel'] });
    expect(f.summary).toContain('(trusted-users = root @wheel)');
  });
});

describe('trust check: an untrusted user of a multi-user install', () => {
  it('passes when every substituter and key comes from the system nix.conf', async () => {
    const f = await check({ conf: SYSTEM_CONF, env: untrusted });
    expect(f.status).toBe('pass');
    expect(f.summary).toBe(
      'alice is not a trusted user, but every substituter and key comes from the system nix.conf or trusted-substituters',
    );
    expect(f.data).toMatchObject({ trusted: false, ignoredSubstituters: [], ignoredKeys: [] });
  });

  it("passes a user's extra substituter that trusted-substituters lists, even with a trailing slash there", async () => {
    const f = await check({
      conf: `${SYSTEM_CONF}trusted-substituters = ${EXTRA}/\n`,
      userConf: `extra-substituters = ${EXTRA}\n`,
      env: untrusted,
    });
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ ignoredSubstituters: [] });
  });

  it("passes a user's extra substituter that the daemon's own substituters already list", async () => {
    const f = await check({ conf: SYSTEM_CONF, userConf: `extra-substituters = ${NIXOS_CACHE}\n`, env: untrusted });
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ ignoredSubstituters: [] });
  });

  it("fails when an untrusted user's substituter is not in trusted-substituters, naming the Nix warning and the fix lines", async () => {
    const f = await check({ conf: SYSTEM_CONF, userConf: `extra-substituters = ${EXTRA}\n`, env: untrusted });
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      `the nix-daemon ignores substituter '${EXTRA}': alice is not in trusted-users and it is not in trusted-substituters`,
    );
    expect(f.detail).toBe(`Nix prints: warning: ignoring untrusted substituter '${EXTRA}' (set at ${USER}:1)`);
    const fix = f.fix?.split('\n') ?? [];
    expect(fix).toContain(`Either let users add these caches — in ${SYSTEM}: trusted-substituters = ${EXTRA}`);
    expect(fix).toContain(`  NixOS: nix.settings.trusted-substituters = [ "${EXTRA}" ];`);
    expect(fix).toContain(
      `Or make alice trusted — ${SYSTEM}: trusted-users = root alice  (NixOS: nix.settings.trusted-users = [ "root" "alice" ];) — which is root-equivalent.`,
    );
    expect(fix.at(-1)).toBe('Then restart the daemon: systemctl restart nix-daemon.');
    expect(f.fix).not.toContain('trusted-public-keys');
    expect(f.data).toMatchObject({ ignoredSubstituters: [{ url: EXTRA, at: `${USER}:1` }], ignoredKeys: [] });
  });

  it('counts further ignored substituters in the summary and lists them all in the trusted-substituters fix', async () => {
    const f = await check({
      conf: SYSTEM_CONF,
      userConf: `extra-substituters = ${EXTRA} https://nix-community.cachix.org\n`,
      env: untrusted,
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toBe(
      `the nix-daemon ignores substituter '${EXTRA}' (+1 more): alice is not in trusted-users and it is not in trusted-substituters`,
    );
    expect(f.fix).toContain(`trusted-substituters = ${EXTRA} https://nix-community.cachix.org`);
    expect(f.fix).toContain(`nix.settings.trusted-substituters = [ "${EXTRA}" "https://nix-community.cachix.org" ];`);
  });

  it('fails on an ignored substituter even when keys are ignored too, giving both fixes', async () => {
    const f = await check({
      conf: SYSTEM_CONF,
      userConf: `extra-substituters = ${EXTRA}\nextra-trusted-public-keys = ${EXTRA_KEY}\n`,
      env: untrusted,
    });
    expect(f.status).toBe('fail');
    expect(f.summary).toContain(`ignores substituter '${EXTRA}'`);
    expect(f.fix).toContain(`trusted-substituters = ${EXTRA}`);
    expect(f.fix).toContain(`Put the keys in the system config — ${SYSTEM}: extra-trusted-public-keys = ${EXTRA_KEY}`);
  });

  it("warns, naming the Nix warning, when only an untrusted user's trusted-public-keys are ignored", async () => {
    const f = await check({
      conf: `${SYSTEM_CONF}trusted-substituters = ${EXTRA}\n`,
      userConf: `extra-substituters = ${EXTRA}\nextra-trusted-public-keys = ${EXTRA_KEY}\n`,
      env: untrusted,
    });
    expect(f.status).toBe('warn');
    expect(f.summary).toBe(`the nix-daemon ignores trusted-public-keys from ${USER}:2: alice is not in trusted-users`);
    expect(f.detail).toBe(
      `Nix prints: warning: ignoring the client-specified setting 'trusted-public-keys', because it is a restricted setting and you are not a trusted user (key cache.example.org-1 set at ${USER}:2)`,
    );
    const fix = f.fix?.split('\n') ?? [];
    expect(fix).toContain(`Put the keys in the system config — ${SYSTEM}: extra-trusted-public-keys = ${EXTRA_KEY}`);
    expect(fix).toContain(`  NixOS: nix.settings.trusted-public-keys = [ "${EXTRA_KEY}" ];`);
    expect(f.fix).toContain('trusted-users = root alice');
    expect(f.fix).not.toContain('trusted-substituters =');
    expect(f.data).toMatchObject({ ignoredSubstituters: [], ignoredKeys: [{ key: EXTRA_KEY, at: `${USER}:2` }] });
  });

  it('treats a substituter from NIX_CONFIG as client-side, like the user nix.conf', async () => {
    const f = fakeFacts({ conf: SYSTEM_CONF, env: untrusted });
    const settings = new EffectiveSettings([
      { name: 'substituters', value: NIXOS_CACHE, origin: { file: SYSTEM, line: 1, level: 'system' } },
      { name: 'extra-substituters', value: EXTRA, origin: { file: 'NIX_CONFIG', line: 1, level: 'env' } },
    ]);
    const r = await run({ ...f.facts, config: { ...f.facts.config, settings } });
    expect(r.status).toBe('fail');
    expect(r.detail).toContain(`ignoring untrusted substituter '${EXTRA}' (set at NIX_CONFIG:1)`);
  });

  it('treats a key from NIX_CONFIG as client-side, warning that the daemon ignores it', async () => {
    const f = fakeFacts({ conf: SYSTEM_CONF, env: untrusted });
    const settings = new EffectiveSettings([
      { name: 'substituters', value: NIXOS_CACHE, origin: { file: SYSTEM, line: 1, level: 'system' } },
      { name: 'trusted-public-keys', value: NIXOS_CACHE_KEY, origin: { file: SYSTEM, line: 2, level: 'system' } },
      { name: 'extra-trusted-public-keys', value: EXTRA_KEY, origin: { file: 'NIX_CONFIG', line: 1, level: 'env' } },
    ]);
    const r = await run({ ...f.facts, config: { ...f.facts.config, settings } });
    expect(r.status).toBe('warn');
    expect(r.summary).toBe('the nix-daemon ignores trusted-public-keys from NIX_CONFIG:1: alice is not in trusted-users');
    expect(r.data).toMatchObject({ ignoredKeys: [{ key: EXTRA_KEY, at: 'NIX_CONFIG:1' }] });
  });

  it('writes the fixes into the nix.conf the daemon reads', async () => {
    const f = fakeFacts({ conf: SYSTEM_CONF, userConf: `extra-substituters = ${EXTRA}\n`, env: untrusted });
    const r = await run({ ...f.facts, config: { ...f.facts.config, systemFile: '/etc/nix-custom/nix.conf' } });
    expect(r.fix).toContain(`in /etc/nix-custom/nix.conf: trusted-substituters = ${EXTRA}`);
    expect(r.fix).toContain('/etc/nix-custom/nix.conf: trusted-users = root alice');
  });
});

describe('trust check: a user nix.conf that replaces a list instead of extending it (the daemon keeps its own)', () => {
  it('does not call the daemon’s own substituter ignored when the user file repeats it with plain substituters =', async () => {
    const f = await check({ conf: SYSTEM_CONF, userConf: `substituters = ${NIXOS_CACHE} ${EXTRA}\n`, env: untrusted });
    expect(f.status).toBe('fail');
    expect(f.data).toMatchObject({ ignoredSubstituters: [{ url: EXTRA }], trustedUsers: ['root', '@wheel'] });
    expect(f.summary).toContain(`ignores substituter '${EXTRA}'`);
    expect(f.summary).not.toContain('(+1 more)');
  });

  it('does not call a key ignored when the system nix.conf trusts it too', async () => {
    const f = await check({ conf: SYSTEM_CONF, userConf: `trusted-public-keys = ${NIXOS_CACHE_KEY}\n`, env: untrusted });
    expect(f.status).toBe('pass');
    expect(f.data).toMatchObject({ ignoredKeys: [] });
  });
});

describe('trust check: a single-user install whose store this user cannot write', () => {
  const store = { directories: { '/nix/store': ['abc-hello'] } };

  it('fails when the user cannot write the store, naming the owner and mode and both ways out', async () => {
    const f = await check({ conf: SYSTEM_CONF, env: { multiUser: false, user: 'nobody', root: false }, script: store });
    expect(f.status).toBe('fail');
    expect(f.summary).toMatch(
      /^single-user install \(no nix-daemon socket\), but nobody cannot write \/nix\/store \(uid 0, gid 0, mode 755\)/,
    );
    expect(f.fix).toContain('NIX_REMOTE=daemon');
    expect(f.fix).toContain('sudo chown -R nobody /nix');
    expect(f.data).toMatchObject({ storeWritable: false });
  });

  it('passes when the user may write the store, and for root', async () => {
    const writable = await check({ conf: SYSTEM_CONF, env: { multiUser: false }, script: { ...store, writable: ['/nix/store'] } });
    expect(writable.status).toBe('pass');
    const root = await check({ conf: SYSTEM_CONF, env: { multiUser: false, root: true, user: 'root' }, script: store });
    expect(root.status).toBe('pass');
  });
});
