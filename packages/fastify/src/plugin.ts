import {
  isTenantryError,
  tenancy as sharedTenancy,
  type Tenancy,
  TenancyConfigError,
  type TenantryError,
  type TenantScope,
} from '@tenantry/context'
import type {
  FastifyBaseLogger,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify'
import fp from 'fastify-plugin'
import { InvalidTenantRequestError, TenantNotFoundError, TenantRequiredError } from './errors.js'
import { hookInFrame } from './in-frame.js'
import { onResponseInFrame } from './on-response.js'
import {
  kHandler,
  kRequest,
  kScope,
  onResponseClose,
  outside,
  type RunScope,
  releaseAfterHandler,
  type ScopedRequest,
} from './request-scope.js'
import type { TenantResolver } from './resolvers.js'
import { routeConfigOf } from './route-config.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's tenant (set by `@tenantry/fastify`), `undefined` when untenanted. */
    tenant: string | undefined
  }
  interface FastifyContextConfig {
    /**
     * `false`: this route never resolves a tenant (health checks, landing page, admin).
     * `'required'`: a request without a tenant is answered 404 (like an unknown tenant).
     * `'optional'`: may run untenanted even when the plugin's `requireTenant` is on.
     * `true` or unset: the plugin's default.
     */
    tenant?: boolean | 'required' | 'optional' | undefined
  }
}

/** Options of the {@link tenantry} plugin. */
export interface TenantryFastifyOptions {
  /** Finds the tenant of a request; see `fromSubdomain`, `fromPath`, `fromHeader`, `firstOf`. */
  resolve: TenantResolver
  /** The tenancy to enter; default the shared one of `@tenantry/context`. */
  tenancy?: Tenancy | undefined
  /**
   * Status for a name the naming rule refuses: 400 (default, code
   * `TENANTRY_INVALID_TENANT_NAME`) or 404 (answered exactly like an unknown tenant).
   */
  invalidNameStatus?: 400 | 404 | undefined
  /**
   * Every route needs a tenant unless its config says `tenant: false` or `'optional'`;
   * default false (routes opt in with `config: { tenant: 'required' }`).
   */
  requireTenant?: boolean | undefined
  /**
   * Status for a tenant-required route asked for without a tenant: 404 (default, code
   * `TENANTRY_UNKNOWN_TENANT`) or 400 (code `TENANTRY_INVALID_TENANT_NAME`).
   */
  missingTenantStatus?: 400 | 404 | undefined
  /** Send the tenant back in a response header (`true` = `x-tenant`); off by default. */
  replyHeader?: boolean | string | undefined
  /** Add `tenant` to the request's logger (`request.log`, `reply.log`); default true. */
  logBindings?: boolean | undefined
}

type Done = HookHandlerDoneFunction

// The route-option hooks wrapped to run in the request's frame (as addHook's are).
const ROUTE_HOOKS_IN_FRAME = ['onResponse', 'onTimeout', 'onRequestAbort'] as const

// Per-route modes, decided once in onRoute and kept in the route's config.
const kMode = Symbol('tenantry.fastify.mode')
const SKIP = 0
const OPTIONAL = 1
const REQUIRED = 2
type Mode = typeof SKIP | typeof OPTIONAL | typeof REQUIRED
type Config = { tenant?: boolean | 'required' | 'optional'; [kMode]?: Mode }

// Set by @tenantry/log on loggers whose mixin already adds `tenant` (a registered symbol, so
// this adapter needs no dependency on the log package): binding it again would repeat the key.
const TAGS_TENANT = Symbol.for('tenantry.log.tagsTenant')
const BODY_METHODS = new Set([
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'TRACE',
  'SEARCH',
  'REPORT',
  'MKCALENDAR',
  'QUERY',
])

