/**
 * `@tenantry/context/internal` — small helpers the tenantry packages share. Not part of the
 * public API: names and behaviour may change in any release. Applications should not import it.
 *
 * @packageDocumentation
 */

/** Runs a callback in a captured context (what `snapshot()` returns, what `TenantScope.run` is). */
export type Runner = <R>(fn: () => R) => R

/** Does nothing: a shared callback for ignored results (`promise.catch(noop)`). */
export function noop(): void {}

/**
 * True for any thenable: a native promise, another library's promise, or an object or function
 * with a `then` method (what `await` would adopt). Plain objects and functions without `then`
 * are not thenables.
 */
export function isThenable<T = unknown>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * One line for an error in logs and job records: `CODE: message` when the error has a string
 * `code` (tenantry's, Node's `ENOENT`, SQLite's), else `Name: message`, else `String(error)`.
 */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string'
      ? `${code}: ${error.message}`
      : `${error.name}: ${error.message}`
  }
  return String(error)
}
