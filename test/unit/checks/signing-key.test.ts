import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signingKey } from '../../../checks/signing-key.js';
import type { Finding } from '../../../src/runner/check.js';
import { fakeFacts, fakeResults, type World } from '../../helpers/facts.js';
import { FIXTURES, KEYS } from '../../helpers/servers.js';

/** The signing-key check over the real key pairs in fixtures/keys (made by nix-store --generate-binary-cache-key). */

const read = (name: string) => readFileSync(join(KEYS, name), 'utf8');
const LAN_SECRET = read('lan.sec').trim();
/** The secret half alone: base64 of seed + public key, what must never be printed. */
const LAN_SECRET_MATERIAL = LAN_SECRET.split(':')[1] as string;
const LAN_PUBLIC = read('lan.pub').trim();
const LAN_REGEN_PUBLIC = read('lan-regen.pub').trim();
const BACKUP_SECRET = read('backup.sec').trim();
const BACKUP_PUBLIC = read('backup.pub').trim();

const KEY_FILE = '/var/secrets/cache-priv-key.pem';

async function check(world: World) {
  const fake = fakeFacts(world);
  const finding = await signingKey.run(fake.facts, fakeResults());
  return { finding, ...fake };
}

/** The key file at KEY_FILE given with --secret-key-file, as a file with MODE. */
const keyWorld = (text: string, mode = 0o600, extra: World = {}): World => ({
  ...extra,
  run: { server: true, secretKeyFile: KEY_FILE, ...extra.run },
  script: { ...extra.script, files: { ...extra.script?.files, [KEY_FILE]: { text: `${text}\n`, mode } } },
});

const neverShowsSecret = (finding: Finding, secret = LAN_SECRET_MATERIAL) => {
  expect(JSON.stringify(finding)).not.toContain(secret);
};

describe('signing-key check: whether there is a key to look at', () => {
  it('skips when no secret key file is configured and this is not a cache server', async () => {
    const { finding } = await check({ conf: 'substituters = https://cache.nixos.org\n' });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('not a server');
    expect(finding.summary).toContain('use --server to check one');
  });

  it('warns a cache server without a signing key, with the commands to make one', async () => {
    const { finding } = await check({ run: { server: true } });
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('this cache server has no signing key');
    expect(finding.summary).toContain('require-sigs = true');
    expect(finding.fix).toContain('nix-store --generate-binary-cache-key $(hostname)-1 /var/secrets/cache-priv-key.pem');
    expect(finding.fix).toContain('chmod 600 /var/secrets/cache-priv-key.pem');
    expect(finding.fix).toContain('services.nix-serve.secretKeyFile');
  });

  it('finds the key named by secret-key-files in nix.conf even without --server', async () => {
    const { finding } = await check({
      conf: `secret-key-files = ${KEY_FILE}\n`,
      script: { files: { [KEY_FILE]: { text: LAN_SECRET, mode: 0o600 } } },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ file: KEY_FILE, from: 'secret-key-files in /etc/nix/nix.conf' });
  });

  it('finds the key in the Environment of a running nix-serve unit (recorded systemctl show)', async () => {
    const path = '/opt/nixcache-rec/secrets/cache-priv-key.pem';
    const { finding } = await check({
      run: { server: true },
      script: {
        exec: { 'systemctl show': readFileSync(join(FIXTURES, 'host', 'systemctl-show-nix-serve-active.txt'), 'utf8') },
        files: { '/run/systemd/system': { directory: true }, [path]: { text: LAN_SECRET, mode: 0o400 } },
      },
    });
    expect(finding.status).toBe('pass');
    expect(finding.data).toMatchObject({ file: path, from: 'nix-serve.service Environment', mode: '400' });
  });
});

