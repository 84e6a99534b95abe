// Escapes for text that came from the data (log fields, blob names) on its way to a terminal or a
// spreadsheet: a log line must not be able to move the cursor, ring a bell or run a formula.

/** C0 controls (but tab and newline), DEL, and C1 controls: what a terminal acts on instead of printing. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching controls is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** Every C0 control, newline and tab included: for values that must stay on one line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching controls is the point
const CONTROL_ONE_LINE = /[\x00-\x1f\x7f-\x9f]/g;

const visible = (c: string): string => {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  if (code === 0x1b) return '\\e';
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
};

/**
 * `text` safe to print on a terminal: every C0/C1 control (ESC, BEL, CR, ...) becomes a visible
 * escape such as `\e` or `\x07`. With `{ multiline: true }` newlines and tabs are kept as they are.
 */
export function escapeTerminal(text: string, options: { multiline?: boolean } = {}): string {
  return text.replace(options.multiline ? CONTROL : CONTROL_ONE_LINE, visible);
}

/** Cell starts a spreadsheet reads as a formula (OWASP CSV injection): = + - @, tab, CR. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: a value a spreadsheet would run as a formula gets a leading single quote (OWASP),
 * then the cell is quoted when it holds a quote, comma or line break. Numbers pass unchanged, so
 * a negative count stays a number.
 */
export function escapeCsvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value !== 'number' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
