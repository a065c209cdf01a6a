// Where a thread's entry module is: beside the module that starts the thread, `.ts` under a
// TypeScript loader (the tests run src/), `.js` from dist/.

/** `relative` (no extension) resolved from `from` (the caller's import.meta.url), as a file URL. */
export function threadEntry(from: string, relative: string): URL {
  return new URL(`${relative}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}
