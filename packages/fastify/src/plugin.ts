import {
  isTenantryError,
  tenancy as sharedTenancy,
  type Tenancy,
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
import { InvalidTenantRequestError, TenantNotFoundError } from './errors.js'
import type { TenantResolver } from './resolvers.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's tenant (set by `@tenantry/fastify`), `undefined` when untenanted. */
    tenant: string | undefined
  }
  interface FastifyContextConfig {
    /** `false`: this route never resolves a tenant (health checks, landing page, admin). */
    tenant?: boolean
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
  /** Send the tenant back in a response header (`true` = `x-tenant`); off by default. */
  replyHeader?: boolean | string | undefined
  /** Add `tenant` to the request's logger (`request.log`, `reply.log`); default true. */
  logBindings?: boolean | undefined
}

type Runner = <R>(fn: () => R) => R

// How long a finished response waits for its onResponse hooks before its scope is released
// anyway (a failing onResponse hook stops the chain, so our last hook would never run).
const GRACE_MS = 10_000

/**
 * One request's stay inside its tenant: the runner to re-enter it, and when to leave: after
 * the last onResponse hook, or, when the client went away, once the handler has settled.
 */
class RequestScope {
  tenant = ''
  run: Runner = runDirectly
  /** The onResponse chain has started (so our last onResponse hook is due). */
  responding = false
  /** The response part is done (finished and through onResponse, or aborted). */
  responded = false
  /** The route handler's promise, if it returned one. */
  handler: PromiseLike<unknown> | null = null
  private release: () => void = noop

  constructor(readonly hasFinalHook: boolean) {}

  open(tenant: string, run: Runner, release: () => void): void {
    this.tenant = tenant
    this.run = run
    this.release = release
  }

  /** The response is over (or abandoned): the scope closes. */
  finish(): void {
    if (this.responded) return
    this.responded = true
    this.release()
  }

  // The raw response closes after it finished (then the onResponse hooks may still be running)
  // or when the client went away (then no onResponse hook runs at all).
  onClose(): void {
    if (this.responded) return
    if (this.responding && this.hasFinalHook) {
      setTimeout(() => this.finish(), GRACE_MS).unref()
    } else if (this.handler !== null) {
      // The client went away: no onResponse will run, but the handler may still be at work.
      const finish = () => this.finish()
      this.handler.then(finish, finish)
    } else {
      setImmediate(() => this.finish()) // after onRequestAbort hooks, which run on this event too
    }
  }
}

const runDirectly: Runner = (fn) => fn()
function noop(): void {}

const kScope = Symbol('tenantry.fastify.scope')
// Set by @tenantry/log on loggers whose mixin already adds `tenant` (a registered symbol, so
// this adapter needs no dependency on the log package): binding it again would repeat the key.
const TAGS_TENANT = Symbol.for('tenantry.log.tagsTenant')
const kFinal = Symbol('tenantry.fastify.finalHook')

type WithScope = FastifyRequest & { [kScope]: RequestScope | null }
type Done = HookHandlerDoneFunction

