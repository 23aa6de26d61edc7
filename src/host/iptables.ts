import { err, ok, type Result } from '../nix/result.js';
import { addressIn, type FirewallVerdict, type OpenOnly, portIn } from './firewall.js';

export interface IptRule {
  chain: string;
  text: string;
  args: string[];
  target?: string;
  goto: boolean;
}

export interface IptTable {
  policies: Record<string, string>;
  chains: Map<string, IptRule[]>;
}

/** Splits a line of `iptables -S` into words, honouring the double quotes around comments. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? (m[2] as string));
  return out;
}

/** Parses `iptables -S` (the filter table) or the filter section of `iptables-save`. */
export function parseIptables(text: string): Result<IptTable> {
  const table: IptTable = { policies: {}, chains: new Map() };
  const chain = (name: string) => {
    let rules = table.chains.get(name);
    if (!rules) {
      rules = [];
      table.chains.set(name, rules);
    }
    return rules;
  };
  let section = 'filter';
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      section = line.slice(1);
      continue;
    }
    if (section !== 'filter' || line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (name) {
        chain(name);
        if (policy && policy !== '-') table.policies[name] = policy;
      }
      continue;
    }
    const w = words(line);
    const [flag, name, ...rest] = w;
    if (!name) return err('malformed', `line ${index + 1}: '${line.slice(0, 60)}' is not an iptables rule`, index + 1);
    if (flag === '-P') {
      table.policies[name] = rest[0] ?? 'ACCEPT';
      chain(name);
    } else if (flag === '-N') chain(name);
    else if (flag === '-A' || flag === '-I') {
      const j = Math.max(rest.lastIndexOf('-j'), rest.lastIndexOf('-g'), rest.lastIndexOf('--jump'), rest.lastIndexOf('--goto'));
      const rule: IptRule = {
        chain: name,
        text: line,
        args: j >= 0 ? rest.slice(0, j) : rest,
        goto: rest[j] === '-g' || rest[j] === '--goto',
        ...(j >= 0 && rest[j + 1] ? { target: rest[j + 1] } : {}),
      };
      if (flag === '-I') chain(name).unshift(rule);
      else chain(name).push(rule);
    } else return err('malformed', `line ${index + 1}: unknown command '${flag}'`, index + 1);
  }
  return ok(table);
}

type Match = { matches: boolean; condition?: string; unmodelled?: string; unsure?: string; only?: string };

/** Does RULE's match part hold for a new TCP packet to PORT at address TO (unknown when undefined) from another host? */
function matchRule(args: string[], port: number, to: string | undefined): Match {
  let condition: string | undefined;
  let unsure: string | undefined;
  // Sources and interfaces the rule is limited to: it holds for the hosts there, not for any other host.
  const only: string[] = [];
  const conditions: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const neg = args[i] === '!';
    if (neg) i++;
    const opt = args[i] as string;
    const val = args[i + 1] ?? '';
    const take = () => i++;
    switch (opt) {
      case '-p':
      case '--protocol': {
        take();
        const isTcp = val === 'tcp' || val === '6' || val === 'all';
        if (isTcp === neg) return { matches: false };
        break;
      }
      case '-i':
      case '--in-interface':
        take();
        // A new connection from another host never arrives on lo.
        if (val === 'lo' || val === 'lo+') {
          if (!neg) return { matches: false };
        } else (neg ? conditions : only).push(`${neg ? 'not on' : 'on'} interface ${val}`);
        break;
      case '-s':
      case '--source':
        take();
        if (/^127\.|^::1/.test(val) && !neg) return { matches: false };
        if (val !== '0.0.0.0/0' && val !== '::/0') (neg ? conditions : only).push(`${neg ? 'not from' : 'from'} ${val}`);
        break;
      case '-d':
      case '--destination':
        take();
        if (/^127\.|^::1/.test(val) && !neg) return { matches: false };
        if (val !== '0.0.0.0/0' && val !== '::/0') {
          const inside = to === undefined ? undefined : addressIn(val, to);
          if (inside === undefined) unsure = `for connections ${neg ? 'not ' : ''}to ${val}`;
          else if (inside === neg) return { matches: false };
        }
        break;
      case '--dport':
      case '--destination-port':
      case '--dports':
      case '--destination-ports':
      case '--ports':
        take();
        if (portIn(val, port) === neg) return { matches: false };
        break;
      case '--sport':
      case '--sports':
      case '--source-port':
        take();
        // Client source ports are ephemeral: a rule on them does not decide for the cache port.
        return { matches: false };
      case '--ctstate':
      case '--state': {
        take();
        const states = val.split(',');
        if (states.includes('NEW') === neg) return { matches: false };
        break;
      }
      case '--icmp-type':
      case '--icmpv6-type':
        return { matches: false };
      case '-m':
      case '--match':
        take();
        break;
      case '--comment':
        take();
        break;
      case '--tcp-flags': {
        const compared = args[i + 2] ?? '';
        i += 2;
        if (synMatches(val, compared) === neg) return { matches: false };
        break;
      }
      case '--syn':
        if (neg) return { matches: false };
        break;
      case '--dst-type':
        take();
        if (val !== 'LOCAL' && !neg) return { matches: false };
        break;
      case '--pkt-type':
        take();
        if (val !== 'unicast' && !neg) return { matches: false };
        break;
      case '--limit':
      case '--limit-burst':
      case '--log-prefix':
      case '--log-level':
        take();
        break;
      default:
        return { matches: true, unmodelled: opt };
    }
  }
  // Whether the rule applies depends on the address clients connect to: it is passed over, and said so.
  if (unsure) return { matches: false, unsure };
  if (only.length) return { matches: false, only: [...only, ...conditions].join(', ') };
  if (conditions.length) condition = conditions.join(', ');
  return { matches: true, ...(condition ? { condition } : {}) };
}

