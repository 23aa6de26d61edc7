import { isIP } from 'node:net';
import { err, ok, type Result } from '../nix/result.js';
import { addressIn, type FirewallVerdict, type OpenOnly } from './firewall.js';

type Json = unknown;
interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  prio?: number;
  policy?: string;
  type?: string;
}
interface NftRule {
  family: string;
  table: string;
  chain: string;
  expr: Json[];
  handle?: number;
}
export interface NftRuleset {
  chains: NftChain[];
  rules: NftRule[];
  sets: Map<string, Json[]>;
}

const key = (family: string, table: string, name: string) => `${family}/${table}/${name}`;

/** Parses `nft -j list ruleset`. */
export function parseNftJson(text: string): Result<NftRuleset> {
  let doc: { nftables?: Record<string, Json>[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (e) {
    return err('not-json', `nft -j printed something that is not JSON (${(e as Error).message.slice(0, 80)})`);
  }
  if (!doc || !Array.isArray(doc.nftables)) return err('no-nftables', "the JSON has no 'nftables' array");
  const out: NftRuleset = { chains: [], rules: [], sets: new Map() };
  for (const item of doc.nftables) {
    if (!item || typeof item !== 'object') continue;
    const chain = item.chain as Record<string, Json> | undefined;
    const rule = item.rule as Record<string, Json> | undefined;
    const set = (item.set ?? item.map) as Record<string, Json> | undefined;
    if (chain && typeof chain.name === 'string') {
      out.chains.push({
        family: String(chain.family),
        table: String(chain.table),
        name: chain.name,
        ...(typeof chain.hook === 'string' ? { hook: chain.hook } : {}),
        ...(typeof chain.prio === 'number' ? { prio: chain.prio } : {}),
        ...(typeof chain.policy === 'string' ? { policy: chain.policy } : {}),
        ...(typeof chain.type === 'string' ? { type: chain.type } : {}),
      });
    } else if (rule && typeof rule.chain === 'string') {
      out.rules.push({
        family: String(rule.family),
        table: String(rule.table),
        chain: rule.chain,
        expr: Array.isArray(rule.expr) ? rule.expr : [],
        ...(typeof rule.handle === 'number' ? { handle: rule.handle } : {}),
      });
    } else if (set && typeof set.name === 'string') {
      out.sets.set(key(String(set.family), String(set.table), set.name), Array.isArray(set.elem) ? set.elem : []);
    }
  }
  return ok(out);
}

/** The packet the doctor asks about: a new TCP SYN to PORT at address TO (unknown when undefined) from another host, not on lo. */
interface Packet {
  port: number;
  to: string | undefined;
}

type Notes = { unmodelled: string[]; conditions: string[]; unsure: string[]; openOnlyTo: OpenOnly[] };

type Tri = 'yes' | 'no' | 'unknown';

function packetField(left: Json | undefined, p: Packet): string | number | (string | number)[] | undefined {
  // A match without a left side (malformed output) compares nothing the packet carries.
  if (left === null || typeof left !== 'object') return undefined;
  const l = left as Record<string, Record<string, string>>;
  if (l.payload) {
    const { protocol, field } = l.payload as { protocol?: string; field?: string };
    if (field === 'dport' && (protocol === 'tcp' || protocol === 'th')) return p.port;
    if (field === 'dport' && protocol === 'udp') return undefined;
    if (field === 'protocol' || field === 'nexthdr') return 'tcp';
    if (field === 'saddr') return 'remote-address';
    if (field === 'daddr') return p.to ?? 'local-address';
    return undefined;
  }
  if (l.meta) {
    const k = (l.meta as { key?: string })?.key;
    if (k === 'l4proto' || k === 'protocol') return k === 'l4proto' ? 'tcp' : 'ip';
    if (k === 'iifname' || k === 'iif') return 'external-interface';
    if (k === 'pkttype') return 'host';
    return undefined;
  }
  if (l.ct) {
    const k = (l.ct as { key?: string })?.key;
    if (k === 'state') return 'new';
    return undefined;
  }
  if (Array.isArray((left as { concat?: Json[] })?.concat)) {
    const parts = (left as { concat: Json[] })?.concat.map((c) => packetField(c, p));
    return parts.some((x) => x === undefined) ? undefined : (parts as (string | number)[]);
  }
  return undefined;
}

function elemMatches(elem: Json, v: string | number | (string | number)[]): Tri {
  if (Array.isArray(v)) {
    const c = (elem as { concat?: Json[] })?.concat;
    if (!Array.isArray(c) || c.length !== v.length) return 'no';
    return c.every((e, i) => elemMatches(e, v[i] as string | number) === 'yes') ? 'yes' : 'no';
  }
  if (typeof elem === 'number' || typeof elem === 'string') {
    if (typeof v === 'number' && typeof elem === 'string' && /^\d+$/.test(elem)) return Number(elem) === v ? 'yes' : 'no';
    if (v === 'external-interface') return elem === 'lo' ? 'no' : 'unknown';
    if (v === 'remote-address' || v === 'local-address') return 'unknown';
    if (typeof v === 'string' && isIP(v)) return tri(addressIn(String(elem), v));
    return elem === v || (v === 'tcp' && elem === 6) ? 'yes' : 'no';
  }
  const range = (elem as { range?: [number, number] })?.range;
  if (Array.isArray(range) && typeof v === 'number') return v >= Number(range[0]) && v <= Number(range[1]) ? 'yes' : 'no';
  const prefix = (elem as { prefix?: unknown })?.prefix;
  const { addr, len } = (prefix ?? {}) as { addr?: Json; len?: Json };
  if (prefix && typeof v === 'string' && isIP(v)) return tri(addressIn(`${addr}/${len}`, v));
  if (prefix && (v === 'remote-address' || v === 'local-address')) return 'unknown';
  const inner = (elem as { elem?: { val?: Json } })?.elem;
  if (inner && 'val' in inner) return elemMatches(inner.val as Json, v);
  return 'unknown';
}

function rightMatches(right: Json, v: string | number | (string | number)[], rs: NftRuleset, family: string, table: string): Tri {
  if (typeof right === 'string' && right.startsWith('@')) {
    const elems = rs.sets.get(key(family, table, right.slice(1)));
    if (!elems) return 'unknown';
    return anyOf(elems.map((e) => elemMatches(Array.isArray(e) ? e[0] : e, v)));
  }
  const set = (right as { set?: Json[] })?.set;
  if (Array.isArray(set)) return anyOf(set.map((e) => elemMatches(e, v)));
  if (Array.isArray(right) && !Array.isArray(v)) return anyOf(right.map((e) => elemMatches(e, v)));
  return elemMatches(right, v);
}

const tri = (b: boolean | undefined): Tri => (b === undefined ? 'unknown' : b ? 'yes' : 'no');

function anyOf(list: Tri[]): Tri {
  return list.includes('yes') ? 'yes' : list.includes('unknown') ? 'unknown' : 'no';
}

type Step =
  | { kind: 'verdict'; verdict: 'accept' | 'drop' | 'reject' }
  | { kind: 'jump' | 'goto'; target: string }
  | { kind: 'return' }
  | { kind: 'next' }
  /** A rule only for some sources or interfaces: STEP is what the hosts there get. */
  | { kind: 'only'; who: string; step: Step };

function verdictOf(v: Record<string, Json>): Step | undefined {
  // A map entry's value may be anything in malformed output: only an object is a verdict.
  if (v === null || typeof v !== 'object') return undefined;
  if ('accept' in v) return { kind: 'verdict', verdict: 'accept' };
  if ('drop' in v) return { kind: 'verdict', verdict: 'drop' };
  if ('reject' in v) return { kind: 'verdict', verdict: 'reject' };
  if ('return' in v) return { kind: 'return' };
  const j = (v.jump ?? v.goto) as { target?: string } | undefined;
  if (j?.target) return { kind: 'jump' in v ? 'jump' : 'goto', target: j.target };
  return undefined;
}

/** Runs one rule's expressions: matches narrow, the first verdict decides. */
function runRule(rule: NftRule, rs: NftRuleset, p: Packet, notes: Notes): Step {
  const pending: string[] = [];
  // A match on the address clients connect to, when that is not known: the rule is passed over, and said so.
  let unsure: string | undefined;
  // Sources and interfaces the rule is limited to: it holds for the hosts there, not for any other host.
  const only: string[] = [];
  for (const e of rule.expr) {
    const ex = (e ?? {}) as Record<string, Json>;
    if (ex.match) {
      const m = ex.match as { op?: string; left: Json; right: Json };
      const syn = synMatches(m);
      if (syn === 'no') return { kind: 'next' };
      if (syn === 'yes') continue;
      const v = packetField(m.left, p);
      if (v === undefined) {
        // A match on something a new TCP connection to the port does not carry (udp, icmp …) or that is not modelled.
        const text = JSON.stringify(m.left) ?? '';
        // A test of tcp flags the doctor cannot read: the packet asked about is a SYN, which most such rules are for.
        if (text.includes('"field":"flags"')) continue;
        if (/"(udp|icmp|icmpv6|ip6?)"|"sport"|"type"/.test(text)) return { kind: 'next' };
        notes.unmodelled.push(`${rule.chain}: ${text.slice(0, 80)}`);
        continue;
      }
      let r = rightMatches(m.right, v, rs, rule.family, rule.table);
      if (m.op === '!=') r = r === 'yes' ? 'no' : r === 'no' ? 'yes' : 'unknown';
      if (r === 'no') return { kind: 'next' };
      if (r === 'unknown' && v === 'local-address') unsure = `for connections ${m.op === '!=' ? 'not ' : ''}to ${rightText(m.right)}`;
      else if (r === 'unknown' && m.op !== '!=' && (v === 'remote-address' || v === 'external-interface')) only.push(describeMatch(m));
      else if (r === 'unknown') pending.push(describeMatch(m));
      continue;
    }
    if (ex.vmap) {
      const vm = ex.vmap as { key: Json; data: Json };
      const v = packetField(vm.key, p);
      const entries = ((vm.data as { set?: Json[] })?.set ?? []) as [Json, Record<string, Json>][];
      if (v === undefined) return { kind: 'next' };
      const hit = entries.find((entry) => Array.isArray(entry) && elemMatches(entry[0], v) === 'yes');
      if (!hit) return { kind: 'next' };
      const step = verdictOf(hit[1]);
      if (step) return finish(step, pending, notes, unsure && `'${describeRule(rule)}' ${unsure}`, only);
      continue;
    }
    const step = verdictOf(ex);
    if (step) return finish(step, pending, notes, unsure && `'${describeRule(rule)}' ${unsure}`, only);
  }
  return { kind: 'next' };
}

/** The names in a flag list as nft -j writes it: `"syn"`, `["fin", "syn"]` or `{ "|": ["syn", "ack"] }`. */
function flagNames(x: Json): string[] | undefined {
  if (typeof x === 'string') return [x];
  const list = Array.isArray(x) ? x : (x as { '|'?: Json[] })?.['|'];
  if (!Array.isArray(list)) return undefined;
  const names = list.map(flagNames);
  return names.every((n) => n !== undefined) ? (names as string[][]).flat() : undefined;
}

/**
 * Does a `tcp flags` match hold for the SYN that opens a connection? `tcp flags & (fin|syn|rst|ack) != syn`
 * holds for every packet but it; undefined when M is no flags match, 'unknown' when it cannot be read.
 */
function synMatches(m: { op?: string; left: Json; right: Json }): Tri | undefined {
  const isFlags = (l: Json) => (l as { payload?: { field?: string } })?.payload?.field === 'flags';
  const and = (m.left as { '&'?: Json[] })?.['&'];
  const masked = Array.isArray(and) && isFlags(and[0]) ? flagNames(and[1]) : isFlags(m.left) ? ['syn'] : undefined;
  if (!masked) return Array.isArray(and) && and.some(isFlags) ? 'unknown' : undefined;
  const seen = masked.includes('syn') ? ['syn'] : [];
  const right = flagNames(m.right);
  if (!right) return 'unknown';
  const same = right.length === seen.length && right.every((f) => seen.includes(f));
  if (m.op === '==') return same ? 'yes' : 'no';
  if (m.op === '!=') return same ? 'no' : 'yes';
  // `tcp flags syn` (op `in`): any of the flags named is set.
  if (m.op === 'in') return right.some((f) => seen.includes(f)) ? 'yes' : 'no';
  return 'unknown';
}

function finish(step: Step, pending: string[], notes: Notes, unsure: string | undefined, only: string[]): Step {
  if (unsure) {
    notes.unsure.push(unsure);
    return { kind: 'next' };
  }
  if (only.length) return { kind: 'only', who: [...only, ...pending].join(', '), step };
  if (step.kind === 'verdict' && step.verdict === 'accept' && pending.length) notes.conditions.push(...pending);
  return step;
}

function describeMatch(m: { op?: string; left: Json; right: Json }): string {
  const meta = (m.left as { meta?: { key?: string } })?.meta?.key;
  const right = rightText(m.right);
  if (meta === 'iifname' || meta === 'iif') return `${m.op === '!=' ? 'not on' : 'on'} interface ${right}`;
  const payload = (m.left as { payload?: { field?: string } })?.payload?.field;
  if (payload === 'saddr') return `${m.op === '!=' ? 'not from' : 'from'} ${right}`;
  return `if ${leftText(m.left)} ${m.op} ${right}`;
}

/**
 * Evaluates every base chain on the input hook, lowest priority first, as the kernel does: a
 * drop or reject anywhere is final, an accept only ends that chain.
 */
export function evaluateNft(rs: NftRuleset, port: number, family: 'ipv4' | 'ipv6' = 'ipv4', to?: string): FirewallVerdict | undefined {
  // An IPv4 packet meets the input chains of `inet` and `ip` tables; an IPv6 one those of `inet` and `ip6`.
  const families = ['inet', family === 'ipv4' ? 'ip' : 'ip6'];
  const base = rs.chains.filter((c) => c.hook === 'input' && (c.type ?? 'filter') === 'filter' && families.includes(c.family));
  if (base.length === 0) return undefined;
  base.sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0));
  const notes: Notes = { unmodelled: [], conditions: [], unsure: [], openOnlyTo: [] };
  let lastAccept: FirewallVerdict | undefined;
  for (const chain of base) {
    const r = walk(rs, chain, chain.name, { port, to }, notes, 0);
    const verdict: FirewallVerdict = {
      verdict: r?.verdict ?? (chain.policy === 'drop' ? 'drop' : 'accept'),
      rule: r?.rule ?? `chain ${chain.name} { policy ${chain.policy ?? 'accept'}; }`,
      chain: `${chain.family} ${chain.table} ${r?.chain ?? chain.name}`,
      conditions: notes.conditions,
      unmodelled: notes.unmodelled,
      unsure: notes.unsure,
      openOnlyTo: notes.openOnlyTo,
    };
    if (verdict.verdict !== 'accept') return verdict;
    lastAccept = verdict;
  }
  return lastAccept;
}

