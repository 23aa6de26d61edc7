import { NIX_BASE32_CHARS } from './base32.js';
import { err, ok, type Result } from './result.js';

export const DEFAULT_STORE_DIR = '/nix/store';
const HASH_RE = new RegExp(`^[${NIX_BASE32_CHARS}]{32}$`);
const NAME_RE = /^[A-Za-z0-9+\-._?=]+$/;

export interface StorePath {
  storeDir: string;
  hashPart: string;
  name: string;
  baseName: string;
}

/** Checks a store path's base name as Nix's `StorePath` constructor does. */
export function parseBaseName(baseName: string): Result<{ hashPart: string; name: string }> {
  if (baseName.length < 34 || baseName[32] !== '-') {
    return err('bad-store-path', `'${baseName.slice(0, 80)}' is not a store path base name (hash-name)`);
  }
  const hashPart = baseName.slice(0, 32);
  const name = baseName.slice(33);
  if (!HASH_RE.test(hashPart)) return err('bad-hash-part', `'${hashPart}' is not a valid store path hash`);
  if (name.length > 211) return err('bad-name', `store path name is longer than 211 characters`);
  if (name.startsWith('.')) return err('bad-name', `store path name '${name}' starts with a dot`);
  if (!NAME_RE.test(name)) return err('bad-name', `store path name '${name.slice(0, 80)}' has characters Nix does not allow`);
  return ok({ hashPart, name });
}

export function parseStorePath(path: string, storeDir = DEFAULT_STORE_DIR): Result<StorePath> {
  const prefix = `${storeDir.replace(/\/+$/, '')}/`;
  if (!path.startsWith(prefix)) return err('not-in-store', `'${path.slice(0, 120)}' is not in the Nix store ${storeDir}`);
  const rest = path.slice(prefix.length);
  const baseName = rest.split('/')[0] as string;
  const parsed = parseBaseName(baseName);
  if (!parsed.ok) return parsed;
  return ok({ storeDir: prefix.slice(0, -1), baseName, ...parsed.value });
}
