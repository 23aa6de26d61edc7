import { formatHashBase32, parseHash } from './hash.js';
import type { NarInfo } from './narinfo.js';
import { err, ok, type Result } from './result.js';

/**
 * The string a narinfo's signatures sign (path-info.cc `ValidPathInfo::fingerprint`):
 * `1;<store path>;<sha256 NarHash in base 32>;<NarSize>;<sorted full reference paths, comma-separated>`.
 */
export function fingerprint(info: NarInfo): Result<string> {
  const hash = parseHash(info.narHash);
  if (!hash.ok) return hash;
  if (hash.value.algo !== 'sha256') {
    return err('not-sha256', `cannot fingerprint a NarHash that is not SHA-256 ('${info.narHash.slice(0, 40)}')`);
  }
  const dir = info.storePath.storeDir;
  const refs = [...info.references].sort(compareBytes).map((r) => `${dir}/${r}`);
  return ok(`1;${dir}/${info.storePath.baseName};${formatHashBase32(hash.value)};${info.narSize};${refs.join(',')}`);
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
