import { tenancy as defaultTenancy, type Tenancy, TenantryError } from '@tenantry/context'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_TESTING_INJECT: true
  }
}

/** {@link injectAs} was called with a request it cannot name the tenant in. */
export class InjectAsError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_TESTING_INJECT', message)
  }
}

/** Anything with Fastify's `inject` (a Fastify instance, before or after `ready()`). */
export interface Injectable {
  inject(options: InjectOptions): Promise<LightMyRequestResponse>
}

/** Options of {@link injectAs}. */
export interface InjectAsOptions {
  /**
   * How the tenant is named in the request: `'host'` (default) sends `Host: <tenant>.<domain>`
   * (for `fromSubdomain`), `'path'` prefixes the URL with `<pathPrefix>/<tenant>` (for
   * `fromPath('/t/:tenant')`), `'header'` sends `<header>: <tenant>` (for `fromHeader`).
   */
  via?: 'host' | 'path' | 'header'
  /** The domain tenants live under; default `localhost` (`acme.localhost`). */
  domain?: string
  /** The path prefix before the tenant; default `/t`. */
  pathPrefix?: string
  /** The header for `via: 'header'`; default `x-tenant`. */
  header?: string
  /** The tenancy whose context is adjusted; default: the shared default tenancy. */
  tenancy?: Tenancy
}

/**
 * Injects a request into a Fastify app as `tenant`, named by host, path or header:
 *
 * ```ts
 * const res = await injectAs(app, 'acme', { method: 'GET', url: '/pages' })          // Host: acme.localhost
 * const res2 = await injectAs(app, 'acme', '/pages', { via: 'path' })                  // GET /t/acme/pages
 * ```
 *
 * Called from inside the worker tenant (`tt.use()`), a request for that same tenant runs in
 * the test's context and so sees its uncommitted rows and mocks. A request for another tenant
 * runs outside the test's tenant (its transaction and switch guard do not apply), keeping
 * only the overrides made outside any tenant, as a real request would.
 */
export function injectAs(
  app: Injectable,
  tenant: string,
  request: InjectOptions | string,
  options: InjectAsOptions = {},
): Promise<LightMyRequestResponse> {
  const tenancy = options.tenancy ?? defaultTenancy
  tenancy.validateName(tenant)
  const req: InjectOptions =
    typeof request === 'string' ? { method: 'GET', url: request } : { ...request }
  const via = options.via ?? 'host'
  if (via === 'host') {
    req.headers = { ...req.headers, host: `${tenant}.${options.domain ?? 'localhost'}` }
  } else if (via === 'header') {
    req.headers = { ...req.headers, [options.header ?? 'x-tenant']: tenant }
  } else {
    const url = req.url ?? req.path ?? '/'
    if (typeof url !== 'string')
      throw new InjectAsError(
        'injectAs(via: "path") needs the URL as a string (url or path): pass request.url as a string.',
      )
    const prefix = (options.pathPrefix ?? '/t').replace(/\/+$/, '')
    const joined = `${prefix}/${encodeURIComponent(tenant)}${url.startsWith('/') ? '' : '/'}${url}`
    delete req.path
    req.url = joined
  }
  if (tenancy.currentTenant() === tenant) return send(app, req)
  // Another tenant, or none: play an outside caller, as a real request would be: leave the
  // test's tenant frame and its switch guard, keep only the overrides made outside any tenant.
  return tenancy.detached(() => send(app, req))
}

/**
 * Starts the request now, in the current context. Fastify's `inject()` returns a lazy chain
 * that dispatches when `.then` is called: left to the caller's `await`, the request would run
 * in the caller's context instead.
 */
function send(app: Injectable, req: InjectOptions): Promise<LightMyRequestResponse> {
  const chain = app.inject(req)
  return new Promise((resolve, reject) => {
    chain.then(resolve, reject)
  })
}
