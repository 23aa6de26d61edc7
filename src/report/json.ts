import type { Report } from './model.js';
import { jsonSafe } from './sanitize.js';

/**
 * Array items per piece of text: a report of 10,000 caches is written piece by piece, never as one
 * string, and each piece stays under V8's large-object size (strings above ~128 KB live in the old
 * generation until a full collection: hundreds of them grew the heap by 100 MB).
 */
const ITEMS_PER_CHUNK = 50;

/**
 * The JSON contract — the exact strings, with nothing in the text that a terminal would act on —
 * the same document as `JSON.stringify(report, null, 2)`, in pieces: the checks, which grow with
 * the number of caches, a few hundred at a time.
 */
export function* renderJsonChunks(report: Report): Generator<string> {
  const entries = Object.entries(report);
  yield '{\n';
  for (const [i, [key, value]] of entries.entries()) {
    const comma = i < entries.length - 1 ? ',' : '';
    if (Array.isArray(value) && value.length > ITEMS_PER_CHUNK) {
      // checks, caches, fixFirst: the lists that grow with the number of caches.
      yield `  ${JSON.stringify(key)}: [\n`;
      for (let start = 0; start < value.length; start += ITEMS_PER_CHUNK) {
        const last = start + ITEMS_PER_CHUNK >= value.length;
        // Stringified at the depth they stand in the document, so JSON.stringify indents them itself.
        const nested = JSON.stringify({ [key]: value.slice(start, start + ITEMS_PER_CHUNK) }, null, 2);
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
