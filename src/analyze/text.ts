// Text hygiene for log lines: ANSI escapes stripped before parsing, control characters made
// visible before anything from the data reaches a terminal or a file.

// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and lone two-byte escapes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escapes is the point
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}

/**
 * What a terminal would show for a line written with `\r` overwrites and `\b` backspaces: the
 * last segment after a carriage return (tqdm, Keras), with backspaces applied.
 */
export function lastSegment(text: string): string {
  let line = text;
  const cr = line.lastIndexOf('\r', line.length - 2);
  if (cr >= 0) line = line.slice(cr + 1);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.includes('\b')) {
    let out = '';
    for (const ch of line) out = ch === '\b' ? out.slice(0, -1) : out + ch;
    line = out;
  }
  return line;
}

/** What a terminal shows of a line: `lastSegment(stripAnsi(text))`, without copying plain lines. */
export function shownText(text: string): string {
  return text.indexOf('\x1b') < 0 && text.indexOf('\r') < 0 && text.indexOf('\b') < 0
    ? text
    : lastSegment(stripAnsi(text));
}

export { escapeControl } from '../render/escape.js';

/** At most `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
