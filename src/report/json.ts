import type { Report } from './model.js';
import { jsonSafe } from './sanitize.js';

/** The JSON contract: the exact strings, with nothing in the text that a terminal would act on. */
export function renderJson(report: Report): string {
  return [...renderJsonChunks(report)].join('');
}

/** Results per piece of text: a report of 10,000 caches is written piece by piece, never as one string. */
const CHECKS_PER_CHUNK = 500;

/**
 * The same document as `JSON.stringify(report, null, 2)`, in pieces: the checks, which grow with
 * the number of caches, a few hundred at a time.
 */
export function* renderJsonChunks(report: Report): Generator<string> {
  const entries = Object.entries(report);
  yield '{\n';
  for (const [i, [key, value]] of entries.entries()) {
    const comma = i < entries.length - 1 ? ',' : '';
    if (key === 'checks' && Array.isArray(value) && value.length > 0) {
      yield `  ${JSON.stringify(key)}: [\n`;
      for (let start = 0; start < value.length; start += CHECKS_PER_CHUNK) {
        const last = start + CHECKS_PER_CHUNK >= value.length;
        // Stringified at the depth they stand in the document, so JSON.stringify indents them itself.
        const nested = JSON.stringify({ checks: value.slice(start, start + CHECKS_PER_CHUNK) }, null, 2);
        const items = nested.slice(nested.indexOf('[') + 2, nested.lastIndexOf(']') - 3);
        yield jsonSafe(`${items}${last ? '\n' : ',\n'}`);
      }
      yield `  ]${comma}\n`;
    } else {
      const nested = JSON.stringify({ [key]: value }, null, 2);
      yield jsonSafe(`${nested.slice(2, nested.length - 2)}${comma}\n`);
    }
  }
  yield '}\n';
}