const plugin: FastifyPluginCallback<TenantryFastifyOptions> = (fastify, options, next) => {
  if (typeof options?.resolve !== 'function') {
    next(
      new TypeError(
        '@tenantry/fastify needs a `resolve` option, e.g. { resolve: fromSubdomain({ root: "example.com" }) }.',
      ),
    )
    return
  }
  const tenancy = options.tenancy ?? sharedTenancy
  const resolve = options.resolve
  const invalidAs404 = options.invalidNameStatus === 404
  const header =
    options.replyHeader === true
      ? 'x-tenant'
      : typeof options.replyHeader === 'string'
        ? options.replyHeader
        : undefined
  const logBindings = options.logBindings !== false
  const rootLog = fastify.log
  const allowSwitch = { allowSwitch: true } // a request is a root of work, whatever called inject()

  fastify.decorateRequest('tenant', undefined)
  fastify.decorateRequest(kScope as unknown as string, null)

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
    request: FastifyRequest,
    reply: FastifyReply,
    handle: TenantScope,
    hasFinalHook: boolean,
    done: Done,
  ): void => {
    const scope = new RequestScope(hasFinalHook)
    const tenant = handle.tenant
    scope.open(
      tenant,
      (fn) => handle.run(fn),
      () => handle.close(),
    )
    ;(request as WithScope)[kScope] = scope
    request.tenant = tenant
    if (header !== undefined) reply.header(header, tenant)
    if (logBindings) bindLog(request, reply, tenant)
    // An async resolver or tenant source may answer after the client has gone: then 'close'
    // has fired already and will not come again, so act on it once the request has moved on.
    const gone = (reply.raw as { closed?: boolean }).closed === true
    if (!gone) reply.raw.on('close', () => scope.onClose())
    handle.run(done) // the rest of the request starts here, inside the tenant's frame
    if (gone) scope.onClose()
  }

  // enterScope, not withTenant: a request ends with an event (the response finishing), so the
  // scope is closed from there, with no pending promise per request.
  const enter = (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    hasFinalHook: boolean,
    done: Done,
  ): void => {
    let opened: TenantScope | Promise<TenantScope>
    try {
      opened = tenancy.enterScope(name, allowSwitch)
    } catch (error) {
      done(toHttpError(error, name) as Error)
      return
    }
    if (!(opened instanceof Promise)) {
      start(request, reply, opened, hasFinalHook, done)
      return
    }
    opened.then(
      (handle) => start(request, reply, handle, hasFinalHook, done),
      (error: unknown) => done(toHttpError(error, name) as Error),
    )
  }

  fastify.addHook('onRequest', function onRequest(request, reply, done) {
    const config = request.routeOptions.config as { tenant?: boolean; [kFinal]?: true }
    if (config.tenant === false) return done()
    let found: ReturnType<TenantResolver>
    try {
      found = resolve(request)
    } catch (error) {
      return done(error as Error)
    }
    const hasFinal = config[kFinal] === true
    if (found === undefined) return done()
    if (typeof found === 'string') return enter(request, reply, found, hasFinal, done)
    Promise.resolve(found).then(
      (name) => (name === undefined ? done() : enter(request, reply, name, hasFinal, done)),
      done,
    )
  })

  // Fastify resumes a request from events of its own: body parsing ends in the socket's 'end'
  // event (then preValidation runs), onResponse runs in the response's 'finish', onTimeout in
  // the socket's 'timeout', onRequestAbort in the request's 'close', and errors raised there
  // (a malformed body) go through onError. Those phases start by re-entering the request's
  // frame. The others follow one of them in the same call chain (preParsing after onRequest,
  // preHandler after preValidation, preSerialization and onSend after the handler's send), so
  // they are in the frame already: a hook there costs every request and buys nothing.
  const inFrame = (scope: RequestScope): boolean => tenancy.currentTenant() === scope.tenant
  const reenter = (request: FastifyRequest, _reply: FastifyReply, done: Done): void => {
    const scope = (request as WithScope)[kScope]
    if (scope === null || inFrame(scope)) done()
    else scope.run(done)
  }

  fastify.addHook('preValidation', reenter)
  fastify.addHook('onTimeout', reenter)
  fastify.addHook('onError', (request, reply, _error, done) => reenter(request, reply, done))
  fastify.addHook('onRequestAbort', (request, done) => {
    const scope = (request as WithScope)[kScope]
    if (scope === null || inFrame(scope)) done()
    else scope.run(done)
  })
  fastify.addHook('onResponse', (request, reply, done) => {
    const scope = (request as WithScope)[kScope]
    if (scope !== null) scope.responding = true
    reenter(request, reply, done)
  })

  // The scope must outlive every onResponse hook, and route-level hooks run after the
  // instance-level ones: so each route gets a last onResponse hook that releases it.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if ((route.config as { tenant?: boolean } | undefined)?.tenant === false) return
    const own = route.onResponse
    route.onResponse = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), release]
    route.config = { ...route.config, [kFinal]: true } as NonNullable<typeof route.config>
    // A handler may still be working after the client went away: then its tenant's resources
    // stay pinned until it settles. Only the promise is kept here; it is waited for only on
    // an abort, so a normal request pays no extra promise.
    const handler = route.handler
    route.handler = function tenantScopedHandler(this: unknown, request, reply) {
      const result = handler.call(this as never, request, reply) as unknown
      const scope = (request as WithScope)[kScope]
      if (scope !== null && isThenable(result)) scope.handler = result
      return result as never
    }
  })

  next()
}

function release(request: FastifyRequest, _reply: FastifyReply, done: Done): void {
  ;(request as WithScope)[kScope]?.finish()
  done()
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
 * (every later hook, the handler, the reply) inside `withTenant`. Register it before your
 * routes and other plugins so its hooks run first.
 *
 * ```ts
 * await app.register(tenantry, { resolve: fromSubdomain({ root: 'example.com' }) })
 * ```
 */
export const tenantry = fp(plugin, { fastify: '5.x', name: '@tenantry/fastify' })
