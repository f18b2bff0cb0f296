import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { trace } from '@opentelemetry/api'
import { createTenancy } from '@tenantry/context'
import { createEmbeddedBackend, createWorker, defineJob } from '@tenantry/jobs'
import { afterAll, expect, test } from 'vitest'
import { TENANT_ATTRIBUTE, tenantFromBaggage, tracedJob, withTraceContext } from '../src/index.js'
import { installOtel, jitter } from './setup.js'

const tenants = ['acme', 'globex', 'initech', 'hooli']
const tenancy = createTenancy({ tenants: { exists: (t) => tenants.includes(t) } })
const otel = installOtel(tenancy)
const tracer = trace.getTracer('test')
const dir = mkdtempSync(join(tmpdir(), 'tenantry-otel-jobs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Polls `condition` every 5 ms; fails after a generous bound. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

test("a job continues its enqueuer's trace, in its tenant, with the tenant in baggage", async () => {
  otel.exporter.reset()
  const backend = createEmbeddedBackend({ file: join(dir, 'a.db'), pollIntervalMs: 10 })
  const seen: string[] = []
  const job = defineJob(
    'welcome',
    tracedJob(
      async (p: { n: number }) => {
        await jitter()
        seen.push(`${p.n}:${tenancy.currentTenant()}:${tenantFromBaggage()}`)
        tracer.startSpan('send').end()
      },
      { tenancy },
    ),
    { tenancy, backend },
  )
  // enqueued from inside a request-like span in each tenant, interleaved
  const enqueued = await Promise.all(
    [...tenants, ...tenants].map((t, n) =>
      tenancy.withTenant(t, () =>
        tracer.startActiveSpan(`enqueue ${n}`, async (span) => {
          await jitter()
          await job.enqueue(withTraceContext({ n }, { tenancy }))
          span.end()
          return { n, t, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId }
        }),
      ),
    ),
  )
  const worker = createWorker({ backend, jobs: [job], concurrency: 3 })
  try {
    await waitFor(() => otel.spans('job welcome').length === enqueued.length, 'the job spans')
  } finally {
    await worker.close()
    await backend.close()
  }
  expect(seen.sort()).toEqual(enqueued.map(({ n, t }) => `${n}:${t}:${t}`).sort())
  const sends = otel.spans('send')
  for (const e of enqueued) {
    const span = otel.spans('job welcome').find((s) => s.parentSpanContext?.spanId === e.spanId)
    expect(span?.spanContext().traceId).toBe(e.traceId)
    expect(span?.attributes[TENANT_ATTRIBUTE]).toBe(e.t)
    // a span the handler starts is a child of the job span and carries the tenant too
    const send = sends.find((s) => s.parentSpanContext?.spanId === span?.spanContext().spanId)
    expect(send?.attributes[TENANT_ATTRIBUTE]).toBe(e.t)
  }
})

test('a failing job records the error on its span and still fails', async () => {
  otel.exporter.reset()
  const backend = createEmbeddedBackend({ file: join(dir, 'b.db'), pollIntervalMs: 10 })
  const job = defineJob(
    'boom',
    tracedJob(() => {
      throw new Error('nope')
    }),
    { tenancy, backend, attempts: 1 },
  )
  await tenancy.withTenant('acme', () => job.enqueue(withTraceContext({}, { tenancy })))
  const worker = createWorker({ backend, jobs: [job] })
  let failed = 0
  worker.on('failed', () => failed++)
  try {
    await waitFor(() => failed === 1, 'the failure')
  } finally {
    await worker.close()
    await backend.close()
  }
  const [span] = otel.spans('job boom')
  expect(span?.status.code).toBe(2) // SpanStatusCode.ERROR
  expect(span?.events.map((e) => e.name)).toContain('exception')
  expect(span?.attributes[TENANT_ATTRIBUTE]).toBe('acme')
})
