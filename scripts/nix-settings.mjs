// Generates src/nix/setting-table.ts — the nix.conf settings of every Nix release the doctor knows
// (names, value types, aliases, the version each appeared in and the last version that had it) —
// from Nix's own sources. Reads a git clone of https://github.com/NixOS/nix (no build, no network):
//
//   node scripts/nix-settings.mjs /path/to/nix.git > src/nix/setting-table.ts && npx biome format --write src/nix/setting-table.ts
//   node scripts/nix-settings.mjs /path/to/nix.git --json   # the per-version sets, for inspection
//
// For each release tag (2.3, 2.4, 2.5.0 … the newest 2.N.0) it reads every C++ file under src/
// (tests excluded) and collects the declarations `Setting<T> x{this, default, "name", "doc",
// {"alias", …}}` (and PathSetting, MaxBuildJobsSetting, … — any `…Setting` type) inside the
// settings classes registered with GlobalConfig, i.e. not inside a store's config (`…StoreConfig`,
// whose settings are store URL parameters, not nix.conf settings). `#if __linux__` / `__APPLE__`
// blocks give a setting's platform. The output was checked against `nix show-config --json` of
// Nix 2.8 (Debian's nix-bin): same names and aliases on Linux (test/integration/nix-conf.test.ts asks the installed Nix again).
import { execFileSync } from 'node:child_process';

const repo = process.argv[2];
if (!repo) {
  process.stderr.write('usage: node scripts/nix-settings.mjs NIX_GIT_DIR [--json]\n');
  process.exit(2);
}
const git = (...args) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });

/** 2.0 … 2.4 (tagged without .0), then every 2.N.0. */
function releases() {
  const tags = new Set(git('tag').split('\n'));
  const out = ['2.0', '2.1', '2.2', '2.3', '2.4'].filter((t) => tags.has(t));
  for (let minor = 5; tags.has(`2.${minor}.0`); minor++) out.push(`2.${minor}.0`);
  return out;
}

/** C++ tokens: identifiers, string literals (adjacent ones joined), punctuation; preprocessor lines as their own tokens. */
function tokenize(src) {
  const tokens = [];
  let i = 0;
  let lineStart = true;
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (lineStart && c === '#') {
      let end = i;
      while (end < src.length && (src[end] !== '\n' || src[end - 1] === '\\')) end++;
      tokens.push({
        t: 'pp',
        v: src
          .slice(i + 1, end)
          .replace(/\\\n/g, ' ')
          .trim(),
      });
      i = end;
      continue;
    }
    lineStart = false;
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    const raw = /^R"([^(\s]*)\(/.exec(src.slice(i, i + 20));
    if (raw) {
      const close = `)${raw[1]}"`;
      const end = src.indexOf(close, i + raw[0].length);
      const text = src.slice(i + raw[0].length, end < 0 ? src.length : end);
      pushString(tokens, text);
      i = end < 0 ? src.length : end + close.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          text += src[j + 1] === 'n' ? '\n' : src[j + 1];
          j += 2;
        } else text += src[j++];
      }
      if (c === '"') pushString(tokens, text);
      else tokens.push({ t: 'char', v: text });
      i = j + 1;
      continue;
    }
    const ident = /^[A-Za-z_]\w*/.exec(src.slice(i, i + 200));
    if (ident) {
      tokens.push({ t: 'id', v: ident[0] });
      i += ident[0].length;
      continue;
    }
    const num = /^[0-9][\w.']*/.exec(src.slice(i, i + 50));
    if (num) {
      tokens.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const op = src.startsWith('::', i) ? '::' : c;
    tokens.push({ t: 'p', v: op });
    i += op.length;
  }
  return tokens;
}

function pushString(tokens, text) {
  const last = tokens[tokens.length - 1];
  if (last?.t === 'str') last.v += text;
  else tokens.push({ t: 'str', v: text });
}