/**
 * Does `--tcp-flags MASK COMPARED` hold for the SYN that opens a connection? Its flags masked by MASK
 * must be exactly COMPARED: `! --syn` (`! --tcp-flags SYN,RST,ACK,FIN SYN`) matches every packet but it.
 */
function synMatches(mask: string, compared: string): boolean {
  const flags = (list: string) => {
    const names = list.toUpperCase().split(',');
    return names.includes('ALL') ? ['SYN', 'ACK', 'FIN', 'RST', 'URG', 'PSH'] : names.filter((f) => f !== 'NONE');
  };
  const masked = flags(mask).includes('SYN') ? ['SYN'] : [];
  const expected = flags(compared);
  return expected.length === masked.length && expected.every((f) => masked.includes(f));
}

const BUILTIN_VERDICTS = new Set(['ACCEPT', 'DROP', 'REJECT']);
const NON_TERMINAL = new Set(['LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'TRACE', 'AUDIT', 'NOTRACK', 'CT']);

type Decision = { verdict: FirewallVerdict['verdict']; rule: string; chain: string };
type Admitted = { conditions: string[]; openOnlyTo: OpenOnly[] };

/**
 * Walks INPUT as the kernel would for a connection to PORT at address TO (unknown when undefined): first
 * terminal match wins, user chains return, policies end built-ins. The host asked about is any other host: a
 * rule only for some sources or interfaces does not decide for it, but an accept there is noted in openOnlyTo.
 */
export function evaluateIptables(table: IptTable, port: number, to?: string, start = 'INPUT'): FirewallVerdict {
  const unmodelled: string[] = [];
  const unsure: string[] = [];
  const walk = (name: string, depth: number, seen: Admitted): Decision | 'return' => {
    if (depth > 32) return { verdict: 'drop', rule: `jumps nested deeper than 32 at ${name}`, chain: name };
    for (const rule of table.chains.get(name) ?? []) {
      const m = matchRule(rule.args, port, to);
      if (m.unmodelled) unmodelled.push(`${rule.text} (${m.unmodelled})`);
      if (m.unsure && rule.target && !NON_TERMINAL.has(rule.target)) unsure.push(`'${rule.text}' ${m.unsure}`);
      const t = rule.target;
      if (!t || NON_TERMINAL.has(t)) continue;
      if (m.only) {
        // What the hosts this rule is for get: the walk for every other host goes on past it.
        const theirs: Admitted = { conditions: [], openOnlyTo: [] };
        const accept: Decision = { verdict: 'accept', rule: rule.text, chain: name };
        const r = t === 'ACCEPT' ? accept : table.chains.has(t) ? walk(t, depth + 1, theirs) : 'return';
        if (r !== 'return' && r.verdict === 'accept')
          seen.openOnlyTo.push({ who: [m.only, ...theirs.conditions].join(', '), rule: r.rule });
        for (const o of theirs.openOnlyTo) seen.openOnlyTo.push({ who: `${m.only}, ${o.who}`, rule: o.rule });
        continue;
      }
      if (!m.matches) continue;
      if (BUILTIN_VERDICTS.has(t)) {
        if (m.condition && t === 'ACCEPT') seen.conditions.push(m.condition);
        return { verdict: t === 'ACCEPT' ? 'accept' : t === 'DROP' ? 'drop' : 'reject', rule: rule.text, chain: name };
      }
      if (t === 'RETURN') return 'return';
      if (table.chains.has(t)) {
        const r = walk(t, depth + 1, seen);
        if (r !== 'return') {
          if (m.condition && r.verdict === 'accept') seen.conditions.push(m.condition);
          return r;
        }
        if (rule.goto) return 'return';
      }
    }
    return 'return';
  };
  const seen: Admitted = { conditions: [], openOnlyTo: [] };
  const result = walk(start, 0, seen);
  const policy = table.policies[start] ?? 'ACCEPT';
  const decision: Decision =
    result !== 'return' ? result : { verdict: policy === 'ACCEPT' ? 'accept' : 'drop', rule: `-P ${start} ${policy}`, chain: start };
  return { ...decision, ...seen, unmodelled, unsure };
}
