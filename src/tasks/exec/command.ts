// The command after `--`, as argument templates: `{id}`, `{out}` and the item's fields (`{<column>}`,
// `{path}`) are replaced inside each argument, and the result is run as an argv, never through a
// shell, so no value can inject anything. `{{` and `}}` are literal braces.
import { ItemError, UsageError } from '../../errors.js';
import type { Json } from '../../store/types.js';

type Part = { text: string } | { field: string };

/** One argument: literal text and placeholders. */
export type ArgTemplate = readonly Part[];

/** What a placeholder is filled from, besides the item's payload. */
export const BUILT_IN = ['id', 'out'] as const;

/**
 * Parses the command. A `{name}` naming neither a built-in nor one of `fields` is a usage error
 * here, before anything runs; braces around text with spaces (`awk '{print $1}'`) stay as they are.
 */
export function parseCommand(argv: readonly string[], fields: readonly string[]): ArgTemplate[] {
  if (argv.length === 0) {
    throw new UsageError(
      'no command: give it after --, e.g. sluice run --items items.csv -- ./process.sh {id}',
    );
  }
  const known = new Set<string>([...BUILT_IN, ...fields]);
  const unknown: string[] = [];
  const templates = argv.map((arg) => {
    const parts: Part[] = [];
    let text = '';
    for (let i = 0; i < arg.length; i++) {
      const c = arg[i] as string;
      if ((c === '{' || c === '}') && arg[i + 1] === c) {
        text += c;
        i += 1;
        continue;
      }
      if (c !== '{') {
        text += c;
        continue;
      }
      const end = arg.indexOf('}', i + 1);
      const name = end < 0 ? '' : arg.slice(i + 1, end);
      if (end < 0 || (!known.has(name) && /\s|\{/.test(name))) {
        text += c; // not a placeholder: `{print $1}`, a lone brace
        continue;
      }
      if (!known.has(name)) unknown.push(`{${name}}`);
      if (text) parts.push({ text });
      text = '';
      parts.push({ field: name });
      i = end;
    }
    if (text || parts.length === 0) parts.push({ text });
    return parts;
  });
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown placeholder${unknown.length === 1 ? '' : 's'} ${[...new Set(unknown)].join(', ')} in the command. ` +
        `Available: ${[...known].map((k) => `{${k}}`).join(', ')}. Write {{ and }} for literal braces.`,
    );
  }
  return templates;
}

/** The values one item fills in. */
export interface Fill {
  id: string;
  out: string;
  payload: Json;
}

/** The argv for one item; a field this item's row lacks fails the item (not the run): other rows may have it. */
export function fillCommand(templates: readonly ArgTemplate[], fill: Fill): string[] {
  const payload =
    fill.payload !== null && typeof fill.payload === 'object' && !Array.isArray(fill.payload)
      ? fill.payload
      : {};
  return templates.map((parts) =>
    parts
      .map((part) => {
        if ('text' in part) return part.text;
        if (part.field === 'id') return fill.id;
        if (part.field === 'out') return fill.out;
        const value = payload[part.field];
        if (value === undefined) {
          throw new ItemError(`its row has no ${JSON.stringify(part.field)} for {${part.field}}`, false);
        }
        return asText(value);
      })
      .join(''),
  );
}

function asText(value: Json): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The command as a shell would need it typed: for logs and the joblog only, never to run. */
export function showCommand(argv: readonly string[]): string {
  return argv
    .map((a) => (/^[A-Za-z0-9_./=:,@+-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}
