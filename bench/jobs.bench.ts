// @tenantry/jobs: the embedded backend's throughput (enqueue + perform of no-op jobs across 100
// tenants), and the BullMQ adapter against bare BullMQ running the same jobs (needs REDIS_URL).
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createEmbeddedBackend, createWorker, defineJob, type JobBackend } from '@tenantry/jobs'
import { createBullMQBackend } from '@tenantry/jobs/bullmq'
import { type ConnectionOptions, Queue, Worker } from 'bullmq'
import { compare, figure, median, section } from './lib.ts'

const TENANTS = Array.from({ length: 100 }, (_, i) => `tenant-${i}`)
const known = new Set(TENANTS)
const tenancy = createTenancy({ tenants: { exists: (t) => known.has(t), list: () => TENANTS } })
const dir = mkdtempSync(join(tmpdir(), 'tenantry-jobs-bench-'))

/** Enqueues `n` no-op jobs round-robin over the tenants, then waits until all have run. */
async function enqueueAndPerform(backend: JobBackend, n: number, concurrency: number) {
  const noop = defineJob('noop', (_: { i: number }) => {}, { tenancy, backend })
  let done = 0
  let finish!: () => void
  const all = new Promise<void>((resolve) => {
    finish = resolve
  })
  const worker = createWorker({ backend, jobs: [noop], concurrency })
  worker.on('completed', () => {
    if (++done === n) finish()
  })
  worker.on('failed', (_job, error) => {
    throw error
  })
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await noop.enqueue({ i }, { tenant: TENANTS[i % TENANTS.length]! })
  await all
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  await worker.close()
  return ms
}

try {
  section('embedded (SQLite, WAL) backend: enqueue + perform of no-op jobs, 100 tenants')
  const N = 5000
  const rates: number[] = []
  for (let r = 0; r < 3; r++) {
    const backend = createEmbeddedBackend({ file: join(dir, `embedded-${r}.db`) })
    const ms = await enqueueAndPerform(backend, N, 16)
    await backend.close()
    rates.push((N / ms) * 1000)
  }
  const rate = median(rates)
  figure(
    `embedded: ${N} jobs, concurrency 16 (median of 3)`,
    rate,
    'jobs/s',
    `goal ≥ 2,000 jobs/s: ${rate >= 2000 ? 'met' : 'MISSED'}`,
  )

  section('BullMQ adapter vs bare BullMQ, same jobs (same queue options, concurrency 16)')
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') {
    console.log('skipped: set REDIS_URL (e.g. redis://127.0.0.1:6379) to compare against BullMQ')
  } else {
    // The bench package does not list ioredis; borrow the one @tenantry/jobs has as a dev dep.
    const { Redis } = createRequire(join(import.meta.dirname, '../packages/jobs/package.json'))(
      'ioredis',
    ) as {
      Redis: new (url: string, options: object) => ConnectionOptions & { disconnect(): void }
    }
    const connection = new Redis(url, { maxRetriesPerRequest: null })
    const prefix = `tenantry-bench-${process.pid}`
    const M = 2000
    let q = 0

    const bare = async () => {
      const queue = new Queue(`bare-${++q}`, { connection, prefix })
      let done = 0
      let finish!: () => void
      const all = new Promise<void>((resolve) => {
        finish = resolve
      })
      const worker = new Worker(queue.name, async () => {}, { connection, prefix, concurrency: 16 })
      worker.on('completed', () => {
        if (++done === M) finish()
      })
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < M; i++)
        await queue.add(
          'noop',
          { v: 1, tenant: TENANTS[i % TENANTS.length], payload: { i } },
          { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true },
        )
      await all
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      await worker.close()
      await queue.obliterate({ force: true })
      await queue.close()
      return ms
    }
    const adapter = async () => {
      const backend = createBullMQBackend({ connection, prefix, queueName: `adapter-${++q}` })
      const ms = await enqueueAndPerform(backend, M, 16)
      await backend.queue.obliterate({ force: true })
      await backend.close()
      return ms
    }
    await bare() // warm-up: connections, Lua scripts
    await adapter()
    const bareMs: number[] = []
    const adapterMs: number[] = []
    const bareCpu: number[] = []
    const adapterCpu: number[] = []
    const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
    for (let r = 0; r < 7; r++) {
      let c = process.cpuUsage()
      bareMs.push(await bare())
      bareCpu.push(cpuMs(process.cpuUsage(c)))
      c = process.cpuUsage()
      adapterMs.push(await adapter())
      adapterCpu.push(cpuMs(process.cpuUsage(c)))
    }
    figure('bare BullMQ throughput', (M / median(bareMs)) * 1000, 'jobs/s')
    figure('adapter throughput', (M / median(adapterMs)) * 1000, 'jobs/s')
    compare(
      `adapter vs bare BullMQ (${M} jobs, alternating, median of 7)`,
      median(adapterMs),
      median(bareMs),
      'ms',
      { max: 1.05 },
    )
    // The least-disturbed runs: on a shared machine the minimum is the steadier estimate.
    figure(
      'adapter vs bare BullMQ, fastest runs',
      Math.min(...adapterMs) / Math.min(...bareMs),
      '×',
    )
    // CPU time of this process is less disturbed by the neighbours than wall time.
    compare(
      'adapter vs bare BullMQ, CPU time of this process',
      median(adapterCpu),
      median(bareCpu),
      'ms',
    )
    connection.disconnect()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
