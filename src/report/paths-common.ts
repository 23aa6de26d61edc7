import { DEFAULT_TTLS } from '../nix/disk-cache.js';
import { SCHEMA_VERSION, VERSION } from '../version.js';
import { escapeInline } from './markdown.js';
import { deep, displayText, jsonSafe } from './sanitize.js';
import { clip } from './text.js';

/** What `why` and `coverage` documents say about the machine, for a reader of the JSON or a ticket. */
export interface PathsEnvironment {
  nixVersion: string | null;
  user: string;
  multiUser: boolean;
  trustedUser: boolean | null;
  storeDir: string;
  requireSigs: boolean;
  fallback: boolean;
  configFiles: string[];
}

/** Nix's narinfo disk cache as the run read it. */
export interface DiskCacheSummary {
  state: 'read' | 'absent' | 'unreadable';
  path: string | null;
  /** Whose it is: the daemon's (root) or this user's. */
  owner: string;
  message: string | null;
  ttls: { negative: number; positive: number };
}

/** A cache as why/coverage list it. */
export interface PathsCacheEntry {
  url: string;
  order: number;
  priority: number;
  prioritySource: 'url' | 'cache-info' | 'default';
  used: boolean;
  unusedReason: string | null;
}

/** An argument that named nothing to look up. */
export interface ArgumentProblem {
  argument: string;
  message: string;
}

/**
 * The longest line of any one value the table and the Markdown show, as the doctor's table cuts its
 * lines: a cache that sends a 50,000-character `Sig:` key name or detail is no screenful. The JSON
 * keeps every value whole.
 */
export const MAX_SHOWN_LINE = 1000;

/** One value as shown: through the shared sanitiser, each of its lines cut to MAX_SHOWN_LINE with the count of what was cut. */
export function shownText(text: string): string {
  const safe = displayText(text);
  if (safe.length <= MAX_SHOWN_LINE) return safe;
  return safe
    .split('\n')
    .map((line) => clip(line, MAX_SHOWN_LINE))
    .join('\n');
}

/** Every string of VALUE as shownText shows it: what the table and the Markdown show. */
export function forDisplayDeep<T>(value: T): T {
  return deep(value, shownText);
}

/** How a why or coverage document begins: its schema and kind, the tool, this moment, then what the run took and read. */
export function documentHead<K extends 'why' | 'coverage'>(
  kind: K,
  run: { durationMs: number; environment: PathsEnvironment; diskCache: DiskCacheSummary },
) {
  return {
    schemaVersion: SCHEMA_VERSION,
    kind,
    tool: { name: 'nixcache' as const, version: VERSION },
    generatedAt: new Date().toISOString(),
    ...run,
  };
}

/**
 * How a why or coverage document begins when no run could look anything up (bad arguments, a
 * crash): the environment unknown, Nix's disk cache not read (Nix's default TTLs).
 */
export function unreadDocumentHead<K extends 'why' | 'coverage'>(kind: K) {
  const environment: PathsEnvironment = {
    nixVersion: null,
    user: process.env.USER ?? 'unknown',
    multiUser: false,
    trustedUser: null,
    storeDir: '/nix/store',
    requireSigs: true,
    fallback: false,
    configFiles: [],
  };
  const diskCache: DiskCacheSummary = { state: 'absent', path: null, owner: 'unknown', message: null, ttls: { ...DEFAULT_TTLS } };
  return documentHead(kind, { durationMs: 0, environment, diskCache });
}

/** The JSON contract: exact strings, nothing a terminal would act on. */
export function renderDocument(doc: unknown): string {
  return `${jsonSafe(JSON.stringify(doc, null, 2))}\n`;
}

/** The Markdown section listing the arguments a why/coverage run could not look up. */
export function argumentErrorsMarkdown(errors: readonly ArgumentProblem[]): string[] {
  if (errors.length === 0) return [];
  return ['## Arguments not looked up', '', ...errors.map((e) => `- ${escapeInline(e.argument)}: ${escapeInline(e.message)}`), ''];
}
