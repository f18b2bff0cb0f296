// @tenantry/jobs: the embedded backend's throughput (enqueue + perform of no-op jobs across 100
// tenants), and the BullMQ adapter against bare BullMQ running the same jobs (needs REDIS_URL).
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createEmbeddedBackend, createWorker, defineJob, type JobBackend } from '@tenantry/jobs'
import { createBullMQBackend } from '@tenantry/jobs/bullmq'
import Database from 'better-sqlite3'
import { type ConnectionOptions, Queue, Worker } from 'bullmq'
import { compare, figure, fmt, load, median, section, skipped, spread, verdict } from './lib.ts'

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
  // `--bullmq-only`: for runtimes better-sqlite3 is not built for (Node 24 here).
  if (!process.argv.includes('--bullmq-only')) {
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
    // The floor: the same table and statements run by hand, one job at a time (insert, claim
    // with UPDATE … RETURNING, delete), no worker, no tenant, no JSON beyond the payload.
    const floorRates: number[] = []
    for (let r = 0; r < 3; r++) floorRates.push(rawQueueLoop(join(dir, `raw-${r}.db`), N))
    figure(
      `(floor) raw insert + claim + delete loop, ${N} jobs (median of 3)`,
      median(floorRates),
      'jobs/s',
    )
    figure(`embedded: ${N} jobs, concurrency 16 (${load()})`, rate, 'jobs/s')
    verdict(
      'embedded jobs: throughput',
      spread(rates),
      { min: 2000 },
      'jobs/s',
      `${(rate / median(floorRates)).toFixed(2)}× the raw loop`,
    )
  }

  section('BullMQ adapter vs bare BullMQ, same jobs (same bullmq copy, same job options)')
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') {
    skipped(
      'BullMQ adapter / bare BullMQ: time to enqueue + process',
      '≤ 1.05×',
      'REDIS_URL is not set (e.g. redis://127.0.0.1:6379)',
    )
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
    const concurrency = 16
    // Exactly what the adapter stores for `noop.enqueue({ i }, { tenant })` with defineJob's
    // defaults and the backend's default job options.
    const jobOptions = {
      removeOnComplete: true,
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
    } as const
    const cpuMs = (c: NodeJS.CpuUsage) => {
      const u = process.cpuUsage(c)
      return (u.user + u.system) / 1000
    }
    const untilDone = () => {
      let done = 0
      let finish!: () => void
      const all = new Promise<void>((resolve) => {
        finish = resolve
      })
      return { all, completed: () => ++done === M && finish() }
    }
    interface Side {
      enqueue(i: number): Promise<unknown>
      /** Starts a worker; resolves when all M jobs have completed. */
      work(completed: () => void): { close(): Promise<void> }
      dispose(): Promise<void>
    }
    let q = 0
    const bareSide = (): Side => {
      const queue = new Queue(`bare-${++q}`, { connection, prefix })
      return {
        enqueue: (i) =>
          queue.add(
            'noop',
            { v: 1, tenant: TENANTS[i % TENANTS.length], payload: { i } },
            jobOptions,
          ),
        work(completed) {
          const worker = new Worker(queue.name, async () => {}, { connection, prefix, concurrency })
          worker.on('completed', completed)
          return worker
        },
        async dispose() {
          await queue.obliterate({ force: true })
          await queue.close()
        },
      }
    }
    const adapterSide = (): Side => {
      const backend = createBullMQBackend({ connection, prefix, queueName: `adapter-${++q}` })
      // Fair only if both sides run the same installed bullmq (pnpm can install peer variants).
      if (!(backend.queue instanceof Queue))
        throw new Error('the adapter and this bench load different copies of bullmq')
      const noop = defineJob('noop', (_: { i: number }) => {}, { tenancy, backend })
      return {
        enqueue: (i) => noop.enqueue({ i }, { tenant: TENANTS[i % TENANTS.length]! }),
        work(completed) {
          const worker = createWorker({ backend, jobs: [noop], concurrency })
          worker.on('completed', completed)
          worker.on('failed', (_job, error) => {
            throw error
          })
          return worker
        },
        async dispose() {
          await backend.queue.obliterate({ force: true })
          await backend.close()
        },
      }
    }
    /**
     * Phased: enqueue M jobs with no worker running, then run a worker over the full queue.
     * Each phase does the same Redis work on both sides, so the ratio is the adapter's cost.
     */
    const phased = async (make: () => Side) => {
      const side = make()
      let c = process.cpuUsage()
      let t0 = process.hrtime.bigint()
      for (let i = 0; i < M; i++) await side.enqueue(i)
      const enqueueMs = Number(process.hrtime.bigint() - t0) / 1e6
      const enqueueCpu = cpuMs(c)
      const { all, completed } = untilDone()
      c = process.cpuUsage()
      t0 = process.hrtime.bigint()
      const worker = side.work(completed)
      await all
      const processMs = Number(process.hrtime.bigint() - t0) / 1e6
      const processCpu = cpuMs(c)
      await worker.close()
      await side.dispose()
      return { enqueueMs, enqueueCpu, processMs, processCpu }
    }
    /**
     * Interleaved: the worker runs while the jobs are enqueued one by one. Whether the worker
     * finds the next job when it finishes one or goes back to BullMQ's blocking wait depends
     * on microsecond timing, so this ratio swings (see the README's "Overhead").
     */
    const interleaved = async (make: () => Side) => {
      const side = make()
      const { all, completed } = untilDone()
      const worker = side.work(completed)
      const c = process.cpuUsage()
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < M; i++) await side.enqueue(i)
      await all
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      const cpu = cpuMs(c)
      await worker.close()
      await side.dispose()
      return { ms, cpu }
    }

    await phased(bareSide) // warm-up: connections, Lua scripts, JIT
    await phased(adapterSide)
    const ROUNDS = 7
    type Phased = Awaited<ReturnType<typeof phased>>
    const p = { bare: [] as Phased[], adapter: [] as Phased[] }
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first so that neither always follows the other's cleanup.
      const order = r % 2 === 0 ? (['bare', 'adapter'] as const) : (['adapter', 'bare'] as const)
      for (const k of order) p[k].push(await phased(k === 'bare' ? bareSide : adapterSide))
    }
    const med = (k: 'bare' | 'adapter', f: (x: Phased) => number) => median(p[k].map(f))
    const bareMs = med('bare', (x) => x.enqueueMs + x.processMs)
    const adapterMs = med('adapter', (x) => x.enqueueMs + x.processMs)
    figure('bare BullMQ: enqueue, then process', (M / bareMs) * 1000, 'jobs/s')
    figure('adapter: enqueue, then process', (M / adapterMs) * 1000, 'jobs/s')
    // Per-round ratios (each adapter round over the bare round next to it), min–median–max.
    const perRound = (f: (x: Phased) => number) =>
      spread(p.adapter.map((x, r) => f(x) / f(p.bare[r]!)))
    verdict(
      'BullMQ adapter / bare BullMQ: time to enqueue + process',
      perRound((x) => x.enqueueMs + x.processMs),
      { max: 1.05 },
      '×',
      `${M} jobs, ${ROUNDS} paired rounds; medians ${fmt(adapterMs)} vs ${fmt(bareMs)} ms`,
    )
    // CPU time of this process is less disturbed by the neighbours than wall time.
    compare(
      '  CPU time of this process, enqueue phase',
      med('adapter', (x) => x.enqueueCpu),
      med('bare', (x) => x.enqueueCpu),
      'ms',
    )
    compare(
      '  CPU time of this process, process phase',
      med('adapter', (x) => x.processCpu),
      med('bare', (x) => x.processCpu),
      'ms',
    )
    compare(
      '  CPU time of this process, both phases',
      med('adapter', (x) => x.enqueueCpu + x.processCpu),
      med('bare', (x) => x.enqueueCpu + x.processCpu),
      'ms',
    )

    const i = {
      bare: [] as { ms: number; cpu: number }[],
      adapter: [] as { ms: number; cpu: number }[],
    }
    for (let r = 0; r < 5; r++) {
      const order = r % 2 === 0 ? (['bare', 'adapter'] as const) : (['adapter', 'bare'] as const)
      for (const k of order) i[k].push(await interleaved(k === 'bare' ? bareSide : adapterSide))
    }
    compare(
      '(closed loop, timing-sensitive) worker running while enqueueing, wall time, median of 5',
      median(i.adapter.map((x) => x.ms)),
      median(i.bare.map((x) => x.ms)),
      'ms',
    )
    compare(
      '(closed loop, timing-sensitive) same, CPU time',
      median(i.adapter.map((x) => x.cpu)),
      median(i.bare.map((x) => x.cpu)),
      'ms',
    )
    connection.disconnect()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

/** Jobs per second of a bare better-sqlite3 queue loop on the embedded backend's table shape. */
function rawQueueLoop(file: string, n: number): number {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE q (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, tenant TEXT,
    payload TEXT NOT NULL, state TEXT NOT NULL, run_at INTEGER NOT NULL, token TEXT);
    CREATE INDEX q_due ON q (run_at) WHERE state IN ('waiting', 'active');`)
  const insert = db.prepare(
    "INSERT INTO q (name, tenant, payload, state, run_at) VALUES (?, ?, ?, 'waiting', ?)",
  )
  const claim = db.prepare(`UPDATE q SET state = 'active', token = ? WHERE id IN (SELECT id FROM q
    WHERE state IN ('waiting', 'active') AND run_at <= ? ORDER BY run_at, id LIMIT 1) RETURNING id, payload`)
  const remove = db.prepare('DELETE FROM q WHERE id = ? AND token = ?')
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    insert.run('noop', TENANTS[i % TENANTS.length], JSON.stringify({ i }), Date.now())
    const row = claim.get('tok', Date.now()) as { id: number; payload: string }
    JSON.parse(row.payload)
    remove.run(row.id, 'tok')
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  db.close()
  return (n / ms) * 1000
}