/** Whether a preprocessor condition holds on PLATFORM (unknown macros are taken as defined). */
function holds(cond, platform) {
  const defined = { __linux__: platform === 'linux', __APPLE__: platform === 'darwin', _WIN32: false, __FreeBSD__: false };
  const expr = cond
    .replace(/defined\s*\(\s*(\w+)\s*\)/g, '$1')
    .replace(/defined\s+(\w+)/g, '$1')
    .replace(/\b[A-Za-z_]\w*\b/g, (m) => (m in defined ? String(defined[m]) : 'true'));
  if (!/^[\s()!&|truefals0-9]*$/.test(expr)) return true;
  try {
    return Boolean(Function(`return (${expr});`)());
  } catch {
    return true;
  }
}

/** Setting declarations in one file: { name, type, aliases, struct, platforms }. */
function declarations(src) {
  const tokens = tokenize(src);
  const out = [];
  const braces = []; // struct name or null, per open brace
  const conds = []; // [{ cond, negate }]
  let pendingStruct = null;
  const platformsNow = () => ['linux', 'darwin'].filter((p) => conds.every(({ cond, negate }) => holds(cond, p) !== negate));
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t === 'pp') {
      const m = /^(if|ifdef|ifndef|elif|else|endif)\b\s*(.*)$/.exec(tok.v);
      if (!m) continue;
      const [, kind, rest] = m;
      if (kind === 'if') conds.push({ cond: rest, negate: false });
      else if (kind === 'ifdef') conds.push({ cond: rest, negate: false });
      else if (kind === 'ifndef') conds.push({ cond: rest, negate: true });
      else if (kind === 'elif' && conds.length) conds[conds.length - 1] = { cond: rest, negate: false };
      else if (kind === 'else' && conds.length) conds[conds.length - 1].negate = !conds[conds.length - 1].negate;
      else if (kind === 'endif') conds.pop();
      continue;
    }
    if (tok.t === 'id' && (tok.v === 'struct' || tok.v === 'class') && tokens[k + 1]?.t === 'id') {
      pendingStruct = tokens[k + 1].v;
      continue;
    }
    if (tok.t === 'p' && tok.v === ';') pendingStruct = null;
    if (tok.t === 'p' && tok.v === '{') {
      const decl = settingAt(tokens, k);
      if (decl) {
        const struct = braces.filter(Boolean).at(-1) ?? null;
        out.push({ ...decl, struct, platforms: platformsNow() });
        k = decl.end;
        continue;
      }
      braces.push(pendingStruct);
      pendingStruct = null;
      continue;
    }
    if (tok.t === 'p' && tok.v === '}') braces.pop();
  }
  return out;
}

/** A `TYPE ident{this, …}` declaration whose `{` is at K, or undefined. */
function settingAt(tokens, k) {
  if (tokens[k - 1]?.t !== 'id' || tokens[k + 1]?.v !== 'this') return undefined;
  // Walk back over the type: `Setting<…>` or `…Setting` (template arguments balanced).
  let j = k - 2;
  const typeEnd = j;
  let depth = 0;
  if (tokens[j]?.v === '>') {
    for (; j >= 0; j--) {
      if (tokens[j].v === '>') depth++;
      else if (tokens[j].v === '<' && --depth === 0) break;
    }
    j--;
  }
  const head = tokens[j];
  if (head?.t !== 'id' || !/Setting$/.test(head.v)) return undefined;
  const typeText = tokens
    .slice(j, typeEnd + 1)
    .map((t) => t.v)
    .join(' ')
    .replace(/ ?([<>:,*&]) ?/g, '$1')
    .replace(/,/g, ', ')
    .replace(/^Setting<(.*)>$/, '$1');
  // Arguments, split at top-level commas.
  const args = [[]];
  let end = k + 1;
  depth = 0;
  for (; end < tokens.length; end++) {
    const t = tokens[end];
    if (t.t === 'pp') continue;
    if (t.t === 'p' && (t.v === '(' || t.v === '{' || t.v === '[')) depth++;
    if (t.t === 'p' && (t.v === ')' || t.v === '}' || t.v === ']')) {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && t.t === 'p' && t.v === ',') args.push([]);
    else args[args.length - 1].push(t);
  }
  const literal = (arg) => (arg?.length === 1 && arg[0].t === 'str' ? arg[0].v : undefined);
  const isName = (s) => s !== undefined && /^[a-z][a-z0-9-]*$/.test(s);
  const isDoc = (arg) => arg?.some((t) => t.t === 'str') && !isName(literal(arg));
  for (let a = 1; a + 1 < args.length; a++) {
    const name = literal(args[a]);
    if (!isName(name) || !isDoc(args[a + 1])) continue;
    const next = args[a + 2] ?? [];
    const aliases =
      next[0]?.v === '{' && next.at(-1)?.v === '}' && next.slice(1, -1).every((t) => t.t === 'str' || t.v === ',')
        ? next.filter((t) => t.t === 'str').map((t) => t.v)
        : [];
    return { name, typeText, kind: head.v, aliases, end };
  }
  return undefined;
}

