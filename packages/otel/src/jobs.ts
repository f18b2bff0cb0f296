import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import { tenancy as defaultTenancy } from '@tenantry/context'
import { extractContext, injectTenant } from './baggage.js'
import { TENANT_ATTRIBUTE, type TenantOtelOptions } from './spans.js'

/** The payload field that carries the enqueuer's trace context and tenant baggage. */
export const TRACE_FIELD = '_otel'

/** A payload with the propagated context of its enqueuer. */
export type Traced<P> = P & { [TRACE_FIELD]?: Record<string, string> }

/**
 * `payload` with the active trace context and the current tenant (baggage) in its `_otel`
 * field: `job.enqueue(withTraceContext({ to }))`. The job's handler, wrapped with
 * {@link tracedJob}, continues the trace.
 */
export function withTraceContext<P extends object>(
  payload: P,
  options: TenantOtelOptions = {},
): Traced<P> {
  return { ...payload, [TRACE_FIELD]: injectTenant({}, options) }
}

/** What {@link tracedJob} reads of a job's context (`@tenantry/jobs`' `JobContext` has it). */
export interface TracedJobContext {
  /** The job's id. */
  id: string
  /** The job's name. */
  name: string
  /** This attempt's number, from 1. */
  attempt?: number
}

/** Options of {@link tracedJob}. */
export interface TracedJobOptions extends TenantOtelOptions {
  /** The tracer for the job's span; default `trace.getTracer('@tenantry/otel')`. */
  tracer?: Tracer
}

/**
 * Wraps a job handler: it runs in the context propagated in the payload (so its span is a
 * child of the enqueuer's and the baggage names the tenant), inside a `CONSUMER` span
 * `job <name>` with `tenant`, `job.id` and `job.attempt`. Errors are recorded and rethrown.
 *
 * ```ts
 * const welcome = defineJob('welcome', tracedJob(async (p: { to: string }) => send(p.to)))
 * await welcome.enqueue(withTraceContext({ to: 'ann@example.org' }))
 * ```
 */
export function tracedJob<P, C extends TracedJobContext, R>(
  handler: (payload: P, context: C) => R | Promise<R>,
  options: TracedJobOptions = {},
): (payload: Traced<P>, context: C) => Promise<Awaited<R>> {
  const tenancy = options.tenancy ?? defaultTenancy
  const attribute = options.attribute ?? TENANT_ATTRIBUTE
  return (payload, ctx) => {
    const tracer = options.tracer ?? trace.getTracer('@tenantry/otel')
    const carrier = (payload as { [TRACE_FIELD]?: Record<string, string> } | null)?.[TRACE_FIELD]
    return context.with(extractContext(carrier), () =>
      tracer.startActiveSpan(
        `job ${ctx.name}`,
        { kind: SpanKind.CONSUMER },
        async (span): Promise<Awaited<R>> => {
          span.setAttribute('job.id', ctx.id)
          if (ctx.attempt !== undefined) span.setAttribute('job.attempt', ctx.attempt)
          const tenant = tenancy.currentTenant()
          if (tenant !== undefined) span.setAttribute(attribute, tenant)
          try {
            return await handler(payload, ctx)
          } catch (error) {
            span.recordException(error as Error)
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) })
            throw error
          } finally {
            span.end()
          }
        },
      ),
    )
  }
}
