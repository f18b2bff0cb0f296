import { type Context, context, propagation } from '@opentelemetry/api'
import { tenancy as defaultTenancy, type Tenancy } from '@tenantry/context'
import { setTenantAttribute, type TenantOtelOptions } from './spans.js'

/** The baggage entry that carries the tenant: `tenant`. */
export const TENANT_BAGGAGE_KEY = 'tenant'

/** A carrier of propagated context: HTTP headers, a job payload's field, a message's metadata. */
export type Carrier = Record<string, string | string[] | undefined>

/**
 * `ctx` (default: the active context) with baggage entry `tenant` set to `tenant` (default:
 * the current tenant); `ctx` unchanged outside a tenant.
 */
export function contextWithTenant(
  ctx: Context = context.active(),
  tenant: string | undefined = defaultTenancy.currentTenant(),
): Context {
  if (tenant === undefined) return ctx
  const baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage()
  return propagation.setBaggage(ctx, baggage.setEntry(TENANT_BAGGAGE_KEY, { value: tenant }))
}

/** The tenant named by the baggage of `ctx` (default: the active context), if any. */
export function tenantFromBaggage(ctx: Context = context.active()): string | undefined {
  return propagation.getBaggage(ctx)?.getEntry(TENANT_BAGGAGE_KEY)?.value
}

/**
 * Writes the active trace context and the current tenant (as baggage) into `carrier`, through
 * the registered propagators (the SDK registers W3C `traceparent` and `baggage` by default).
 * For outgoing requests that no instrumentation covers:
 * `fetch(url, { headers: injectTenant({}) })`. Returns `carrier`.
 */
export function injectTenant(
  carrier: Record<string, string> = {},
  options: InjectTenantOptions = {},
): Record<string, string> {
  const tenant = options.tenant ?? (options.tenancy ?? defaultTenancy).currentTenant()
  propagation.inject(contextWithTenant(context.active(), tenant), carrier)
  return carrier
}

/** Options of {@link injectTenant}. */
export interface InjectTenantOptions {
  /** The tenant to name; default: the current tenant of `tenancy`. */
  tenant?: string
  /** The tenancy whose current tenant is read; default: the shared default tenancy. */
  tenancy?: Tenancy
}

/** The context propagated in `carrier` (trace parent and baggage), on top of the active one. */
export function extractContext(carrier: Carrier | undefined): Context {
  return carrier === undefined ? context.active() : propagation.extract(context.active(), carrier)
}

/**
 * A resolver for `@tenantry/fastify`: the tenant named by the request's `baggage` header
 * (`baggage: tenant=acme`). The header is client input: use it only for traffic between your
 * own services (behind a gateway that drops client `baggage`), after the trusted resolvers:
 * `firstOf(fromSubdomain(...), fromBaggage())`. The plugin still answers 404 to unknown names.
 */
export function fromBaggage(): (request: { headers: Carrier }) => string | undefined {
  return (request) => tenantFromBaggage(propagation.extract(context.active(), request.headers))
}

/**
 * A Fastify `onRequest` hook to add after the `tenantry` plugin: sets `tenant` on the active
 * (HTTP server) span and runs the rest of the request in a context whose baggage names the
 * tenant, so outgoing requests carry it. `app.addHook('onRequest', tenantOtelHook())`.
 */
export function tenantOtelHook(
  options: TenantOtelOptions = {},
): (request: unknown, reply: unknown, done: () => void) => void {
  const tenancy: Tenancy = options.tenancy ?? defaultTenancy
  return (_request, _reply, done) => {
    const tenant = tenancy.currentTenant()
    if (tenant === undefined) return done()
    setTenantAttribute(undefined, tenant, options)
    // Like the tenantry plugin itself: the later hooks and the handler start inside `with`.
    context.with(contextWithTenant(context.active(), tenant), done)
  }
}
