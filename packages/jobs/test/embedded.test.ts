import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { deferred as latch } from '@tenantry/test-utils'
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { createEmbeddedBackend, createWorker, defineJob, type JobBackend } from '../src/index.js'
import { describeJobBackendContract } from './contract.js'
import { makeTenancy, record, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'tenantry-jobs-'))
let n = 0
const nextFile = () => join(dir, `jobs-${++n}.db`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeJobBackendContract('embedded (SQLite)', async () =>
  createEmbeddedBackend({ file: nextFile(), pollIntervalMs: 10 }),
)

const repoRoot = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'child-worker.ts')

function spawnWorker(file: string, leaseMs: number, mode: 'hang' | 'work') {
  const child = spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--import', 'tsx', fixture, file, String(leaseMs), mode],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { child, lines, exited }
}

describe('embedded backend', () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!()
  })
  const open = (file: string, extra: { leaseMs?: number } = {}): JobBackend => {
    const backend = createEmbeddedBackend({ file, pollIntervalMs: 10, ...extra })
    cleanups.push(() => backend.close())
    return backend
  }
  const kill = (child: ChildProcess) => cleanups.push(() => child.kill('SIGKILL'))

  test('jobs survive a restart: close the file, reopen it, pending jobs run in their tenants', async () => {
    const { tenancy } = makeTenancy()
    const file = nextFile()
    const first = createEmbeddedBackend({ file })
    const seen: unknown[] = []
    const define = (backend: JobBackend) =>
      defineJob(
        'persisted',
        (p: number) => {
          seen.push([p, tenancy.currentTenant()])
        },
        { tenancy, backend },
      )
    const before = define(first)
    await tenancy.withTenant('acme', () => before.enqueue(1))
    await tenancy.withTenant('globex', () => before.enqueue(2, { delay: 50 }))
    await before.enqueue(3)
    await first.close()

    const second = open(file)
    const worker = createWorker({ backend: second, jobs: [define(second)] })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await waitFor(() => events.completed.length === 3)
    expect(seen).toEqual(
      expect.arrayContaining([
        [1, 'acme'],
        [2, 'globex'],
        [3, undefined],
      ]),
    )
  })

  test('a job whose worker process was SIGKILLed mid-run runs again after the lease lapses', async () => {
    const { tenancy } = makeTenancy()
    const file = nextFile()
    const leaseMs = 600
    const backend = open(file, { leaseMs })
    const seen: unknown[] = []
    const hang = defineJob(
      'hang',
      (_: null, ctx) => {
        seen.push({ attempt: ctx.attempt, tenant: tenancy.currentTenant(), at: Date.now() })
      },
      { tenancy, backend },
    )
    const id = await tenancy.withTenant('acme', () => hang.enqueue(null))

    const { child, lines, exited } = spawnWorker(file, leaseMs, 'hang')
    kill(child)
    await waitFor(() => lines.some((l) => l.startsWith('started')), 20_000, 'the child to start')
    expect(lines.find((l) => l.startsWith('started'))).toBe(`started ${id} 1 acme`)
    child.kill('SIGKILL')
    await exited
    const killedAt = Date.now()
    expect(await backend.getJob(id)).toMatchObject({ state: 'active', attemptsMade: 1 })

    const worker = createWorker({ backend, jobs: [hang] })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await waitFor(() => events.completed.length === 1)
    expect(seen).toEqual([{ attempt: 2, tenant: 'acme', at: expect.any(Number) }])
    // Not before the lease the child held had lapsed.
    expect((seen[0] as { at: number }).at - killedAt).toBeGreaterThan(0)
    expect(await backend.getJob(id)).toBeUndefined()
  })

  test('two worker processes on one file never run the same job twice', async () => {
    const { tenancy } = makeTenancy(['acme'])
    const file = nextFile()
    const backend = open(file)
    const ranHere: string[] = []
    const work = defineJob(
      'work',
      async (_: null, ctx) => {
        ranHere.push(ctx.id)
        await new Promise((r) => setTimeout(r, 1))
      },
      { tenancy, backend },
    )
    const total = 400
    const { child, lines } = spawnWorker(file, 30_000, 'work')
    kill(child)
    await waitFor(() => lines.includes('ready'), 20_000, 'the child to start')
    const ids = await tenancy.withTenant('acme', () =>
      Promise.all(Array.from({ length: total }, () => work.enqueue(null))),
    )
    const worker = createWorker({ backend, jobs: [work], concurrency: 4 })
    cleanups.push(() => worker.close())
    const ranThere = () => lines.filter((l) => l.startsWith('ran ')).map((l) => l.split(' ')[1]!)
    await waitFor(() => ranHere.length + ranThere().length >= total, 30_000, 'all jobs')
    const all = [...ranHere, ...ranThere()]
    expect(all.length).toBe(total)
    expect(new Set(all)).toEqual(new Set(ids))
    expect(lines.filter((l) => l.startsWith('ran ')).every((l) => l.endsWith(' acme'))).toBe(true)
    // Both processes took a share.
    expect(ranHere.length).toBeGreaterThan(0)
    expect(ranThere().length).toBeGreaterThan(0)
  })

  test('the lease is renewed while a job runs longer than it: no second worker takes it', async () => {
    const { tenancy } = makeTenancy()
    const file = nextFile()
    // Renewals come every leaseMs / 3: the lease must outlast an event loop stalled by a loaded
    // machine (150 ms lapsed at load 20), or the other worker rightly takes the job.
    const leaseMs = 1500
    const a = open(file, { leaseMs })
    const b = open(file, { leaseMs })
    let runs = 0
    const release = latch()
    const long = defineJob(
      'long',
      async () => {
        runs++
        await release.promise
      },
      { tenancy },
    )
    const id = await tenancy.withTenant('acme', () => long.enqueue(null, { backend: a }))
    const wa = createWorker({ backend: a, jobs: [long] })
    const wb = createWorker({ backend: b, jobs: [long] })
    cleanups.push(
      () => wb.close(),
      () => wa.close(),
      () => release.resolve(), // first: a failed assertion must not leave close() waiting on it
    )
    await waitFor(() => runs === 1)
    const startedAt = Date.now()
    // Keep the job running for several lease lengths while the other worker polls.
    await waitFor(() => Date.now() - startedAt > leaseMs * 4)
    expect(runs).toBe(1)
    expect(await a.getJob(id)).toMatchObject({ state: 'active', attemptsMade: 1 })
    release.resolve()
    await waitFor(async () => (await a.getJob(id)) === undefined)
    expect(runs).toBe(1)
  })

  test('keepCompleted, WAL mode and a shared central connection', async () => {
    const { tenancy } = makeTenancy()
    const db = new Database(nextFile())
    db.pragma('journal_mode = WAL')
    cleanups.push(() => db.close())
    const backend = createEmbeddedBackend({
      database: db,
      table: 'jobs',
      keepCompleted: true,
      pollIntervalMs: 10,
    })
    cleanups.push(() => backend.close())
    const job = defineJob('kept', () => {}, { tenancy, backend })
    const id = await tenancy.withTenant('acme', () => job.enqueue(null))
    const worker = createWorker({ backend, jobs: [job] })
    cleanups.push(() => worker.close())
    await waitFor(async () => (await backend.getJob(id))?.state === 'completed')
    expect(await backend.getJob(id)).toMatchObject({ tenant: 'acme', attemptsMade: 1 })
    expect(db.prepare('SELECT tenant FROM jobs').all()).toEqual([{ tenant: 'acme' }])
    await backend.close()
    expect(db.open).toBe(true) // not ours to close
  })

  test('a stored job with an invalid tenant fails permanently', async () => {
    const { tenancy } = makeTenancy()
    const file = nextFile()
    const backend = open(file)
    let ran = 0
    const job = defineJob('x', () => void ran++, { tenancy, backend, attempts: 3 })
    const id = await job.enqueue(null)
    const raw = new Database(file)
    raw.prepare('UPDATE tenantry_jobs SET tenant = ? WHERE id = ?').run('../evil', Number(id))
    raw.close()
    const worker = createWorker({ backend, jobs: [job] })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await waitFor(async () => (await backend.getJob(id))?.state === 'failed')
    expect(ran).toBe(0)
    expect((events.failed[0]!.error as { code: string }).code).toBe('TENANTRY_INVALID_TENANT_NAME')
  })
})
