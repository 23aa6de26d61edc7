import type { Facts } from '../src/facts/types.js';
import { loadCredentials } from '../src/host/systemd.js';
import { parseSecretKey } from '../src/nix/keys.js';
import type { Finding, HostCheck } from '../src/runner/check.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';

/** Server step 2: the key pair from nix-store --generate-binary-cache-key — present, private, and which public key clients need. */
export const signingKey: HostCheck = {
  id: 'signing-key',
  title: 'Cache signing key',
  scope: 'host',
  reads: ['systemd'],
  async run(facts) {
    const files = await keyFiles(facts);
    if (files.length === 0) {
      if (!facts.run.server)
        return skip('not a cache server here (no secret key file configured; use --server to check one)', 'not a server');
      return warn('this cache server has no signing key: clients with require-sigs = true (the default) will not use what it serves', {
        fix: 'nix-store --generate-binary-cache-key $(hostname)-1 /var/secrets/cache-priv-key.pem /var/secrets/cache-pub-key.pem\nchmod 600 /var/secrets/cache-priv-key.pem\nNixOS: services.nix-serve.secretKeyFile = "/var/secrets/cache-priv-key.pem";',
      });
    }
    const findings = await Promise.all(files.map((f) => checkKeyFile(facts, f.path, f.from)));
    const worst =
      findings.find((f) => f.status === 'fail') ??
      findings.find((f) => f.status === 'warn') ??
      findings.find((f) => f.status === 'skip') ??
      findings[0]!;
    if (findings.length === 1) return worst;
    return { ...worst, detail: findings.map((f) => `${f.status}: ${f.summary}`).join('\n'), data: { keys: findings.map((f) => f.data) } };
  },
};

async function keyFiles(facts: Facts): Promise<{ path: string; from: string }[]> {
  const out: { path: string; from: string }[] = [];
  const add = (path: string | undefined, from: string) => {
    if (path && !out.some((o) => o.path === path)) out.push({ path, from });
  };
  add(facts.run.secretKeyFile, '--secret-key-file');
  for (const item of facts.config.settings.list('secret-key-files')) add(item.value, `secret-key-files in ${item.origin.file}`);
  const sd = await facts.systemd();
  if (sd.available) {
    for (const unit of sd.units) {
      // `systemctl show` prints LoadCredential as "[unprintable]" on recent systemd: the unit file says it.
      let credential = loadCredentials(unit.LoadCredential).NIX_SECRET_KEY_FILE;
      if (!credential && unit.Id) credential = loadCredentials(await facts.unitFile(unit.Id)).NIX_SECRET_KEY_FILE;
      add(credential, `${unit.Id} LoadCredential`);
      const env = /NIX_SECRET_KEY_FILE=(\S+)/.exec(unit.Environment ?? '')?.[1];
      // %d/NIX_SECRET_KEY_FILE is the credential above, copied under /run/credentials while the unit runs.
      if (!(credential && env?.startsWith('/run/credentials/'))) add(env, `${unit.Id} Environment`);
    }
  }
  return out;
}

async function checkKeyFile(facts: Facts, path: string, from: string): Promise<Finding> {
  const key = await facts.secretKey(path);
  const base = { file: path, from };
  if (key.kind === 'missing')
    return fail(`the secret key file ${path} (${from}) does not exist`, {
      fix: `nix-store --generate-binary-cache-key NAME-1 ${path} ${path}.pub && chmod 600 ${path}`,
      data: base,
    });
  if (key.kind === 'unreadable') {
    if (key.code === 'EACCES')
      return skip(`cannot read ${path} as ${facts.env.user}: reading the secret key needs root; run with sudo`, 'needs root', {
        data: base,
      });
    return fail(`cannot read the secret key file ${path}: ${key.message}`, {
      fix: `The cache server signs nothing it cannot read: check the file and its directory (ls -l ${path}) and the setting that names it.`,
      data: base,
    });
  }
  const st = key.stat;
  const parsed = parseSecretKey(key.text);
  if (!parsed.ok)
    return fail(`${path} is not a Nix secret key: ${parsed.error.message}`, {
      fix: `Regenerate it: nix-store --generate-binary-cache-key NAME-1 ${path} ${path}.pub`,
      data: base,
    });
  const { publicKey } = parsed.value;
  const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
  const data = { ...base, keyName: publicKey.name, publicKey: publicKey.text, mode };
  const trusted = facts.config.trustedKeys.keys.find((k) => k.name === publicKey.name);
  const notes: string[] = [];
  if (trusted && trusted.text !== publicKey.text) {
    notes.push(
      `This machine's trusted-public-keys has ${trusted.text} under the same name, but this secret key's public key is ${publicKey.text}: one of them was regenerated.`,
    );
  }
  if (st.mode & 0o077) {
    return warn(`the secret key ${path} has mode ${mode}: other users can read it and sign as ${publicKey.name}`, {
      detail: [`Public key (for clients' trusted-public-keys): ${publicKey.text}`, ...notes].join('\n'),
      fix: `chmod 600 ${path} && chown root:root ${path}`,
      data,
    });
  }
  if (notes.length)
    return warn(`signs as ${publicKey.name}, but this machine trusts another key under that name`, {
      detail: notes.join('\n'),
      fix: `Put ${publicKey.text} in trusted-public-keys (NixOS: nix.settings.trusted-public-keys).`,
      data,
    });
  return pass(`${path} (mode ${mode}) signs as ${publicKey.name}; clients need the public key ${publicKey.text}`, {
    fix: `On clients: extra-trusted-public-keys = ${publicKey.text}  (NixOS: nix.settings.trusted-public-keys = [ "${publicKey.text}" ];)`,
    data,
  });
}