describe('signing-key check: reading the key file', () => {
  it('fails when the secret key file does not exist, with the command that creates it', async () => {
    const { finding } = await check({ run: { server: true, secretKeyFile: KEY_FILE } });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe(`the secret key file ${KEY_FILE} (--secret-key-file) does not exist`);
    expect(finding.fix).toBe(`nix-store --generate-binary-cache-key NAME-1 ${KEY_FILE} ${KEY_FILE}.pub && chmod 600 ${KEY_FILE}`);
    expect(finding.data).toEqual({ file: KEY_FILE, from: '--secret-key-file' });
  });

  it('skips, saying it needs root, when the key file cannot be read for lack of permission', async () => {
    const { finding, secrets } = await check({
      run: { server: true, secretKeyFile: KEY_FILE },
      script: { files: { [KEY_FILE]: { text: LAN_SECRET, mode: 0o600, error: 'EACCES' } } },
    });
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('needs root');
    expect(finding.summary).toBe(`cannot read ${KEY_FILE} as alice: reading the secret key needs root; run with sudo`);
    expect(finding.data).toEqual({ file: KEY_FILE, from: '--secret-key-file' });
    expect(secrets).toEqual([]);
  });

  it('fails on any other error reading the key file, quoting it', async () => {
    const { finding } = await check({
      run: { server: true, secretKeyFile: KEY_FILE },
      script: { files: { [KEY_FILE]: { text: LAN_SECRET, mode: 0o600, error: 'EIO' } } },
    });
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe(`cannot read the secret key file ${KEY_FILE}: '${KEY_FILE}' cannot be read (EIO)`);
    expect(finding.data).toEqual({ file: KEY_FILE, from: '--secret-key-file' });
  });

  it.each([
    ['text without a name', 'not a key at all', "has no 'name:' prefix"],
    ['a public key', LAN_PUBLIC, "secret key 'lan-cache-1' is 32 bytes, not 64"],
    [
      'a secret key whose public half is not its seed’s',
      `lan-cache-1:${Buffer.concat([Buffer.from(LAN_SECRET_MATERIAL, 'base64').subarray(0, 32), Buffer.from(BACKUP_PUBLIC.split(':')[1] as string, 'base64')]).toString('base64')}`,
      'its public half does not match its seed',
    ],
  ])('fails when the file holds %s, which is not a Nix secret key', async (_what, text, message) => {
    const { finding } = await check(keyWorld(text));
    expect(finding.status).toBe('fail');
    expect(finding.summary).toContain(`${KEY_FILE} is not a Nix secret key:`);
    expect(finding.summary).toContain(message);
    expect(finding.fix).toBe(`Regenerate it: nix-store --generate-binary-cache-key NAME-1 ${KEY_FILE} ${KEY_FILE}.pub`);
    expect(finding.data).toEqual({ file: KEY_FILE, from: '--secret-key-file' });
  });
});

describe('signing-key check: the key itself', () => {
  it('passes a private key, naming the public key clients need', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET));
    expect(finding.status).toBe('pass');
    expect(finding.summary).toBe(`${KEY_FILE} (mode 600) signs as lan-cache-1; clients need the public key ${LAN_PUBLIC}`);
    expect(finding.fix).toContain(`On clients: extra-trusted-public-keys = ${LAN_PUBLIC}`);
    expect(finding.fix).toContain(`nix.settings.trusted-public-keys = [ "${LAN_PUBLIC}" ]`);
    expect(finding.data).toEqual({ file: KEY_FILE, from: '--secret-key-file', keyName: 'lan-cache-1', publicKey: LAN_PUBLIC, mode: '600' });
  });

  it('passes when this machine trusts exactly the key it signs with', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o600, { conf: `trusted-public-keys = ${LAN_PUBLIC}\n` }));
    expect(finding.status).toBe('pass');
  });

  it('warns a key other users can read (mode 644), with chmod 600 as the fix and the public key in the detail', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o644));
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe(`the secret key ${KEY_FILE} has mode 644: other users can read it and sign as lan-cache-1`);
    expect(finding.fix).toBe(`chmod 600 ${KEY_FILE} && chown root:root ${KEY_FILE}`);
    expect(finding.detail).toBe(`Public key (for clients' trusted-public-keys): ${LAN_PUBLIC}`);
    expect(finding.data).toMatchObject({ mode: '644', publicKey: LAN_PUBLIC });
  });

  it('warns a key readable by its group only (mode 640)', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o640));
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('has mode 640');
  });

  it('warns when this machine trusts another key under the same name: one of them was regenerated', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o600, { conf: `trusted-public-keys = ${LAN_REGEN_PUBLIC}\n` }));
    expect(finding.status).toBe('warn');
    expect(finding.summary).toBe('signs as lan-cache-1, but this machine trusts another key under that name');
    expect(finding.detail).toContain(`trusted-public-keys has ${LAN_REGEN_PUBLIC} under the same name`);
    expect(finding.detail).toContain(`this secret key's public key is ${LAN_PUBLIC}: one of them was regenerated`);
    expect(finding.fix).toBe(`Put ${LAN_PUBLIC} in trusted-public-keys (NixOS: nix.settings.trusted-public-keys).`);
  });

  it('reports a readable mode first, keeping the name clash in the detail', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o644, { conf: `trusted-public-keys = ${LAN_REGEN_PUBLIC}\n` }));
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain('has mode 644');
    expect(finding.fix).toContain('chmod 600');
    expect(finding.detail).toContain('one of them was regenerated');
  });
});

