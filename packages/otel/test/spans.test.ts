import { trace } from '@opentelemetry/api'
import { createTenancy } from '@tenantry/context'
import { expect, test } from 'vitest'
import { setTenantAttribute, TENANT_ATTRIBUTE } from '../src/index.js'
import { installOtel, jitter } from './setup.js'

const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`)
const tenancy = createTenancy({ tenants: { exists: (t) => tenants.includes(t) } })
const otel = installOtel(tenancy)
const tracer = trace.getTracer('test')

test('spans started inside a tenant carry it; spans outside carry none', async () => {
  otel.exporter.reset()
  tracer.startSpan('outside').end()
  await tenancy.withTenant('t1', () => tracer.startSpan('inside').end())
  await tenancy.withTenant('t2', () =>
    tenancy.withoutTenant(() => tracer.startSpan('escaped').end()),
  )
  expect(otel.spans('outside')[0]?.attributes[TENANT_ATTRIBUTE]).toBeUndefined()
  expect(otel.spans('inside')[0]?.attributes[TENANT_ATTRIBUTE]).toBe('t1')
  expect(otel.spans('escaped')[0]?.attributes[TENANT_ATTRIBUTE]).toBeUndefined()
})

test('twenty tenants interleaved: every span, nested or not, names its own tenant', async () => {
  otel.exporter.reset()
  // Each tenant runs three rounds of nested spans with random delays, so scopes overlap and
  // later ones often finish first.
  await Promise.all(
    tenants.map((t) =>
      tenancy.withTenant(t, async () => {
        for (let round = 0; round < 3; round++)
          await tracer.startActiveSpan(`outer ${t}`, async (outer) => {
            await jitter()
            await tracer.startActiveSpan(`inner ${t}`, async (inner) => {
              await jitter()
              inner.end()
            })
            outer.end()
          })
      }),
    ),
  )
  const spans = otel.spans()
  expect(spans).toHaveLength(tenants.length * 6)
  for (const s of spans) expect(s.attributes[TENANT_ATTRIBUTE]).toBe(s.name.split(' ')[1])
  // the order of ending really was mixed across tenants
  const firstTen = new Set(spans.slice(0, 10).map((s) => s.name.split(' ')[1]))
  expect(firstTen.size).toBeGreaterThan(1)
})

test('setTenantAttribute tags a span that was started before the tenant was known', async () => {
  otel.exporter.reset()
  await tracer.startActiveSpan('server', async (span) => {
    expect(setTenantAttribute(undefined, undefined, { tenancy })).toBe(false) // outside a tenant
    await tenancy.withTenant('t3', () => {
      expect(setTenantAttribute(undefined, undefined, { tenancy })).toBe(true)
    })
    span.end()
  })
  expect(setTenantAttribute(undefined, 't4')).toBe(false) // no active span
  expect(otel.spans('server')[0]?.attributes[TENANT_ATTRIBUTE]).toBe('t3')
})

test('the attribute name can be changed', async () => {
  const { TenantSpanProcessor } = await import('../src/index.js')
  const seen: Record<string, unknown> = {}
  const processor = new TenantSpanProcessor({ tenancy, attribute: 'app.tenant' })
  await tenancy.withTenant('t5', () =>
    processor.onStart(
      { setAttribute: (k: string, v: unknown) => (seen[k] = v) } as never,
      {} as never,
    ),
  )
  expect(seen).toEqual({ 'app.tenant': 't5' })
})
