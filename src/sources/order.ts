// The one order every source lists in: names by UTF-8 bytes, a folder's contents where the folder's
// name (with its trailing '/') sorts. Blob storage lists in exactly this order, so a listing can
// resume after the last name it stored (the cursor) on any source.

/** A surrogate: the one place where UTF-16 order and UTF-8 byte order disagree. */
const SURROGATE = /[\ud800-\udfff]/;

export function compareNames(a: string, b: string): number {
  // Without surrogates, comparing UTF-16 code units orders code points, and so UTF-8 bytes.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Every name inside `folder` (which ends with '/') sorts at or before `after`: skip the folder. */
export function folderBeforeCursor(folder: string, after: string | undefined): boolean {
  return after !== undefined && !after.startsWith(folder) && compareNames(folder, after) < 0;
}

/** Every name inside `folder` sorts after `after`: list it whole, with no cursor checks. */
export function folderAfterCursor(folder: string, after: string | undefined): boolean {
  return after === undefined || (!after.startsWith(folder) && compareNames(folder, after) > 0);
}

/** A name at or before the cursor was stored by the interrupted listing already. */
export function nameBeforeCursor(name: string, after: string | undefined): boolean {
  return after !== undefined && compareNames(name, after) <= 0;
}
