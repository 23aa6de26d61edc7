import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { fingerprint } from './fingerprint.js';
import { type PublicKey, parseSignature } from './keys.js';
import type { NarInfo } from './narinfo.js';
import { type SignatureVerdict, signerNames } from './signatures.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * classifySignatures for many narinfos: the same verdicts (a signature counts when it verifies with
 * a trusted key of the same name), with each key parsed once and the Ed25519 checks run on libuv's
 * thread pool, so that a closure of 10,000 narinfos is verified on every core while the look-ups
 * go on. A signer no trusted key is named after costs no cryptography at all.
 */
export function createSignatureVerifier(trusted: readonly PublicKey[]): (info: NarInfo) => Promise<SignatureVerdict> {
  const keys = new Map<string, { name: string; object: KeyObject | undefined }[]>();
  for (const k of trusted) {
    let object: KeyObject | undefined;
    try {
      object = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, k.key]), format: 'der', type: 'spki' });
    } catch {
      object = undefined;
    }
    keys.set(k.name, [...(keys.get(k.name) ?? []), { name: k.name, object }]);
  }
  const check = (message: Buffer, key: KeyObject, sig: Buffer) =>
    new Promise<boolean>((resolve) => {
      try {
        verify(null, message, key, sig, (error, ok) => resolve(!error && ok));
      } catch {
        resolve(false);
      }
    });
  return async (info) => {
    const signedBy = signerNames(info.sigs);
    if (info.sigs.length === 0) return { kind: 'unsigned' };
    const candidates = info.sigs.map(parseSignature).flatMap((s) => (s.ok && keys.has(s.value.keyName) ? [s.value] : []));
    if (candidates.length === 0) return { kind: 'untrusted', signedBy };
    const fp = fingerprint(info);
    if (!fp.ok) return { kind: 'unverifiable', reason: fp.error.message, signedBy };
    const message = Buffer.from(fp.value, 'utf8');
    const tried: string[] = [];
    for (const sig of candidates) {
      for (const key of keys.get(sig.keyName) ?? []) {
        if (key.object && (await check(message, key.object, sig.sig))) return { kind: 'valid', key: key.name, signedBy };
        tried.push(key.name);
      }
    }
    return { kind: 'mismatch', keys: [...new Set(tried)], signedBy };
  };
}
