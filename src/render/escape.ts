// Control characters from data (ESC, BEL, NUL...) shown as `\xNN`, so log text never drives a
// terminal or hides in a page. Shared by the text reports and the HTML pages.

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f\x9b]/g;

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