const plugin: FastifyPluginCallback<TenantryFastifyOptions> = (fastify, options, next) => {
  if (typeof options?.resolve !== 'function') {
    next(
      new TenancyConfigError(
        '@tenantry/fastify needs a `resolve` option, e.g. { resolve: fromSubdomain({ root: "example.com" }) }.',
      ),
    )
    return
  }
  const tenancy = options.tenancy ?? sharedTenancy
  const resolve = options.resolve
  const invalidAs404 = options.invalidNameStatus === 404
  const missingStatus = options.missingTenantStatus === 400 ? 400 : 404
  const defaultMode: Mode = options.requireTenant === true ? REQUIRED : OPTIONAL
  const header =
    options.replyHeader === true
      ? 'x-tenant'
      : typeof options.replyHeader === 'string'
        ? options.replyHeader
        : undefined
  const logBindings = options.logBindings !== false
  const rootLog = fastify.log
  const allowSwitch = { allowSwitch: true } // a request is a root of work, whatever called inject()

  // Only `tenant` is a decorator: Fastify copies each decorator onto every request in a loop
  // whose keyed store turns megamorphic past four keys (~1.4k instructions a request for our
  // four symbols, under callgrind). Those are set where needed and read as absent otherwise.
  fastify.decorateRequest('tenant', undefined)

  const toHttpError = (error: unknown, name: string): unknown => {
    if (isTenantryError(error, 'TENANTRY_UNKNOWN_TENANT'))
      return new TenantNotFoundError(name, { cause: error })
    if (isTenantryError(error, 'TENANTRY_INVALID_TENANT_NAME'))
      return invalidAs404
        ? new TenantNotFoundError(shorten(name), { cause: error })
        : new InvalidTenantRequestError((error as TenantryError).message, { cause: error })
    return error
  }

  const bindLog = (request: FastifyRequest, reply: FastifyReply, tenant: string): void => {
    const log = request.log as FastifyBaseLogger & { setBindings?: (b: object) => void }
    if (log === rootLog) return // logging disabled: the "child" is the root itself
    if ((log as unknown as Record<symbol, unknown>)[TAGS_TENANT] === true) return // a mixin does it
    if (typeof log.setBindings === 'function') {
      log.setBindings({ tenant }) // pino: extends this request's own child, no second child
    } else {
      const child = log.child({ tenant })
      request.log = child
      reply.log = child
    }
  }

  const start = (
    request: ScopedRequest,
    reply: FastifyReply,
    handle: TenantScope,
    done: Done,
  ): void => {
    request[kScope] = handle
    const tenant = handle.tenant
    request.tenant = tenant
    if (header !== undefined) reply.header(header, tenant)
    if (logBindings) bindLog(request, reply, tenant)
    // The response's close ends the scope (or hands it to the last onResponse hook at work):
    // every request has one, aborted ones, upgrades and requests with a body included. One
    // shared listener, which finds the request on the response: no closure per request.
    const raw = reply.raw as unknown as Record<symbol, unknown>
    raw[kRequest] = request
    reply.raw.on('close', onResponseClose)
    handle.run(done) // the rest of the request starts here, inside the tenant's frame
    // An async resolver or tenant source may answer after the client has gone: then the
    // response's close came already and will not come again.
    if (reply.raw.closed) releaseAfterHandler(request)
  }

  // enterScope, not withTenant: a request ends with an event (the response finishing), so the
  // scope is closed from there, with no pending promise per request.
  const enter = (request: ScopedRequest, reply: FastifyReply, name: string, done: Done): void => {
    let opened: TenantScope | Promise<TenantScope>
    try {
      opened = tenancy.enterScope(name, allowSwitch)
    } catch (error) {
      done(toHttpError(error, name) as Error)
      return
    }
    if (!(opened instanceof Promise)) {
      start(request, reply, opened, done)
      return
    }
    opened.then(
      (handle) => start(request, reply, handle, done),
      (error: unknown) => done(toHttpError(error, name) as Error),
    )
  }

  // Untenanted: outside any tenant. In production the HTTP parser's context is empty already;
  // a caller's context (a test's inject() inside a tenant) is left.
  const untenanted = (request: ScopedRequest, mode: Mode | undefined, done: Done): void => {
    if (mode === REQUIRED) {
      done(new TenantRequiredError(request.url, missingStatus))
      return
    }
    // In production there is no caller context: the HTTP parser's is empty. A caller's tenant
    // (a test's inject() inside one) is left, with its switch guard.
    if (tenancy.currentTenant() === undefined) {
      tenancy.detached(done)
      return
    }
    const scope = outside(tenancy)
    request[kScope] = scope
    scope.run(done)
  }

  fastify.addHook('onRequest', function onRequest(request, reply, done) {
    const mode = (routeConfigOf(request) as Config | undefined)?.[kMode]
    if (mode === SKIP) return untenanted(request as ScopedRequest, mode, done)
    let found: ReturnType<TenantResolver>
    try {
      found = resolve(request)
    } catch (error) {
      return done(error as Error)
    }
    if (typeof found === 'string') return enter(request as ScopedRequest, reply, found, done)
    if (found === undefined) return untenanted(request as ScopedRequest, mode, done)
    Promise.resolve(found).then(
      (name) =>
        name === undefined
          ? untenanted(request as ScopedRequest, mode, done)
          : enter(request as ScopedRequest, reply, name, done),
      done,
    )
  })

  // Fastify resumes a request from events of its own: onResponse runs in the response's
  // 'finish', onTimeout in the socket's 'timeout', onRequestAbort in the request's 'close';
  // errors raised there go through onError. Those phases run in the request's frame: onError
  // through a hook of ours that re-enters it (free until an error happens), the others by
  // wrapping each hook added after the plugin (a hook of ours would cost every request). (Body
  // parsing is handled per route, below.) The other phases follow one of these in the same
  // call chain, so they are in the frame already.
  const inFrame = (scope: RunScope): boolean => tenancy.currentTenant() === scope.tenant
  fastify.addHook('onError', (request, _reply, _error, done) => {
    const scope = (request as ScopedRequest)[kScope]
    if (scope == null || inFrame(scope)) done()
    else scope.run(done)
  })
  // Hooks added from here on (here or in child plugins, which inherit addHook): onResponse
  // ones run in the frame and hold the scope until the last one ends (see on-response.ts);
  // onTimeout and onRequestAbort ones run in the frame (see in-frame.ts).
  const addHook = fastify.addHook
  fastify.addHook = function addHookInFrame(this: typeof fastify, name: string, fn: unknown) {
    const hook = typeof fn === 'function' ? wrapHook(name, fn) : fn
    return (addHook as (n: string, f: unknown) => typeof fastify).call(this, name, hook)
  } as typeof fastify.addHook
  const wrapOnResponse = (fn: unknown) => onResponseInFrame(fn as never, inFrame)
  const wrapHook = (name: string, fn: unknown): unknown =>
    name === 'onResponse'
      ? wrapOnResponse(fn)
      : name === 'onTimeout' || name === 'onRequestAbort'
        ? hookInFrame(name, fn as never, inFrame)
        : fn

  // Per route: its own onResponse, onTimeout and onRequestAbort hooks wrapped like the
  // instance's; for routes that can carry a body, a last preParsing hook that makes the body's
  // events run in the frame; the handler's promise, kept for the case where the client goes away.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as Config
    const mode: Mode =
      config.tenant === false
        ? SKIP
        : config.tenant === 'required'
          ? REQUIRED
          : config.tenant === 'optional'
            ? OPTIONAL
            : defaultMode
    route.config = { ...config, [kMode]: mode } as NonNullable<typeof route.config>
    for (const name of ROUTE_HOOKS_IN_FRAME) {
      const hooks = route[name]
      if (hooks !== undefined) route[name] = asArray(hooks).map((fn) => wrapHook(name, fn)) as never
    }
    const methods = asArray(route.method)
    if (methods.some((m) => BODY_METHODS.has(m.toUpperCase())))
      route.preParsing = [...asArray(route.preParsing), bodyInFrame as never]
    const handler = route.handler
    route.handler = function tenantScopedHandler(this: unknown, request, reply) {
      const result = handler.call(this as never, request, reply) as unknown
      if (isThenable(result)) (request as ScopedRequest)[kHandler] = result
      return result as never
    }
  })

  next()
}

