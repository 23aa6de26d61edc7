import { importModule } from '../system/modules.js';
import type { Check, Finding } from './check.js';

/**
 * Loads `--plugin` modules: each exports a check, an array of them, or `checks`, under the same
 * contract as the built-in ones. A module that does not is a usage error (PROBLEM's message).
 */
export async function loadPlugins(
  specs: readonly string[],
  builtin: readonly Check[],
  problem: (message: string) => Error,
): Promise<Check[]> {
  const out: Check[] = [];
  const taken = new Set(builtin.map((c) => c.id));
  for (const spec of specs) {
    const imported = await importModule(spec);
    if (!imported.ok) throw problem(`--plugin ${spec}: ${imported.why}`);
    const exported = imported.module.checks ?? imported.module.default ?? imported.module.check;
    for (const candidate of Array.isArray(exported) ? exported : [exported]) {
      const check = asCheck(candidate);
      if (!check) throw problem(`--plugin ${spec}: does not export a check ({ id: 'kebab-case', title, scope: 'host' | 'cache', run })`);
      if (taken.has(check.id)) throw problem(`--plugin ${spec}: check id '${check.id}' is already taken`);
      taken.add(check.id);
      out.push(check);
    }
  }
  return out;
}

const ids = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;

/** A plugin's export as a Check, or undefined when it is not one. */
function asCheck(c: unknown): Check | undefined {
  if (!c || typeof c !== 'object') return undefined;
  const id: unknown = Reflect.get(c, 'id');
  const run: unknown = Reflect.get(c, 'run');
  const scope: unknown = Reflect.get(c, 'scope');
  const title: unknown = Reflect.get(c, 'title');
  if (typeof id !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id) || typeof run !== 'function') return undefined;
  const needs = ids(Reflect.get(c, 'needs'));
  const uses = ids(Reflect.get(c, 'uses'));
  const base = {
    id,
    title: typeof title === 'string' ? title : id,
    ...(needs ? { needs } : {}),
    ...(uses ? { uses } : {}),
  };
  // The plugin's own function, called with the contract's arguments; what it returns is validated by the runner.
  const call = (...args: unknown[]): Promise<Finding> => Promise.resolve(Reflect.apply(run, c, args));
  if (scope === 'host') return { ...base, scope, run: (facts, results) => call(facts, results) };
  if (scope === 'cache') return { ...base, scope, run: (facts, cache, results) => call(facts, cache, results) };
  return undefined;
}
