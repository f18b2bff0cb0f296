import { context, propagation, type Span, SpanKind, trace } from '@opentelemetry/api'
import { createTenancy } from '@tenantry/context'
import { fromPath, tenantry } from '@tenantry/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  fromBaggage,
  injectTenant,
  TENANT_ATTRIBUTE,
  tenantFromBaggage,
  tenantOtelHook,
} from '../src/index.js'
import { installOtel, jitter } from './setup.js'

const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark']
const tenancy = createTenancy({ tenants: { exists: (t) => tenants.includes(t) } })
const otel = installOtel(tenancy)
const tracer = trace.getTracer('test')

// What the HTTP instrumentation does for a real server: extracts the propagated context and
// makes a SERVER span active for the request, before any tenant is known. Registered before
// the tenantry plugin.
function serverSpans(app: FastifyInstance, name: string) {
  const spans = new WeakMap<object, Span>()
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(context.active(), request.headers)
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent)
    spans.set(request, span)
    context.with(trace.setSpan(parent, span), done)
  })
  app.addHook('onResponse', (request, _reply, done) => {
    spans.get(request)?.end()
    done()
  })
}

let upstream: FastifyInstance
let downstream: FastifyInstance
let downstreamUrl: string

beforeAll(async () => {
  // downstream: an internal service that takes the tenant from the caller's baggage
  downstream = Fastify()
  serverSpans(downstream, 'downstream')
  await downstream.register(tenantry, { tenancy, resolve: fromBaggage() })
  downstream.addHook('onRequest', tenantOtelHook({ tenancy }))
  downstream.get('/echo', async (request) => ({
    tenant: request.tenant ?? null,
    current: tenancy.currentTenant() ?? null,
    baggage: tenantFromBaggage() ?? null,
  }))
  downstreamUrl = await downstream.listen({ port: 0, host: '127.0.0.1' })

  // upstream: a public app (tenant in the path) that calls the internal service
  upstream = Fastify()
  serverSpans(upstream, 'upstream')
  await upstream.register(tenantry, { tenancy, resolve: fromPath('/t/:tenant') })
  upstream.addHook('onRequest', tenantOtelHook({ tenancy }))
  upstream.get('/t/:tenant/call', async () => {
    await jitter()
    // No fetch instrumentation in this test: inject by hand, as an app does for a client
    // that no instrumentation covers.
    const res = await fetch(`${downstreamUrl}/echo`, { headers: injectTenant({}, { tenancy }) })
    return { status: res.status, body: await res.json() }
  })
  await upstream.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await upstream?.close()
  await downstream?.close()
})

test('the tenant crosses HTTP in baggage, and both server spans carry it', async () => {
  otel.exporter.reset()
  const res = await upstream.inject('/t/acme/call')
  expect(res.json()).toEqual({
    status: 200,
    body: { tenant: 'acme', current: 'acme', baggage: 'acme' },
  })
  const [up] = otel.spans('upstream')
  const [down] = otel.spans('downstream')
  expect(up?.attributes[TENANT_ATTRIBUTE]).toBe('acme')
  expect(down?.attributes[TENANT_ATTRIBUTE]).toBe('acme')
  // the same trace: traceparent went along with the baggage
  expect(down?.spanContext().traceId).toBe(up?.spanContext().traceId)
  expect(down?.parentSpanContext?.spanId).toBe(up?.spanContext().spanId)
})

test("six tenants at once: each downstream request runs in the caller's tenant", async () => {
  otel.exporter.reset()
  const order = [...tenants, ...tenants].sort(() => Math.random() - 0.5)
  const results = await Promise.all(order.map((t) => upstream.inject(`/t/${t}/call`)))
  for (const [i, r] of results.entries()) expect(r.json().body.tenant).toBe(order[i])
  const down = otel.spans('downstream')
  expect(down).toHaveLength(order.length)
  const upByTrace = new Map(otel.spans('upstream').map((s) => [s.spanContext().traceId, s]))
  for (const s of down)
    expect(s.attributes[TENANT_ATTRIBUTE]).toBe(
      upByTrace.get(s.spanContext().traceId)?.attributes[TENANT_ATTRIBUTE],
    )
})

test('baggage naming an unknown tenant is a 404; no baggage is an untenanted request', async () => {
  const unknown = await fetch(`${downstreamUrl}/echo`, { headers: { baggage: 'tenant=nosuch' } })
  expect(unknown.status).toBe(404)
  expect(((await unknown.json()) as { code: string }).code).toBe('TENANTRY_UNKNOWN_TENANT')
  const none = await fetch(`${downstreamUrl}/echo`)
  expect(await none.json()).toEqual({ tenant: null, current: null, baggage: null })
})

test('injectTenant outside a tenant writes the trace context but no tenant', async () => {
  const headers = tracer.startActiveSpan('client', (span) => {
    const h = injectTenant({}, { tenancy })
    span.end()
    return h
  })
  expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  expect(headers.baggage).toBeUndefined()
  await tenancy.withTenant('globex', () => {
    expect(injectTenant({}, { tenancy }).baggage).toBe('tenant=globex')
  })
})
