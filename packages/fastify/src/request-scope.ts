// One request's stay in its tenant, kept in three fields of the request itself (no object or
// closure per request): the core's scope handle, whether the onResponse chain has started, and
// the route handler's promise (waited for only when the client went away).
import type { Tenancy, TenantScope } from '@tenantry/context'
import type { FastifyRequest } from 'fastify'

/** The request's scope: the core's handle, or {@link outside} for an untenanted request in a caller's context. */
export const kScope = Symbol('tenantry.fastify.scope')
/** The onResponse chain has started: our last onResponse hook (or the grace timer) releases. */
export const kResponding = Symbol('tenantry.fastify.responding')
/** The route handler's promise, if it returned one. */
export const kHandler = Symbol('tenantry.fastify.handler')
/** The client went away before the scope was opened (an async resolver was still at work). */
export const kGone = Symbol('tenantry.fastify.gone')

/** What a scope needs from the core's handle: run in it, close it. */
export interface RunScope {
  readonly tenant: string | undefined
  run<R>(fn: () => R): R
  close(): void
}

/** The request as this plugin sees it. */
export type ScopedRequest = FastifyRequest & {
  [kScope]: RunScope | null
  [kResponding]: boolean
  [kHandler]: PromiseLike<unknown> | null
  [kGone]: boolean
}

// How long a finished response waits for its onResponse hooks before its scope is released
// anyway (a failing onResponse hook stops the chain, so our last hook would never run).
const GRACE_MS = 10_000

/** Closes the request's scope once; later calls do nothing. */
export function release(request: ScopedRequest): void {
  const scope = request[kScope]
  if (scope === null) return
  request[kScope] = null
  scope.close()
}

/** After an abort: release once the handler has settled (it may still use the tenant's resources). */
export function releaseAfterHandler(request: ScopedRequest): void {
  const handler = request[kHandler]
  const done = () => release(request)
  if (handler !== null) handler.then(done, done)
  else setImmediate(done) // after the other onRequestAbort hooks of this event
}

/** The onResponse chain went async (or stopped): release after a grace period at the latest. */
export function releaseLater(request: ScopedRequest): void {
  setTimeout(() => release(request), GRACE_MS).unref()
}

/**
 * The response's `close`, for requests whose end no hook of ours sees: a body was read (then a
 * client abort raises no onRequestAbort), or a route that has no last hook of ours.
 */
export function onResponseClose(request: ScopedRequest, managed: boolean): void {
  if (request[kScope] === null) return
  if (request[kResponding]) {
    if (!managed) setImmediate(() => release(request)) // no last hook: after the sync ones
    return
  }
  releaseAfterHandler(request) // the client went away: no onResponse will run
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
