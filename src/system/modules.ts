import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Imports a module named by a path (relative to the working directory) or a package name. */
export async function importModule(spec: string): Promise<{ ok: true; module: Record<string, unknown> } | { ok: false; why: string }> {
  let url: string;
  try {
    const local = spec.startsWith('.') || isAbsolute(spec) || /\.[cm]?js$/.test(spec);
    if (local && !existsSync(resolve(spec))) throw new Error('missing');
    url = local ? pathToFileURL(resolve(spec)).href : pathToFileURL(createRequire(`${process.cwd()}/`).resolve(spec)).href;
  } catch {
    return { ok: false, why: 'cannot find that module' };
  }
  try {
    const module: Record<string, unknown> = { ...(await import(url)) };
    return { ok: true, module };
  } catch (e) {
    return { ok: false, why: `loading it failed: ${String(e instanceof Error ? e.message : e).split('\n')[0]}` };
  }
}
