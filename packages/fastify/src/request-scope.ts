// One request's stay in its tenant, kept in fields of the request itself (no object or closure
// per request): the core's scope handle, the onResponse hooks at work, whether the response
// has closed, and the route handler's promise (waited for only when the client went away).
// The fields are not Fastify decorators (see plugin.ts): each is absent until first set.
import type { Tenancy, TenantScope } from '@tenantry/context'
import type { FastifyRequest } from 'fastify'

/** The request's scope: the core's handle, or {@link outside} for an untenanted request in a caller's context. */
export const kScope = Symbol('tenantry.fastify.scope')
/** How many of the route's onResponse hooks (wrapped by us) are running now. */
export const kActive = Symbol('tenantry.fastify.active')
/** The response closed while onResponse hooks were at work: the last of them to end releases. */
export const kClosed = Symbol('tenantry.fastify.closed')
/** On the raw response: its Fastify request, for the shared `close` listener. */
export const kRequest = Symbol('tenantry.fastify.request')
/** The route handler's promise, if it returned one. */
export const kHandler = Symbol('tenantry.fastify.handler')

/** What a scope needs from the core's handle: run in it, close it. */
export interface RunScope {
  readonly tenant: string | undefined
  run<R>(fn: () => R): R
  close(): void
}

/** The request as this plugin sees it. */
export type ScopedRequest = FastifyRequest & {
  [kScope]?: RunScope | null
  [kActive]?: number
  [kClosed]?: boolean
  [kHandler]?: PromiseLike<unknown>
}

// How long a finished response waits for its onResponse hooks before its scope is released
// anyway (an onResponse hook that never calls `done` would otherwise hold it forever).
const GRACE_MS = 10_000

/** Closes the request's scope once; later calls do nothing. */
export function release(request: ScopedRequest): void {
  const scope = request[kScope]
  if (scope == null) return
  request[kScope] = null
  scope.close()
}

/** After an abort: release once the handler has settled (it may still use the tenant's resources). */
export function releaseAfterHandler(request: ScopedRequest): void {
  const handler = request[kHandler]
  const done = () => release(request)
  if (handler !== undefined) handler.then(done, done)
  else setImmediate(done) // after the onRequestAbort hooks of this abort
}

/** An onResponse hook is still at work: release after a grace period at the latest. */
export function releaseLater(request: ScopedRequest): void {
  setTimeout(() => release(request), GRACE_MS).unref()
}

/**
 * The raw response's `close` (one shared function: `this` is the response), the one end signal
 * every request has: after a finished response (then its onResponse hooks ran already, or the
 * last of them releases) and after a client that went away (then no onResponse will run).
 */
export function onResponseClose(this: { writableFinished: boolean; [kRequest]?: unknown }): void {
  const request = this[kRequest] as ScopedRequest | undefined
  if (request === undefined || request[kScope] == null) return
  const active = request[kActive]
  if (active !== undefined && active > 0) {
    request[kClosed] = true // the last of them releases
    releaseLater(request) // at the latest: a hook may never call done
  } else if (this.writableFinished) release(request)
  else releaseAfterHandler(request)
}

/**
 * A stand-in scope for an untenanted request made from inside some context (a test's
 * `app.inject()` in a tenant): runs outside any tenant, without the caller's switch guard,
 * keeping only the overrides made outside tenants, as a real request would have.
 */
export function outside(tenancy: Tenancy): RunScope {
  const run = tenancy.snapshot()
  return {
    tenant: undefined,
    run: <R>(fn: () => R): R => run(() => tenancy.detached(fn)),
    close() {},
  }
}

/** The core's handle as a {@link RunScope} (the same object: it has `tenant`, `run`, `close`). */
export function asRunScope(handle: TenantScope): RunScope {
  return handle
}