function walk(
  rs: NftRuleset,
  base: NftChain,
  name: string,
  p: Packet,
  notes: Notes,
  depth: number,
): { verdict: 'accept' | 'drop' | 'reject'; rule: string; chain: string } | undefined {
  if (depth > 32) return { verdict: 'drop', rule: 'jumps nested deeper than 32', chain: name };
  for (const rule of rs.rules.filter((r) => r.family === base.family && r.table === base.table && r.chain === name)) {
    const step = runRule(rule, rs, p, notes);
    if (step.kind === 'next') continue;
    if (step.kind === 'only') {
      // What the hosts this rule is for get: the walk for every other host goes on past it.
      const theirs: Notes = { ...notes, conditions: [], openOnlyTo: [] };
      const then = step.step;
      const r =
        then.kind === 'verdict'
          ? { verdict: then.verdict, rule: describeRule(rule) }
          : then.kind === 'jump' || then.kind === 'goto'
            ? walk(rs, base, then.target, p, theirs, depth + 1)
            : undefined;
      if (r?.verdict === 'accept') notes.openOnlyTo.push({ who: [step.who, ...theirs.conditions].join(', '), rule: r.rule });
      for (const o of theirs.openOnlyTo) notes.openOnlyTo.push({ who: `${step.who}, ${o.who}`, rule: o.rule });
      continue;
    }
    if (step.kind === 'return') return undefined;
    if (step.kind === 'verdict') return { verdict: step.verdict, rule: describeRule(rule), chain: name };
    const r = walk(rs, base, step.target, p, notes, depth + 1);
    if (r) return r;
    if (step.kind === 'goto') return undefined;
  }
  return undefined;
}