/** The value type Nix parses a setting's nix.conf value as. */
function typeOf(kind, typeText) {
  if (kind === 'MaxBuildJobsSetting') return 'max-jobs';
  if (kind === 'PathSetting' || kind === 'OptionalPathSetting') return kind === 'PathSetting' ? 'path' : 'optional-path';
  if (kind === 'PluginFilesSetting') return 'strings';
  const t = typeText.replace(/\s+/g, ' ').trim();
  if (t === 'bool') return 'bool';
  if (/^(unsigned int|uint32_t|unsigned)$/.test(t)) return 'uint32';
  if (/^(size_t|uint64_t|unsigned long|unsigned long long)$/.test(t)) return 'uint64';
  if (/^(int|int32_t)$/.test(t)) return 'int32';
  if (/^(time_t|off_t|long|long long|int64_t|ssize_t)$/.test(t)) return 'int64';
  if (t === 'SandboxMode') return 'sandbox';
  if (/^(std::string|Path|std::optional<std::string>|std::optional<Path>)$/.test(t)) return 'string';
  if (t === 'AbsolutePath') return 'path';
  if (t === 'std::filesystem::path') return 'string';
  if (/^std::optional<(AbsolutePath|std::filesystem::path)>$/.test(t)) return 'optional-path';
  if (/^(Strings|Paths|std::list<std::string>|std::vector<std::string>)$/.test(t)) return 'strings';
  if (/^(StringSet|PathSet|std::set<std::string>)$/.test(t)) return 'set';
  if (/ExperimentalFeature/.test(t)) return 'features';
  if (t === 'StringMap' || /^std::map<std::string, ?std::string>$/.test(t)) return 'map';
  // Newer Nix (2.31+) parses these into their own types, but reads the words as before.
  if (t === 'std::vector<StoreReference>') return 'strings';
  if (t === 'std::set<StoreReference>' || t === 'PathsInChroot') return 'set';
  if (t === 'StoreReference') return 'string';
  // A set of paths that Nix does not let `extra-` append to (no appendable trait).
  if (t === 'std::set<std::filesystem::path>') return 'path-set';
  return 'other';
}

/** Configs whose settings are not nix.conf settings: stores' (URL parameters) and tests'. */
const NOT_GLOBAL = /Store\w*(Config|Impl)|Store$|Test|Mock/;

function settingsAt(tag) {
  const files = git('ls-tree', '-r', '--name-only', tag, '--', 'src')
    .split('\n')
    .filter((f) => /\.(hh|cc|h|cpp)$/.test(f) && !/(^|\/)tests?\/|-tests\/|\/unit-test|test-support/.test(f));
  const withSettings = new Set(
    git('grep', '-l', '-E', 'Setting', tag, '--', 'src')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(tag.length + 1)),
  );
  const settings = new Map();
  for (const file of files) {
    if (!withSettings.has(file)) continue;
    for (const d of declarations(git('show', `${tag}:${file}`))) {
      if (d.struct && NOT_GLOBAL.test(d.struct)) continue;
      if (d.struct === null) continue;
      settings.set(d.name, {
        type: typeOf(d.kind, d.typeText),
        typeText: d.typeText,
        struct: d.struct,
        aliases: d.aliases,
        platforms: d.platforms,
        file,
      });
    }
  }
  return settings;
}

