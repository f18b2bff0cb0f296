import type { Context, Span } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import { tenancy as defaultTenancy, type Tenancy } from '@tenantry/context'

/** The span attribute that names the tenant: `tenant`. */
export const TENANT_ATTRIBUTE = 'tenant'

/** Options of {@link TenantSpanProcessor} and the other helpers that read the current tenant. */
export interface TenantOtelOptions {
  /** The tenancy whose current tenant is read; default: the shared default tenancy. */
  tenancy?: Tenancy
  /** The attribute name; default {@link TENANT_ATTRIBUTE}. */
  attribute?: string
}

/**
 * A span processor (the SDK's `SpanProcessor` interface, written against the API only) that
 * sets the `tenant` attribute on every span started inside a tenant. Add it to the tracer
 * provider next to the exporting processor:
 *
 * ```ts
 * new NodeTracerProvider({ spanProcessors: [new TenantSpanProcessor(), new BatchSpanProcessor(exporter)] })
 * ```
 *
 * Spans started before the tenant is known (an HTTP server span) get it from
 * {@link setTenantAttribute} or {@link tenantOtelHook}.
 */
export class TenantSpanProcessor {
  private readonly tenancy: Tenancy
  private readonly attribute: string

  constructor(options: TenantOtelOptions = {}) {
    this.tenancy = options.tenancy ?? defaultTenancy
    this.attribute = options.attribute ?? TENANT_ATTRIBUTE
  }

  /** Called by the SDK as a span starts: tags it with the current tenant, if any. */
  onStart(span: Span, _parentContext: Context): void {
    const tenant = this.tenancy.currentTenant()
    if (tenant !== undefined) span.setAttribute(this.attribute, tenant)
  }

  /** Nothing to do when a span ends. */
  onEnd(_span: unknown): void {}

  /** Nothing buffered. */
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }

  /** Nothing to release. */
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * Sets the `tenant` attribute on `span` (default: the active span) to `tenant` (default: the
 * current tenant). Returns whether it set one: `false` without a span or outside a tenant.
 */
export function setTenantAttribute(
  span: Span | undefined = trace.getActiveSpan(),
  tenant?: string,
  options: TenantOtelOptions = {},
): boolean {
  const name = tenant ?? (options.tenancy ?? defaultTenancy).currentTenant()
  if (span === undefined || name === undefined) return false
  span.setAttribute(options.attribute ?? TENANT_ATTRIBUTE, name)
  return true
}
