import type { Report } from './model.js';
import { jsonSafe } from './sanitize.js';

/** The JSON contract: the exact strings, with nothing in the text that a terminal would act on. */
export function renderJson(report: Report): string {
  return `${jsonSafe(JSON.stringify(report, null, 2))}\n`;
}
