// onTimeout runs from the socket's 'timeout' and onRequestAbort from the request's 'close':
// both outside the request's frame. A hook of our own for each would cost every request
// (Fastify then sets up a socket object and timeout listener, or a 'close' closure, per
// request), so each such hook added after the plugin is wrapped instead: it runs in the frame.
// Routes without these hooks pay nothing. (Releasing after an abort is the response's 'close'.)
import type { FastifyRequest } from 'fastify'
import { kScope, type RunScope, type ScopedRequest } from './request-scope.js'

type AnyHook = (this: unknown, request: FastifyRequest, ...rest: unknown[]) => unknown

const wrappedHooks = new WeakSet<object>()

/**
 * `fn` (an `onTimeout` or `onRequestAbort` hook) run inside its request's frame when that is
 * not current; its result (a promise for async hooks) and `done` are passed through unchanged.
 */
export function hookInFrame(
  name: 'onTimeout' | 'onRequestAbort',
  fn: AnyHook,
  inFrame: (scope: RunScope) => boolean,
): AnyHook {
  if (wrappedHooks.has(fn) || refused(name, fn)) return fn
  const wrapped: AnyHook = function tenantScopedHook(this: unknown, request, ...rest) {
    const scope = (request as ScopedRequest)[kScope]
    if (scope == null || inFrame(scope)) return fn.call(this, request, ...rest)
    return scope.run(() => fn.call(this, request, ...rest))
  }
  wrappedHooks.add(wrapped)
  return wrapped
}

// Fastify refuses an async function that also takes `done` (for onRequestAbort: any async one
// not taking exactly the request): pass it through unwrapped so Fastify's own error is raised.
function refused(name: string, fn: AnyHook): boolean {
  if (fn.constructor.name !== 'AsyncFunction') return false
  return name === 'onRequestAbort' ? fn.length !== 1 : fn.length === 3
}
