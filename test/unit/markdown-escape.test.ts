import { describe, expect, it } from 'vitest';
import { renderCoverageMarkdown } from '../../src/report/coverage.js';
import { escapeInline } from '../../src/report/markdown.js';
import { unreadDocumentHead } from '../../src/report/paths-common.js';
import { renderWhyMarkdown } from '../../src/report/why.js';

/** What a cache, a file or an argument could put in a Markdown report, one line of prose each. */
const HOSTILE = 'x <img src=y> &lt;b&gt; [link](http://evil) *em*\n# injected';

describe('Markdown escaping, one escaper for the doctor, why and coverage reports', () => {
  it('keeps text on one line, shows HTML and entities as text, and escapes links, emphasis and headings', () => {
    expect(escapeInline(HOSTILE)).toBe('x &lt;img src=y&gt; &amp;lt;b&amp;gt; \\[link\\](http://evil) \\*em\\* \\# injected');
  });

  it('escapes an argument of why and coverage the same way', () => {
    const errors = [{ argument: HOSTILE, message: 'not a store path' }];
    const why = renderWhyMarkdown({
      ...unreadDocumentHead('why'),
      caches: [],
      paths: [],
      errors,
      summary: { valid: 0, substitute: 0, build: 0 },
      complete: true,
    });
    const coverage = renderCoverageMarkdown({
      ...unreadDocumentHead('coverage'),
      closure: true,
      roots: [],
      paths: 0,
      available: 0,
      caches: [],
      missing: [],
      holes: [],
      errors,
      requests: { total: 0, retries: 0, rateLimited: 0 },
      complete: true,
    });
    for (const md of [why, coverage]) {
      expect(md).toContain(`- ${escapeInline(HOSTILE)}: not a store path`);
      expect(md).not.toMatch(/^# injected/m);
    }
  });
});
