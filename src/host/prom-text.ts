/**
 * The Prometheus text exposition format (version 0.0.4), as another program serves it: untrusted
 * input, read within fixed bounds. Comments and malformed lines are skipped and counted, never fatal.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  samples: Sample[];
  /** Lines that were neither a comment nor a sample (or too long to look at). */
  skipped: number;
  /** The input held more samples than MAXSAMPLES; the rest were not read. */
  truncated: boolean;
}

export interface ExpositionLimits {
  maxLineLength: number;
  maxSamples: number;
  maxLabels: number;
}

const DEFAULT_LIMITS: ExpositionLimits = { maxLineLength: 16 * 1024, maxSamples: 100_000, maxLabels: 32 };
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseExposition(text: string, limits: Partial<ExpositionLimits> = {}): ParsedExposition {
  const { maxLineLength, maxSamples, maxLabels } = { ...DEFAULT_LIMITS, ...limits };
  const samples: Sample[] = [];
  let skipped = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const length = end - start;
    if (length > maxLineLength) skipped++;
    else {
      const line = text.slice(start, end).trim();
      if (line !== '' && !line.startsWith('#')) {
        const sample = parseSampleLine(line, maxLabels);
        if (sample) {
          if (samples.length >= maxSamples) return { samples, skipped, truncated: true };
          samples.push(sample);
        } else skipped++;
      }
    }
    start = end + 1;
  }
  return { samples, skipped, truncated: false };
}

/** One `name{label="value",…} value [timestamp]` line, or undefined when it is not one. */
export function parseSampleLine(line: string, maxLabels = DEFAULT_LIMITS.maxLabels): Sample | undefined {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) return undefined;
  let i = name.length;
  const labels: Record<string, string> = Object.create(null);
  let count = 0;
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const labelName = LABEL_NAME.exec(line.slice(i, i + 256))?.[0];
      if (!labelName || ++count > maxLabels) return undefined;
      i += labelName.length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else return undefined;
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
      labels[labelName] = value;
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') return undefined;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || line[i] === undefined || !/\s/.test(line[i] as string)) return undefined;
  const value = parseValue(rest[0] as string);
  if (value === undefined) return undefined;
  if (rest.length === 2 && !/^-?\d{1,19}$/.test(rest[1] as string)) return undefined;
  return { name, labels: { ...labels }, value };
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}
