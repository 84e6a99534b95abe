// The one order every source lists in: names by UTF-8 bytes, a folder's contents where the folder's
// name (with its trailing '/') sorts. Blob storage lists in exactly this order, so a listing can
// resume after the last name it stored (the cursor) on any source.

export function compareNames(a: string, b: string): number {
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
