/**
 * Redaction happens once, on the finished report, before any renderer sees it: every string in
 * it is scrubbed of the secrets collected during the run and of secret-shaped patterns.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (!secret) return;
    const s = secret.trim();
    // Very short values would blank out ordinary words; they are still covered by the patterns.
    if (s.length >= 4) this.secrets.add(s);
    try {
      const decoded = decodeURIComponent(s);
      if (decoded !== s && decoded.length >= 4) this.secrets.add(decoded);
      const encoded = encodeURIComponent(s);
      if (encoded !== s) this.secrets.add(encoded);
    } catch {
      // not URI-encoded: nothing more to add
    }
  }

  string(text: string): string {
    let out = text;
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
    return redactPatterns(out);
  }

  deep<T>(value: T): T {
    if (typeof value === 'string') return this.string(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.deep(v);
      return out as T;
    }
    return value;
  }
}

/**
 * Secret shapes that need no registration, found by their structure wherever they stand (a URL in
 * an error message, a netrc line, a broken nix.conf line quoted back): the password of a URL up to
 * the last '@' of its authority; query values named like credentials; netrc `password` values,
 * quoted ones too; every value on a line that names access-tokens, however malformed the line;
 * Authorization headers.
 */
export function redactPatterns(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:'"]*):[^\s?#]*@/gi, '$1:***@')
    .replace(/([?&][^=&\s#'"]*?(?:pass|token|secret|auth|key|sig|credential|session)[^=&\s#'"]*=)[^&\s#'"]*/gi, '$1***')
    .replace(/(\bpassword\s+)("(?:[^"\\\n]|\\.)*"?|\S+)/g, '$1***')
    .replace(
      /(\baccess-tokens\b)(.*)$/gm,
      (_m, head: string, rest: string) =>
        head + rest.replace(/(^|\s)(?!=(?:\s|$))([^\s=]*=)?(\S+)/g, (_t, sp: string, name: string | undefined) => `${sp}${name ?? ''}***`),
    )
    .replace(/(Authorization:\s*\w+\s+)\S+/gi, '$1***');
}
