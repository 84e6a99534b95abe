// Regular expressions written with named groups, run without them: a match with named groups
// builds a `groups` object, which costs on every line; the same groups by position cost nothing.

export interface Positional {
  pattern: RegExp;
  /** Each group name's index in a match. */
  at: Record<string, number>;
}

/** `source` with its named groups made plain capturing groups, and where each name went. */
export function positional(source: string, flags = ''): Positional {
  const at: Record<string, number> = {};
  let out = '';
  let groups = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      out += source.slice(i, i + 2);
      i += 1;
      continue;
    }
    if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') {
      const named = /^\(\?<([A-Za-z_]\w*)>/.exec(source.slice(i, i + 40));
      if (named) {
        groups += 1;
        at[named[1] as string] = groups;
        out += '(';
        i += named[0].length - 1;
        continue;
      }
      if (source[i + 1] !== '?') groups += 1;
    }
    out += c;
  }
  return { pattern: new RegExp(out, flags), at };
}

/** The named groups of a positional match, as `match.groups` would hold them. */
export function groupsOf(
  match: RegExpExecArray,
  at: Record<string, number>,
): Record<string, string | undefined> {
  const groups: Record<string, string | undefined> = {};
  for (const name in at) groups[name] = match[at[name] as number];
  return groups;
}
