// Enqueue inside a Fastify request picks the request's tenant, through @tenantry/fastify.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromHeader, tenantry } from '@tenantry/fastify'
import Fastify from 'fastify'
import { afterAll, expect, test } from 'vitest'
import { createEmbeddedBackend, createWorker, defineJob } from '../src/index.js'
import { makeTenancy, record, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'tenantry-jobs-fastify-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('a job enqueued in a request runs in that request’s tenant; concurrent requests do not mix', async () => {
  const { tenancy, marker } = makeTenancy(['acme', 'globex', 'initech'])
  const backend = createEmbeddedBackend({ file: join(dir, 'fastify.db'), pollIntervalMs: 10 })
  const seen: { tenant: string | undefined; marker: string; from: string }[] = []
  const notify = defineJob(
    'notify',
    (p: { from: string }) => {
      seen.push({ tenant: tenancy.currentTenant(), marker: marker(), from: p.from })
    },
    { tenancy, backend },
  )
  const app = Fastify()
  await app.register(tenantry, { resolve: fromHeader('x-tenant'), tenancy })
  app.post('/notify', async (request) => {
    // The payload says which tenant asked, only so the test can check; the job never uses it.
    const id = await notify.enqueue({ from: request.tenant! })
    return { id }
  })
  const worker = createWorker({ backend, jobs: [notify], concurrency: 4 })
  const events = record(worker)
  try {
    const tenants = ['acme', 'globex', 'initech']
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        app.inject({ method: 'POST', url: '/notify', headers: { 'x-tenant': tenants[i % 3]! } }),
      ),
    )
    expect(replies.map((r) => r.statusCode)).toEqual(replies.map(() => 200))
    await waitFor(() => events.completed.length === 30)
    expect(seen).toHaveLength(30)
    for (const s of seen) expect(s).toEqual({ tenant: s.from, marker: s.from, from: s.from })
    const unknown = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: { 'x-tenant': 'nobody' },
    })
    expect(unknown.statusCode).toBe(404)
  } finally {
    await worker.close()
    await app.close()
    await backend.close()
  }
})
