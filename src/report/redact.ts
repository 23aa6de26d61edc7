/**
 * Redaction happens once, on the finished report, before any renderer sees it: every string in
 * it is scrubbed of the secrets collected during the run and of secret-shaped patterns.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  /** Every secret in one pattern, longest first; rebuilt after an add. One pass per string, however many secrets. */
  private pattern: RegExp | null | undefined;

  add(secret: string | undefined): void {
    if (!secret) return;
    this.pattern = undefined;
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
    if (this.pattern === undefined) {
      const sorted = [...this.secrets].sort((a, b) => b.length - a.length);
      this.pattern = sorted.length ? new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
    }
    return redactPatterns(this.pattern ? text.replace(this.pattern, '***') : text);
  }

  /**
   * Redacts every string of VALUE where it stands (no copy: a report of 10,000 caches is hundreds of
   * megabytes). For values built for this output only.
   */
  inPlace<T>(value: T): T {
    // Discovery's values are frozen (and shared): those are copied instead.
    if (value && typeof value === 'object' && Object.isFrozen(value)) return this.deep(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = typeof value[i] === 'string' ? this.string(value[i]) : this.inPlace(value[i]);
    } else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(record)) record[k] = typeof v === 'string' ? this.string(v) : this.inPlace(v);
    }
    return value;
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
  // Each shape needs a character or word most strings lack: a report of 10,000 caches holds
  // hundreds of thousands of strings, and these tests spare them five regular expressions.
  let out = text;
  if (out.includes('@') && out.includes('://')) out = out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:'"]*):[^\s?#]*@/gi, '$1:***@');
  if (out.includes('=') && (out.includes('?') || out.includes('&')))
    out = out.replace(/([?&][^=&\s#'"]*?(?:pass|token|secret|auth|key|sig|credential|session)[^=&\s#'"]*=)[^&\s#'"]*/gi, '$1***');
  if (out.includes('password')) out = out.replace(/(\bpassword\s+)("(?:[^"\\\n]|\\.)*"?|\S+)/g, '$1***');
  if (out.includes('access-tokens'))
    out = out.replace(
      /(\baccess-tokens\b)(.*)$/gm,
      (_m, head: string, rest: string) =>
        head + rest.replace(/(^|\s)(?!=(?:\s|$))([^\s=]*=)?(\S+)/g, (_t, sp: string, name: string | undefined) => `${sp}${name ?? ''}***`),
    );
  if (out.includes(':') && /authorization/i.test(out)) out = out.replace(/(Authorization:\s*\w+\s+)\S+/gi, '$1***');
  return out;
}
