// What kind of store a location names, without loading any store: the rows writer's thread asks it
// (rows/paths.ts) and must not load SQLite's addon for that.

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}
