import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { err, ok, type Result } from './result.js';

/** DER prefixes that wrap a raw 32-byte Ed25519 key for node:crypto (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface PublicKey {
  name: string;
  key: Buffer;
  /** `name:base64`, as written in trusted-public-keys. */
  text: string;
}

export interface SecretKey {
  name: string;
  /** Derived from the seed, so a corrupt file is caught. */
  publicKey: PublicKey;
}

function splitNamed(text: string, what: string): Result<{ name: string; data: Buffer }> {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  if (colon <= 0) return err('no-name', `${what} has no 'name:' prefix`);
  const name = trimmed.slice(0, colon);
  const b64 = trimmed.slice(colon + 1);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return err('bad-base64', `${what} '${name}' is not valid base64`);
  return ok({ name, data: Buffer.from(b64, 'base64') });
}

/** Parses `name:base64(32 bytes)`; Nix says "key is corrupt" for anything else. */
export function parsePublicKey(text: string): Result<PublicKey> {
  const parsed = splitNamed(text, 'public key');
  if (!parsed.ok) return parsed;
  const { name, data } = parsed.value;
  if (data.length !== 32) return err('bad-length', `public key '${name}' is ${data.length} bytes, not 32 (key is corrupt)`);
  return ok({ name, key: data, text: `${name}:${data.toString('base64')}` });
}

/** Parses a secret key file's content, `name:base64(64 bytes)`: seed then public key, as libsodium stores it. */
export function parseSecretKey(text: string): Result<SecretKey> {
  const parsed = splitNamed(text, 'secret key');
  if (!parsed.ok) return parsed;
  const { name, data } = parsed.value;
  if (data.length !== 64) return err('bad-length', `secret key '${name}' is ${data.length} bytes, not 64 (key is corrupt)`);
  const derived = publicFromSeed(data.subarray(0, 32));
  if (!derived.equals(data.subarray(32))) {
    return err('inconsistent', `secret key '${name}' is corrupt: its public half does not match its seed`);
  }
  return ok({ name, publicKey: { name, key: derived, text: `${name}:${derived.toString('base64')}` } });
}

function publicFromSeed(seed: Buffer): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return Buffer.from(spki.subarray(spki.length - 32));
}

export interface Signature {
  keyName: string;
  sig: Buffer;
}

/** Parses a `Sig:` value, `keyname:base64(64 bytes)`. */
export function parseSignature(text: string): Result<Signature> {
  const parsed = splitNamed(text, 'signature');
  if (!parsed.ok) return parsed;
  if (parsed.value.data.length !== 64)
    return err('bad-length', `signature by '${parsed.value.name}' is ${parsed.value.data.length} bytes, not 64`);
  return ok({ keyName: parsed.value.name, sig: parsed.value.data });
}

/** Ed25519 check of MESSAGE, as Nix's crypto.cc `verifyDetached` with one key. */
export function verifySignature(message: string, signature: Signature, key: PublicKey): boolean {
  try {
    const pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key.key]), format: 'der', type: 'spki' });
    return verify(null, Buffer.from(message, 'utf8'), pub, signature.sig);
  } catch {
    return false;
  }
}
