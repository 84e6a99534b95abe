// An item id as one folder name under --output-dir: collision-free, readable for ordinary ids.
import { createHash } from 'node:crypto';

/** Longest folder name written; file systems allow 255 bytes, and a suffix must still fit. */
const MAX_NAME = 200;

/**
 * Keeps A-Z a-z 0-9 `.` `_` `-`; every other byte of the id's UTF-8 (`%` included) becomes `%XX`
 * (uppercase hex), so two ids never share a name and the name decodes back to the id. `.` and `..`
 * become `%2E` and `%2E%2E`, the empty id `%` (no encoding ends in a bare `%`). A name longer than
 * 200 bytes is cut (never inside a `%XX`) and ends `~` + 16 hex digits of the id's SHA-256: `~` is
 * always encoded otherwise, so only cut names contain it.
 */
export function safeId(id: string): string {
  if (id === '') return '%';
  if (id === '.' || id === '..') return id.replaceAll('.', '%2E');
  let name = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    name += /[A-Za-z0-9._-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16);
  let cut = MAX_NAME - hash.length - 1;
  // Do not end inside an escape: back up to before its '%'.
  const lastPercent = name.lastIndexOf('%', cut - 1);
  if (lastPercent >= 0 && lastPercent > cut - 3) cut = lastPercent;
  return `${name.slice(0, cut)}~${hash}`;
}
