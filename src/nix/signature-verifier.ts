import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { contentAddressing } from './content-address.js';
import { fingerprint } from './fingerprint.js';
import { type PublicKey, parseSignature, type Signature } from './keys.js';
import type { NarInfo } from './narinfo.js';
import { type SignatureVerdict, signerNames } from './signatures.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 check of MESSAGE (UTF-8) with trusted key number KEYINDEX; false for a key Node cannot load. */
export type Ed25519Check = (message: string, keyIndex: number, sig: Buffer) => Promise<boolean>;

/** Verdicts remembered per signed narinfo (fingerprint and Sig: lines): the same narinfo on two caches is checked once. */
const MAX_REMEMBERED = 200_000;

/** Ed25519 checks with TRUSTED's keys, each parsed once, run on libuv's thread pool. */
export function ed25519Checker(trusted: readonly PublicKey[]): Ed25519Check {
  const objects: (KeyObject | undefined)[] = trusted.map((k) => {
    try {
      return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, k.key]), format: 'der', type: 'spki' });
    } catch {
      return undefined;
    }
  });
  return (message, keyIndex, sig) =>
    new Promise<boolean>((resolve) => {
      const key = objects[keyIndex];
      if (!key) return resolve(false);
      try {
        verify(null, Buffer.from(message, 'utf8'), key, sig, (error, ok) => resolve(!error && ok));
      } catch {
        resolve(false);
      }
    });
}

/**
 * classifySignatures for many narinfos: the same verdicts (a content-addressed path needs no
 * signature; otherwise a signature counts when it verifies with a trusted key of the same name), with the Ed25519 checks run off the main thread by CHECK (libuv's
 * pool by default), so that a closure of 10,000 narinfos is verified while the look-ups go on.
 * (Batches on worker threads were tried: each check waits for its batch, the look-ups stall behind
 * them, and 10,001 paths took 1.14 s instead of 1.04 s.) A signer no trusted key is named after costs
 * no cryptography at all, and with REMEMBER a narinfo seen before (the same file on a mirror) costs
 * none either.
 */
export function createSignatureVerifier(
  trusted: readonly PublicKey[],
  check: Ed25519Check = ed25519Checker(trusted),
  /** Remember verdicts (worth it with several caches: one cache never serves a narinfo twice). */
  remember = true,
): (info: NarInfo) => Promise<SignatureVerdict> {
  const keys = new Map<string, { name: string; index: number }[]>();
  trusted.forEach((k, index) => {
    keys.set(k.name, [...(keys.get(k.name) ?? []), { name: k.name, index }]);
  });
  const classify = async (info: NarInfo, candidates: readonly Signature[], message: string): Promise<SignatureVerdict> => {
    const signedBy = signerNames(info.sigs);
    const tried: string[] = [];
    for (const sig of candidates) {
      for (const key of keys.get(sig.keyName) ?? []) {
        if (await check(message, key.index, sig.sig)) return { kind: 'valid', key: key.name, signedBy };
        tried.push(key.name);
      }
    }
    return { kind: 'mismatch', keys: [...new Set(tried)], signedBy };
  };
  const remembered = new Map<string, Promise<SignatureVerdict>>();
  return async (info) => {
    const ca = contentAddressing(info);
    if (ca.kind === 'verified') return { kind: 'content-addressed', ca: ca.ca, signedBy: signerNames(info.sigs) };
    if (info.sigs.length === 0) return { kind: 'unsigned' };
    const candidates: Signature[] = [];
    for (const text of info.sigs) {
      const s = parseSignature(text);
      if (s.ok && keys.has(s.value.keyName)) candidates.push(s.value);
    }
    if (candidates.length === 0) return { kind: 'untrusted', signedBy: signerNames(info.sigs) };
    const fp = fingerprint(info);
    if (!fp.ok) return { kind: 'unverifiable', reason: fp.error.message, signedBy: signerNames(info.sigs) };
    if (!remember) return classify(info, candidates, fp.value);
    const id = `${fp.value}\n${info.sigs.join('\n')}`;
    const known = remembered.get(id);
    if (known) return known;
    const verdict = classify(info, candidates, fp.value);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(id, verdict);
    return verdict;
  };
}
