// onResponse hooks run from the response's 'finish', outside the request's frame, and may
// still be at work when the response closes. Rather than hooks of our own on every route
// (which make Fastify set up its response listeners and hook runner for every request), each
// onResponse hook added after the plugin is wrapped: it re-enters the frame, and the scope is
// released when the last one running ends after the response closed. Routes without
// onResponse hooks pay nothing here.
import { isThenable } from '@tenantry/context/internal'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import {
  kActive,
  kClosed,
  kScope,
  type RunScope,
  release,
  type ScopedRequest,
} from './request-scope.js'

type Hook = (
  this: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
) => unknown

const wrappedHooks = new WeakSet<object>()

/**
 * `fn` run inside the request's frame, counted in `kActive` until it calls `done`, returns or
 * rejects; the last one to end after the response closed releases the scope.
 */
export function onResponseInFrame(fn: Hook, inFrame: (scope: RunScope) => boolean): Hook {
  // An async function taking `done` is refused by Fastify: pass it through to get its error.
  if (wrappedHooks.has(fn) || (fn.constructor.name === 'AsyncFunction' && fn.length === 3))
    return fn
  const wrapped: Hook = function tenantScopedOnResponse(this: unknown, request, reply, done) {
    const r = request as ScopedRequest
    const scope = r[kScope]
    if (scope == null) return fn.call(this, request, reply, done)
    r[kActive] = (r[kActive] ?? 0) + 1
    let ended = false
    const end = (error?: Error) => {
      if (ended) return
      ended = true
      done(error) // starts the next hook synchronously: it counts itself before this one stops
      const active = (r[kActive] as number) - 1
      r[kActive] = active
      if (active === 0 && r[kClosed] === true) release(r)
    }
    let result: unknown
    try {
      result = inFrame(scope)
        ? fn.call(this, request, reply, end)
        : scope.run(() => fn.call(this, request, reply, end))
    } catch (error) {
      end(error as Error)
      return undefined
    }
    if (isThenable(result))
      result.then(
        () => end(),
        // Passed on as it came, as Fastify's own hook runner does (it logs what it gets).
        (error: unknown) => end(error as Error),
      )
    return undefined // we call done ourselves, whichever style the hook has
  }
  wrappedHooks.add(wrapped)
  return wrapped
}
