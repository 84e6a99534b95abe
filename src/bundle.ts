// Whether this code runs from the bundled CLI (scripts/build.mjs) or from source (tests, tsx).

declare const SLUICE_BUNDLE: boolean | undefined;

/** True in the built CLI, where every module shares dist/cli/ and worker files have bundled names. */
export const BUNDLED = typeof SLUICE_BUNDLE !== 'undefined';

/**
 * A worker-thread entry beside the calling module, or its bundled name in dist/cli/. From source
 * (tests, tsx) the entry has the caller's own extension: a loader maps `./worker.js` to
 * `worker.ts` only for imports made from TypeScript, and the pool's thread imports it from JS.
 */
export function workerUrl(base: string, bundledName: string): URL {
  if (BUNDLED) return new URL(`./${bundledName}.js`, base);
  return new URL(base.endsWith('.ts') ? './worker.ts' : './worker.js', base);
}
