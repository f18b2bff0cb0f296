// One in-memory OpenTelemetry SDK per test file (Vitest runs each file in its own worker):
// AsyncLocalStorage context manager, W3C trace-context + baggage propagators, and a tracer
// provider with the TenantSpanProcessor before the exporting processor.
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { Tenancy } from '@tenantry/context'
import { TenantSpanProcessor } from '../src/index.js'

export interface Otel {
  exporter: InMemorySpanExporter
  spans(name?: string): ReadableSpan[]
}

export function installOtel(tenancy?: Tenancy): Otel {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new TenantSpanProcessor(tenancy ? { tenancy } : {}),
      new SimpleSpanProcessor(exporter),
    ],
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  )
  trace.setGlobalTracerProvider(provider)
  return {
    exporter,
    spans: (name) =>
      exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
  }
}

/** Waits a random 0–`max` ms (to interleave concurrent scopes; never for synchronisation). */
export const jitter = (max = 8) => new Promise((r) => setTimeout(r, Math.random() * max))