/** A readable form of a rule for the report (nft's own text needs `nft list`, which JSON lacks). */
export function describeRule(rule: NftRule): string {
  const parts = rule.expr.map((e) => {
    const ex = (e ?? {}) as Record<string, Json>;
    if (ex.match) {
      const m = ex.match as { op: string; left: Json; right: Json };
      return `${leftText(m.left)} ${m.op === '==' ? '' : `${m.op} `}${rightText(m.right)}`.replace(/\s+/g, ' ').trim();
    }
    if (ex.vmap) return `${leftText((ex.vmap as { key: Json })?.key)} vmap { … }`;
    if (ex.jump || ex.goto) return `${ex.jump ? 'jump' : 'goto'} ${((ex.jump ?? ex.goto) as { target: string })?.target}`;
    return Object.keys(ex)[0] ?? '';
  });
  return `${rule.family} ${rule.table} ${rule.chain}: ${parts.filter((p) => p && p !== 'counter').join(' ')}`;
}

function leftText(l: Json): string {
  const x = (l ?? {}) as Record<string, Record<string, string>>;
  if (x.payload) return `${x.payload.protocol} ${x.payload.field}`;
  if (x.meta) return `meta ${x.meta.key}`;
  if (x.ct) return `ct ${x.ct.key}`;
  if (Array.isArray((l as { concat?: Json[] })?.concat)) return (l as { concat: Json[] })?.concat.map(leftText).join(' . ');
  const and = (l as { '&'?: Json[] })?.['&'];
  if (Array.isArray(and) && and.length === 2) return `${leftText(and[0])} & (${flagNames(and[1])?.join(' | ') ?? rightText(and[1])})`;
  return JSON.stringify(l);
}

function rightText(r: Json): string {
  if (typeof r === 'string' || typeof r === 'number') return String(r);
  const set = (r as { set?: Json[] })?.set;
  if (Array.isArray(set)) return `{ ${set.map(rightText).join(', ')} }`;
  const range = (r as { range?: Json[] })?.range;
  if (Array.isArray(range)) return `${range[0]}-${range[1]}`;
  if (Array.isArray(r)) return `{ ${r.map(rightText).join(', ')} }`;
  const prefix = (r as { prefix?: { addr?: Json; len?: Json } })?.prefix;
  if (prefix) return `${prefix.addr}/${prefix.len}`;
  const or = (r as { '|'?: Json[] })?.['|'];
  if (Array.isArray(or)) return or.map(rightText).join(' | ');
  return JSON.stringify(r);
}
