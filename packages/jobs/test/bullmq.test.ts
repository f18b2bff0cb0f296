import { Redis } from 'ioredis'
import { afterAll, describe, expect, test } from 'vitest'
import { type BullMQBackend, createBullMQBackend } from '../src/bullmq.js'
import { createWorker, defineJob } from '../src/index.js'
import { describeJobBackendContract } from './contract.js'
import { makeTenancy, record, unique, waitFor } from './helpers.js'

const url = process.env.REDIS_URL
// One prefix per run: nothing here touches keys of other runs or apps.
const prefix = unique('tenantry-test')
const made: BullMQBackend[] = []
const clients: Redis[] = []

function make(): BullMQBackend {
  // BullMQ 6's ESM build cannot require ioredis itself: it takes a constructed client.
  const connection = new Redis(url!, { maxRetriesPerRequest: null })
  clients.push(connection)
  const backend = createBullMQBackend({
    connection,
    prefix,
    queueName: unique('q'),
  })
  made.push(backend)
  return backend
}

async function dispose(backend: BullMQBackend | import('../src/index.js').JobBackend) {
  const b = backend as BullMQBackend
  await b.queue.obliterate({ force: true })
  await b.close()
}

if (url === undefined || url === '') {
  if (process.env.TENANTRY_REQUIRE_SERVICES === '1') {
    test('bullmq backend: REDIS_URL must be set when TENANTRY_REQUIRE_SERVICES=1', () => {
      throw new Error('REDIS_URL is not set, but TENANTRY_REQUIRE_SERVICES=1 requires Redis.')
    })
  } else {
    test.skip('bullmq backend (skipped: REDIS_URL is not set; e.g. REDIS_URL=redis://127.0.0.1:6379)', () => {})
  }
} else {
  afterAll(async () => {
    for (const b of made) await b.close()
    for (const c of clients) c.disconnect()
  })

  describeJobBackendContract('bullmq (Redis)', async () => make(), { dispose })

  describe('bullmq adapter', () => {
    test('the tenant is a field of the job data, beside the payload', async () => {
      const { tenancy } = makeTenancy()
      const backend = make()
      try {
        const job = defineJob('shape', (_: { x: number }) => {}, { tenancy, backend })
        const id = await tenancy.withTenant('acme', () => job.enqueue({ x: 1 }, { attempts: 2 }))
        const stored = await backend.queue.getJob(id)
        expect(stored?.name).toBe('shape')
        expect(stored?.data).toEqual({ v: 1, tenant: 'acme', payload: { x: 1 } })
        expect(stored?.opts.attempts).toBe(2)
        expect(await backend.getJob(id)).toMatchObject({ state: 'waiting', tenant: 'acme' })
      } finally {
        await dispose(backend)
      }
    })

    test('a job added by hand without a tenant field fails permanently, never runs untenanted', async () => {
      const { tenancy } = makeTenancy()
      const backend = make()
      try {
        let ran = 0
        const job = defineJob('raw', () => void ran++, { tenancy, backend, attempts: 3 })
        const added = await backend.queue.add('raw', { payload: 1 } as never, { attempts: 3 })
        const worker = createWorker({ backend, jobs: [job] })
        const events = record(worker)
        await waitFor(async () => (await backend.getJob(added.id!))?.state === 'failed')
        await worker.close()
        expect(ran).toBe(0)
        expect(events.failed).toHaveLength(1)
        expect(events.failed[0]!.permanent).toBe(true)
      } finally {
        await dispose(backend)
      }
    })
  })
}
