import { parseContentAddress } from './content-address.js';
import { parseHash } from './hash.js';
import { err, ok, type Result } from './result.js';
import { parseBaseName, parseStorePath, type StorePath } from './store-path.js';

export interface NarInfo {
  storePath: StorePath;
  url: string;
  compression: string;
  fileHash?: string;
  fileSize?: number;
  narHash: string;
  narSize: number;
  /** Base names, as written in the file. */
  references: string[];
  deriver?: string;
  sigs: string[];
  ca?: string;
  system?: string;
  /** Fields Nix does not know, kept in order. */
  unknown: { key: string; value: string; line: number }[];
}

/**
 * Parses a `.narinfo` as nar-info.cc does; a missing required field or a bad value is the
 * error Nix reports as "NAR info file '…' is corrupt", here with the line that is wrong.
 */
export function parseNarInfo(text: string, storeDir = '/nix/store'): Result<NarInfo> {
  if (/^\s*</.test(text)) return err('html', 'the answer is an HTML page, not a narinfo');
  const fields = new Map<string, { value: string; line: number }>();
  const sigs: string[] = [];
  const unknown: NarInfo['unknown'] = [];
  // Field by field exactly as nar-info.cc reads them (Nix 2.8): the name runs to the next ':', the
  // value from two characters after it to the next '\n'. So a CR stays in the value (a CRLF file's
  // StorePath has an illegal character), and a last line without '\n' makes the file corrupt.
  let pos = 0;
  let lineNo = 1;
  while (pos < text.length) {
    const colon = text.indexOf(':', pos);
    if (colon < 0) return err('malformed', `NAR info is corrupt: line ${lineNo} is not a 'Key: value' field`, lineNo);
    const eol = text.indexOf('\n', colon + 2);
    if (eol < 0) return err('no-final-newline', `NAR info is corrupt: line ${lineNo} does not end in a newline`, lineNo);
    const key = text.slice(pos, colon);
    const value = text.slice(colon + 2, eol);
    if (key === 'Sig') sigs.push(value);
    else if (KNOWN.has(key)) {
      if ((key === 'CA' || key === 'References') && fields.has(key) && (key === 'CA' || fields.get(key)?.value.trim()))
        return err('duplicate-field', `NAR info is corrupt: ${key} is given twice`, lineNo);
      fields.set(key, { value, line: lineNo });
    } else unknown.push({ key, value, line: lineNo });
    lineNo += text.slice(pos, eol + 1).split('\n').length - 1;
    pos = eol + 1;
  }

  const need = (key: string) => fields.get(key);
  const storePathField = need('StorePath');
  if (!storePathField) return err('missing-field', 'NAR info is corrupt: no StorePath field');
  const storePath = parseStorePath(storePathField.value, storeDir);
  if (!storePath.ok) return err(storePath.error.code, storePath.error.message, storePathField.line);
  const url = need('URL');
  if (!url || url.value === '') return err('missing-field', 'NAR info is corrupt: no URL field');
  const narHash = need('NarHash');
  if (!narHash) return err('missing-field', 'NAR info is corrupt: no NarHash field');
  const parsedHash = parseHash(narHash.value);
  if (!parsedHash.ok) return err('bad-nar-hash', parsedHash.error.message, narHash.line);
  const narSize = need('NarSize');
  if (!narSize) return err('missing-field', 'NAR info is corrupt: no NarSize field');
  if (!/^\d+$/.test(narSize.value) || Number(narSize.value) === 0) {
    return err('bad-nar-size', `NarSize '${narSize.value}' is not a positive integer`, narSize.line);
  }

  const references: string[] = [];
  const refs = need('References');
  for (const ref of (refs?.value ?? '').split(' ').filter(Boolean)) {
    const checked = parseBaseName(ref);
    if (!checked.ok) return err('bad-reference', `reference ${checked.error.message}`, refs?.line);
    references.push(ref);
  }
  // nar-info.cc parses CA: on reading (parseContentAddressOpt): one Nix cannot read fails the look-up.
  const ca = need('CA');
  const parsedCa = ca && ca.value !== '' ? parseContentAddress(ca.value) : undefined;
  if (parsedCa && !parsedCa.ok) return err('bad-ca', `CA: ${parsedCa.error.message}`, ca?.line);
  const fileSize = need('FileSize');
  if (fileSize && !/^\d+$/.test(fileSize.value))
    return err('bad-file-size', `FileSize '${fileSize.value}' is not an integer`, fileSize.line);

  const info: NarInfo = {
    storePath: storePath.value,
    url: url.value,
    compression: need('Compression')?.value || 'bzip2',
    narHash: narHash.value,
    narSize: Number(narSize.value),
    references,
    sigs,
    unknown,
  };
  const optional: [keyof NarInfo, string][] = [
    ['fileHash', 'FileHash'],
    ['deriver', 'Deriver'],
    ['ca', 'CA'],
    ['system', 'System'],
  ];
  for (const [prop, key] of optional) {
    const f = need(key);
    if (f && f.value !== '' && f.value !== 'unknown-deriver') (info as unknown as Record<string, unknown>)[prop] = f.value;
  }
  if (fileSize) info.fileSize = Number(fileSize.value);
  return ok(info);
}

const KNOWN = new Set([
  'StorePath',
  'URL',
  'Compression',
  'FileHash',
  'FileSize',
  'NarHash',
  'NarSize',
  'References',
  'Deriver',
  'CA',
  'System',
]);
