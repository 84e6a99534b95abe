// Whether this code runs from the bundled CLI (scripts/build.mjs) or from source (tests, tsx).

declare const SLUICE_BUNDLE: boolean | undefined;

/** True in the built CLI, where every module shares dist/cli/ and worker files have bundled names. */
export const BUNDLED = typeof SLUICE_BUNDLE !== 'undefined';

/** A worker-thread entry beside the calling module (`./worker.js`), or its bundled name in dist/cli/. */
export function workerUrl(base: string, bundledName: string): URL {
  return new URL(BUNDLED ? `./${bundledName}.js` : './worker.js', base);
}
