import { contentAddressing } from './content-address.js';
import { fingerprint } from './fingerprint.js';
import { type PublicKey, parsePublicKey, parseSignature, verifySignature } from './keys.js';
import type { NarInfo } from './narinfo.js';

export type SignatureVerdict =
  /** A signature verifies with a trusted key of the same name. */
  | { kind: 'valid'; key: string; signedBy: string[] }
  /**
   * Its `CA:` recomputes to its store path: Nix 2.8 accepts it whoever signed it, or nobody
   * (`checkSignatures` returns maxSigs when `isContentAddressed` holds).
   */
  | { kind: 'content-addressed'; ca: string; signedBy: string[] }
  | { kind: 'unsigned' }
  /** Signed, but by no key name in trusted-public-keys. */
  | { kind: 'untrusted'; signedBy: string[] }
  /** A trusted key name signed it, but the signature does not verify: key regenerated, or narinfo altered. */
  | { kind: 'mismatch'; keys: string[]; signedBy: string[] }
  | { kind: 'unverifiable'; reason: string; signedBy: string[] };

export interface TrustedKeys {
  keys: PublicKey[];
  /** Entries of trusted-public-keys Nix would reject ("key is corrupt"). */
  invalid: { text: string; reason: string }[];
}

export function parseTrustedKeys(entries: readonly string[]): TrustedKeys {
  const keys: PublicKey[] = [];
  const invalid: TrustedKeys['invalid'] = [];
  for (const text of entries) {
    const parsed = parsePublicKey(text);
    if (parsed.ok) keys.push(parsed.value);
    else invalid.push({ text, reason: parsed.error.message });
  }
  return { keys, invalid };
}

/**
 * The key names a narinfo's Sig: lines name. Nix looks a signature's key up by the text before its
 * first colon, whatever follows (crypto.cc `verifyDetached`): a malformed signature still names its signer.
 */
export function signerNames(sigs: readonly string[]): string[] {
  return [
    ...new Set(
      sigs.flatMap((s) => {
        const colon = s.trim().indexOf(':');
        return colon > 0 ? [s.trim().slice(0, colon)] : [];
      }),
    ),
  ];
}

/**
 * Decides, like `ValidPathInfo::checkSignatures` with one signature needed, whether Nix accepts INFO:
 * a content-addressed path needs none; anything else (a CA: that does not recompute too) needs one
 * that verifies.
 */
export function classifySignatures(info: NarInfo, trusted: readonly PublicKey[]): SignatureVerdict {
  const ca = contentAddressing(info);
  if (ca.kind === 'verified') return { kind: 'content-addressed', ca: ca.ca, signedBy: signerNames(info.sigs) };
  return verifySignatures(info, trusted);
}

/** INFO's Sig: lines alone against TRUSTED, whatever its CA: says. */
export function verifySignatures(info: NarInfo, trusted: readonly PublicKey[]): Exclude<SignatureVerdict, { kind: 'content-addressed' }> {
  const sigs = info.sigs.map(parseSignature).flatMap((s) => (s.ok ? [s.value] : []));
  const signedBy = signerNames(info.sigs);
  if (info.sigs.length === 0) return { kind: 'unsigned' };
  const fp = fingerprint(info);
  if (!fp.ok) return { kind: 'unverifiable', reason: fp.error.message, signedBy };
  const tried: string[] = [];
  for (const sig of sigs) {
    for (const key of trusted.filter((k) => k.name === sig.keyName)) {
      if (verifySignature(fp.value, sig, key)) return { kind: 'valid', key: key.name, signedBy };
      tried.push(key.name);
    }
  }
  if (tried.length > 0) return { kind: 'mismatch', keys: [...new Set(tried)], signedBy };
  return { kind: 'untrusted', signedBy };
}

/**
 * Key regenerated, or narinfo altered? OTHERS are the verdicts on other narinfos signed by the same
 * key names: if any verifies, the key is the one we trust and this file was changed; if none does,
 * the key changed. NARFILE says whether the NAR file still matches its FileHash.
 */
export function explainMismatch(
  others: readonly SignatureVerdict['kind'][],
  narFile: 'matches' | 'differs' | 'unchecked',
  keyNames: readonly string[],
): { summary: string; detail: string; data: { otherSamples: number; otherValid: number; narFile: string } } {
  const data = { otherSamples: others.length, otherValid: others.filter((v) => v === 'valid').length, narFile };
  const fileNote =
    narFile === 'matches'
      ? ' The NAR file it points to matches its FileHash.'
      : narFile === 'differs'
        ? ' The NAR file it points to does not match its FileHash either.'
        : '';
  if (data.otherValid > 0) {
    return {
      summary: `this narinfo was altered after signing (${data.otherValid} of ${others.length} other narinfos signed by the same key verify)`,
      detail: `The key you trust is the one the cache signs with, so the fields of this narinfo (NarHash, NarSize, References or StorePath) no longer match what was signed.${fileNote}`,
      data,
    };
  }
  if (others.length > 0) {
    return {
      summary: `the key was probably regenerated on the server under the same name (none of ${others.length + 1} narinfos verify)`,
      detail: `Every narinfo looked at is signed by '${keyNames.join(', ')}' with material that does not match the public key you trust.${fileNote}`,
      data,
    };
  }
  return {
    summary: 'either the key was regenerated on the server under the same name, or this narinfo was altered after signing',
    detail: `Only one narinfo could be looked at, so the two cannot be told apart here; pass another path with --sample.${fileNote}`,
    data,
  };
}