describe('signing-key check: the secret stays secret', () => {
  it.each([
    ['passes', 0o600, ''],
    ['warns on the mode', 0o644, ''],
    ['warns on a regenerated trusted key', 0o600, `trusted-public-keys = ${LAN_REGEN_PUBLIC}\n`],
  ])('registers the secret and never prints it when it %s', async (_verdict, mode, conf) => {
    const { finding, secrets, evidence } = await check(keyWorld(LAN_SECRET, mode, { conf }));
    neverShowsSecret(finding);
    expect(finding.summary + (finding.detail ?? '') + (finding.fix ?? '')).not.toContain(LAN_SECRET_MATERIAL.slice(0, 20));
    expect(secrets).toContain(LAN_SECRET);
    expect(secrets).toContain(LAN_SECRET_MATERIAL);
    expect(JSON.stringify(evidence)).not.toContain(LAN_SECRET_MATERIAL);
  });
});

describe('signing-key check: several key files', () => {
  const SECOND = '/etc/nix/backup-key.sec';

  it('reports the worst finding and lists every key in the detail and data', async () => {
    const { finding, secrets } = await check(
      keyWorld(LAN_SECRET, 0o600, {
        conf: `secret-key-files = ${SECOND} /etc/nix/gone.sec\n`,
        script: { files: { [SECOND]: { text: BACKUP_SECRET, mode: 0o644 } } },
      }),
    );
    expect(finding.status).toBe('fail');
    expect(finding.summary).toBe('the secret key file /etc/nix/gone.sec (secret-key-files in /etc/nix/nix.conf) does not exist');
    expect(finding.detail?.split('\n')).toEqual([
      `pass: ${KEY_FILE} (mode 600) signs as lan-cache-1; clients need the public key ${LAN_PUBLIC}`,
      `warn: the secret key ${SECOND} has mode 644: other users can read it and sign as backup-cache-1`,
      'fail: the secret key file /etc/nix/gone.sec (secret-key-files in /etc/nix/nix.conf) does not exist',
    ]);
    expect(finding.data).toEqual({
      keys: [
        expect.objectContaining({ file: KEY_FILE, keyName: 'lan-cache-1' }),
        expect.objectContaining({ file: SECOND, keyName: 'backup-cache-1', mode: '644' }),
        { file: '/etc/nix/gone.sec', from: 'secret-key-files in /etc/nix/nix.conf' },
      ],
    });
    neverShowsSecret(finding);
    neverShowsSecret(finding, BACKUP_SECRET.split(':')[1]);
    expect(secrets).toEqual(expect.arrayContaining([LAN_SECRET_MATERIAL, BACKUP_SECRET.split(':')[1]]));
  });

  it('prefers a warning over a skip and a pass', async () => {
    const { finding } = await check(
      keyWorld(LAN_SECRET, 0o600, {
        conf: `secret-key-files = /root/locked.sec ${SECOND}\n`,
        script: { files: { '/root/locked.sec': { mode: 0o600, error: 'EACCES' }, [SECOND]: { text: BACKUP_SECRET, mode: 0o644 } } },
      }),
    );
    expect(finding.status).toBe('warn');
    expect(finding.summary).toContain(`the secret key ${SECOND} has mode 644`);
    expect(finding.detail).toContain('skip: cannot read /root/locked.sec as alice');
    expect(finding.detail).toContain(`pass: ${KEY_FILE} (mode 600)`);
  });

  it('prefers a skip over a pass, so an unreadable key is not hidden behind a good one', async () => {
    const { finding } = await check(
      keyWorld(LAN_SECRET, 0o600, {
        conf: 'secret-key-files = /root/locked.sec\n',
        script: { files: { '/root/locked.sec': { mode: 0o600, error: 'EACCES' } } },
      }),
    );
    expect(finding.status).toBe('skip');
    expect(finding.reason).toBe('needs root');
    expect(finding.detail).toBe(
      [
        `pass: ${KEY_FILE} (mode 600) signs as lan-cache-1; clients need the public key ${LAN_PUBLIC}`,
        'skip: cannot read /root/locked.sec as alice: reading the secret key needs root; run with sudo',
      ].join('\n'),
    );
  });

  it('looks at a file named both by --secret-key-file and in nix.conf once', async () => {
    const { finding } = await check(keyWorld(LAN_SECRET, 0o600, { conf: `secret-key-files = ${KEY_FILE}\n` }));
    expect(finding.status).toBe('pass');
    expect(finding.detail).toBeUndefined();
    expect(finding.data).toMatchObject({ from: '--secret-key-file' });
  });
});
