import { loadCredentials } from '../src/host/systemd.js';
import { parseSecretKey } from '../src/nix/keys.js';
import { fail, pass, skip, warn } from '../src/runner/finding.js';
import { systemdState } from '../src/runner/server.js';
import type { Check, CheckContext, Finding } from '../src/runner/types.js';

/** Server step 2: the key pair from nix-store --generate-binary-cache-key — present, private, and which public key clients need. */
export const signingKey: Check = {
  id: 'signing-key',
  title: 'Cache signing key',
  scope: 'host',
  async run(ctx) {
    const files = await keyFiles(ctx);
    const server = ctx.options.server || ctx.caches.some((c) => c.role === 'server');
    if (files.length === 0) {
      if (!server) return skip('not a cache server here (no secret key file configured; use --server to check one)', 'not a server');
      return warn('this cache server has no signing key: clients with require-sigs = true (the default) will not use what it serves', {
        fix: 'nix-store --generate-binary-cache-key $(hostname)-1 /var/secrets/cache-priv-key.pem /var/secrets/cache-pub-key.pem\nchmod 600 /var/secrets/cache-priv-key.pem\nNixOS: services.nix-serve.secretKeyFile = "/var/secrets/cache-priv-key.pem";',
      });
    }
    const findings = await Promise.all(files.map((f) => checkKeyFile(ctx, f.path, f.from)));
    const worst =
      findings.find((f) => f.status === 'fail') ??
      findings.find((f) => f.status === 'warn') ??
      findings.find((f) => f.status === 'skip') ??
      findings[0]!;
    if (findings.length === 1) return worst;
    return { ...worst, detail: findings.map((f) => `${f.status}: ${f.summary}`).join('\n'), data: { keys: findings.map((f) => f.data) } };
  },
};

async function keyFiles(ctx: CheckContext): Promise<{ path: string; from: string }[]> {
  const out: { path: string; from: string }[] = [];
  const add = (path: string | undefined, from: string) => {
    if (path && !out.some((o) => o.path === path)) out.push({ path, from });
  };
  add(ctx.options.secretKeyFile, '--secret-key-file');
  for (const item of ctx.config.settings.list('secret-key-files')) add(item.value, `secret-key-files in ${item.origin.file}`);
  const sd = await systemdState(ctx);
  if (sd.available) {
    for (const unit of sd.units) {
      let credential = loadCredentials(unit.LoadCredential).NIX_SECRET_KEY_FILE;
      if (!credential) {
        const cat = await ctx.exec('systemctl', ['cat', unit.Id as string, '--no-pager']);
        if (cat.exitCode === 0) credential = loadCredentials(cat.stdout).NIX_SECRET_KEY_FILE;
      }
      add(credential, `${unit.Id} LoadCredential`);
      const env = /NIX_SECRET_KEY_FILE=(\S+)/.exec(unit.Environment ?? '')?.[1];
      // %d/NIX_SECRET_KEY_FILE is the credential above, copied under /run/credentials while the unit runs.
      if (!(credential && env?.startsWith('/run/credentials/'))) add(env, `${unit.Id} Environment`);
    }
  }
  return out;
}

async function checkKeyFile(ctx: CheckContext, path: string, from: string): Promise<Finding> {
  const st = await ctx.fs.stat(path);
  const base = { file: path, from };
  if (!st)
    return fail(`the secret key file ${path} (${from}) does not exist`, {
      fix: `nix-store --generate-binary-cache-key NAME-1 ${path} ${path}.pub && chmod 600 ${path}`,
      data: base,
    });
  const r = await ctx.fs.readText(path, 4096);
  if (!r.ok) {
    if (r.code === 'EACCES')
      return skip(`cannot read ${path} as ${ctx.env.user}: reading the secret key needs root; run with sudo`, 'needs root', { data: base });
    return fail(`cannot read the secret key file ${path}: ${r.message}`, { data: base });
  }
  // Registered before anything else: nothing below may let the secret reach an output.
  ctx.secret(r.text.trim());
  ctx.secret(r.text.trim().split(':')[1] ?? '');
  const parsed = parseSecretKey(r.text);
  if (!parsed.ok)
    return fail(`${path} is not a Nix secret key: ${parsed.error.message}`, {
      fix: `Regenerate it: nix-store --generate-binary-cache-key NAME-1 ${path} ${path}.pub`,
      data: base,
    });
  const { publicKey } = parsed.value;
  const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
  const data = { ...base, keyName: publicKey.name, publicKey: publicKey.text, mode };
  const trusted = ctx.config.trustedKeys.keys.find((k) => k.name === publicKey.name);
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