const versions = releases();
const perVersion = versions.map((tag) => ({ version: tag.replace(/^(\d+\.\d+)\.0$/, '$1'), settings: settingsAt(tag) }));

if (process.argv.includes('--json')) {
  process.stdout.write(
    JSON.stringify(
      perVersion.map((v) => ({ version: v.version, settings: Object.fromEntries(v.settings) })),
      null,
      1,
    ),
  );
  process.exit(0);
}

/** One row per setting: first and last version, types by version, aliases with their versions. */
const rows = new Map();
for (const { version, settings } of perVersion) {
  for (const [name, s] of settings) {
    let row = rows.get(name);
    if (!row) {
      row = { name, since: version, until: version, types: [], aliases: new Map(), platforms: s.platforms };
      rows.set(name, row);
    }
    row.until = version;
    if (row.types.at(-1)?.[1] !== s.type) row.types.push([version, s.type]);
    for (const alias of s.aliases) {
      const a = row.aliases.get(alias) ?? { since: version, until: version };
      a.until = version;
      row.aliases.set(alias, a);
    }
    if (s.platforms.length > row.platforms.length) row.platforms = s.platforms;
  }
}
const newest = perVersion.at(-1).version;

/** Settings of Nix 1.11 (the names its manual documents) that no 2.x release knows, not even as an alias. */
function nix1Only() {
  const tag = git('tag')
    .split('\n')
    .filter((t) => /^1\.11(\.\d+)?$/.test(t))
    .sort((a, b) => Number(a.split('.')[2] ?? 0) - Number(b.split('.')[2] ?? 0))
    .at(-1);
  if (!tag) return { tag: undefined, names: [] };
  const doc = git('show', `${tag}:doc/manual/command-ref/conf-file.xml`);
  const known = new Set([...rows.values()].flatMap((r) => [r.name, ...r.aliases.keys()]));
  const names = [...doc.matchAll(/<term><literal>([a-z][a-z0-9-]*)<\/literal><\/term>/g)].map((m) => m[1]);
  return { tag, names: [...new Set(names)].filter((n) => !known.has(n)).sort() };
}
const nix1 = nix1Only();
const q = (s) => `'${s}'`;
const lines = [...rows.values()]
  .sort((a, b) => a.name.localeCompare(b.name))
  .map((r) => {
    const types = r.types.length === 1 ? q(r.types[0][1]) : `[${r.types.map(([v, t]) => `[${q(v)}, ${q(t)}]`).join(', ')}]`;
    const aliases = [...r.aliases].map(([n, a]) => `[${q(n)}, ${q(a.since)}${a.until === newest ? '' : `, ${q(a.until)}`}]`);
    const fields = [q(r.name), types, q(r.since), r.until === newest ? 'null' : q(r.until), `[${aliases.join(', ')}]`];
    if (r.platforms.length === 1) fields.push(q(r.platforms[0]));
    return `  [${fields.join(', ')}],`;
  });

process.stdout.write(`// Generated by scripts/nix-settings.mjs from NixOS/nix ${versions[0]} … ${versions.at(-1)} (and ${nix1.tag}'s manual): do not edit by hand.
// Each row: [name, value type (or [[version, type], …] when it changed), first version, last version
// (null: still in ${newest}), aliases [[alias, first version, last version?], …], platform when only one].
import type { SettingRow } from './settings.js';

/** Nix releases the table covers, oldest first. */
export const TABLE_VERSIONS: readonly string[] = [${perVersion.map((v) => q(v.version)).join(', ')}];

export const SETTING_ROWS: readonly SettingRow[] = [
${lines.join('\n')}
];

/** Settings documented for Nix ${nix1.tag ?? '1.11'} (conf-file.xml) that Nix 2.0 dropped. */
export const NIX1_ONLY_SETTINGS: readonly string[] = [${nix1.names.map(q).join(', ')}];
`);
