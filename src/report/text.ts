/**
 * Laying text out for a terminal, in time linear in its length. Prose wraps at spaces; a word longer
 * than a whole line (a store path, a URL) is cut where the line ends, as the terminal would cut it,
 * but without breaking the layout around it. Fix lines wrap only between the pieces a person would
 * copy separately, never inside a command or a config line.
 */

/** A word is cut only where at least this many columns are left for it: no confetti under a deep indent. */
const MIN_CUT = 12;

/**
 * Wraps prose to WIDTH columns at spaces: the first line starts with FIRST, the others with REST
 * (both count towards the width).
 */
export function wrapWords(text: string, width: number, first = '', rest = first): string[] {
  const out: string[] = [];
  let current = first;
  let empty = true;
  /** WORD from the start of a line (CURRENT holds only the indent), cut while it is longer than what is left. */
  const place = (word: string) => {
    let left = word;
    for (let room = width - current.length; left.length > room && room >= MIN_CUT; room = width - current.length) {
      out.push(current + left.slice(0, room));
      current = rest;
      left = left.slice(room);
    }
    current += left;
  };
  for (const word of text.split(/ +/)) {
    if (word === '') continue;
    if (empty) place(word);
    else if (current.length + 1 + word.length <= width) current += ` ${word}`;
    else {
      out.push(current);
      current = rest;
      place(word);
    }
    empty = false;
  }
  out.push(current);
  return out;
}

/**
 * What makes a piece of a fix something to paste whole (a command or a config line), not prose that
 * may wrap: an assignment, an option, a pipe, a variable or backquote, or a leading command name. A
 * double quote alone does not: prose quotes Nix's messages.
 */
const CODE =
  /[=|$`[\]<>]|--|&&|^\s*(sudo|systemctl|journalctl|ss|iptables|ip6tables|nft|firewall-cmd|nix|nix-store|nix-env|nixcache|nixos-firewall-tool|chmod|chown|aws|cat|ip|curl|machine)( |$)/;

/**
 * The pieces of one fix line a person reads or copies separately: split after `: `, at a run of two
 * or more spaces, before ` (`, after ` — `, ` → `, `; ` and before `, then ` / `, or ` — the last
 * ones only outside quotes and brackets, where they part two commands or two config lines. A piece
 * with a command or config in it is never split; a prose piece may wrap at its spaces.
 */
function fixPieces(line: string): { text: string; code: boolean }[] {
  const pieces: string[] = [];
  let start = 0;
  const breaks = /(: )|( {2,})|( \()|( — |→ )|(; )|(, (?:then|or) )/g;
  for (let m = breaks.exec(line); m; m = breaks.exec(line)) {
    if ((m[5] || m[6]) && nested(line, start, m.index)) continue;
    // The separator stays with the piece before it, except an opening parenthesis, which starts the
    // next, and `, then` / `, or`, whose words start it.
    const end = m[3] ? m.index + 1 : m[6] ? m.index + 2 : m.index + m[0].length;
    if (end > start) pieces.push(line.slice(start, end));
    start = end;
  }
  if (start < line.length) pieces.push(line.slice(start));
  return pieces.map((text) => ({ text, code: CODE.test(text) }));
}

/** Whether position AT of LINE is inside quotes or brackets opened since FROM (a `;` there belongs to one config line). */
function nested(line: string, from: number, at: number): boolean {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < at; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '{' || c === '[' || c === '(')) depth++;
    else if (!quoted && (c === '}' || c === ']' || c === ')')) depth = Math.max(0, depth - 1);
  }
  return quoted || depth > 0;
}

/**
 * Lays out one line of a fix at WIDTH columns (the first line starts with FIRST, the others with
 * REST): pieces are packed while they fit; a command longer than the line is printed whole on a
 * line of its own, so that it can be copied in one piece.
 */
export function wrapFixLine(line: string, width: number, first: string, rest = first): string[] {
  const lead = /^\s*/.exec(line)?.[0] ?? '';
  const out: string[] = [];
  let prefix = first + lead;
  let current = '';
  const room = () => width - prefix.length - current.length;
  const flush = () => {
    if (current !== '') out.push((prefix + current).trimEnd());
    prefix = rest + lead;
    current = '';
  };
  for (const piece of fixPieces(line.slice(lead.length))) {
    const text = current === '' ? piece.text.trimStart() : piece.text;
    if (text.trimEnd().length <= room()) {
      current += text;
    } else if (piece.code) {
      if (current !== '') flush();
      current = text.trimStart();
    } else {
      for (const word of text.split(/(?<= )/)) {
        if (word.trimEnd().length > room() && current !== '') flush();
        current += current === '' ? word.trimStart() : word;
      }
    }
  }
  flush();
  return out.length > 0 ? out : [first.trimEnd()];
}

/** Paints text in an ANSI colour (31 red, 32 green, 33 yellow, 90 grey) when COLOR is on; leaves it plain otherwise. */
export function painter(color: boolean): (code: number, text: string) => string {
  return color ? (code, text) => `\u001b[${code}m${text}\u001b[0m` : (_code, text) => text;
}

/** Cuts TEXT to WIDTH columns with an ellipsis. */
export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * TEXT cut to MAX characters with the count of what was left out: a value a cache or a file supplied
 * (a 64 KB StoreDir) is no screenful in the terminal. JSON keeps it whole.
 */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${(text.length - max).toLocaleString('en')} more characters)`;
}

/** A byte count in units of 1024, in the words the doctor's messages use: `512 B`, `64.0 kB`, `95.4 MB`, `3.2 GB`. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} B`;
}

/** `1 check`, `2 checks`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