// Fastify reads a body by listening to the payload stream's 'data' and 'end', which the HTTP
// parser emits from the socket's context: the frame is lost there, and preValidation, the
// body parser's errors (onError) and the handler would run outside the tenant. Emitting the
// payload's listeners inside the frame keeps all of them in it, custom content-type parsers too.
// Only requests that have a body pay for it.
function bodyInFrame(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: NodeJS.ReadableStream,
  done: (err: Error | null, stream?: NodeJS.ReadableStream) => void,
): void {
  const r = request as ScopedRequest
  const scope = r[kScope]
  if (scope != null && hasBody(request)) {
    // Listeners other than 'data' (which only collects) run in the frame: Fastify's 'end' and
    // 'error', a custom parser's. `listener` lets removeListener(fn) find the wrapper.
    const stream = payload as unknown as Record<'on' | 'addListener', Listen>
    const on = stream.on
    const inFrame: Listen = function (this: unknown, event, listener) {
      if (event === 'data') return on.call(this, event, listener)
      const wrapped = function (this: unknown, ...args: unknown[]) {
        return scope.run(() => listener.apply(this, args))
      }
      ;(wrapped as { listener?: unknown }).listener = listener
      return on.call(this, event, wrapped)
    }
    stream.on = inFrame
    stream.addListener = inFrame
  }
  done(null, payload)
}

type Listen = (
  this: unknown,
  event: string | symbol,
  listener: (...args: unknown[]) => unknown,
) => unknown

function hasBody(request: FastifyRequest): boolean {
  const h = request.headers
  const length = h['content-length']
  return h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function shorten(name: string): string {
  return name.length > 63 ? `${name.slice(0, 60)}...` : name
}

/**
 * The tenantry plugin for Fastify 5: resolves each request's tenant and runs the whole request
 * (every later hook, the handler, the reply) inside the tenant's frame. Register it before
 * your routes and other plugins so its hooks run first.
 *
 * ```ts
 * await app.register(tenantry, { resolve: fromSubdomain({ root: 'example.com' }) })
 * ```
 */
export const tenantry = fp(plugin, { fastify: '5.x', name: '@tenantry/fastify' })
