// The contract every JobBackend must meet, run against each backend by its own test file.

import { deferred as latch } from '@tenantry/test-utils'
import { afterEach, describe, expect, test } from 'vitest'
import { createWorker, defineJob, type JobBackend, type Worker } from '../src/index.js'
import { makeTenancy, record, waitFor } from './helpers.js'

/** Options of {@link describeJobBackendContract}. */
export interface ContractOptions {
  /** Releases a backend made by `makeBackend` (default: `backend.close()`). */
  dispose?: (backend: JobBackend) => Promise<void>
}

/** Registers the shared contract tests for one backend. */
export function describeJobBackendContract(
  name: string,
  makeBackend: () => Promise<JobBackend>,
  options: ContractOptions = {},
): void {
  describe(`JobBackend contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = []
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!()
    })
    const backendFor = async (): Promise<JobBackend> => {
      const backend = await makeBackend()
      cleanups.push(() => (options.dispose ? options.dispose(backend) : backend.close()))
      return backend
    }
    const started = (worker: Worker): Worker => {
      cleanups.push(() => worker.close())
      return worker
    }

    test("removeTenantJobs deletes one tenant's stored jobs (waiting, delayed) and no other's", async () => {
      const { tenancy } = makeTenancy()
      const backend = await backendFor()
      const job = defineJob('purge-me', () => {}, { tenancy, backend })
      const ids: Record<string, string[]> = { acme: [], globex: [] }
      for (const t of ['acme', 'globex'] as const)
        await tenancy.withTenant(t, async () => {
          ids[t]!.push(await job.enqueue({}))
          ids[t]!.push(await job.enqueue({}, { delay: 60_000 }))
        })
      expect(await backend.removeTenantJobs!('acme')).toBe(2)
      for (const id of ids.acme!) expect(await backend.getJob(id)).toBeUndefined()
      for (const id of ids.globex!) expect((await backend.getJob(id))?.tenant).toBe('globex')
      expect(await backend.removeTenantJobs!('acme')).toBe(0)
    })

    test('the handler runs in the tenant captured at enqueue, with its resources', async () => {
      const { tenancy, marker } = makeTenancy()
      const backend = await backendFor()
      const seen: unknown[] = []
      const job = defineJob(
        'greet',
        (payload: { n: number }, ctx) => {
          seen.push({
            n: payload.n,
            current: tenancy.currentTenant(),
            ctx: ctx.tenant,
            marker: marker(),
          })
        },
        { tenancy, backend },
      )
      await tenancy.withTenant('acme', () => job.enqueue({ n: 1 }))
      await tenancy.withTenant('globex', () => job.enqueue({ n: 2 }))
      const worker = started(createWorker({ backend, jobs: [job] }))
      const events = record(worker)
      await waitFor(() => events.completed.length === 2)
      expect(seen).toEqual(
        expect.arrayContaining([
          { n: 1, current: 'acme', ctx: 'acme', marker: 'acme' },
          { n: 2, current: 'globex', ctx: 'globex', marker: 'globex' },
        ]),
      )
      expect(tenancy.currentTenant()).toBeUndefined()
    })

    test('mixed tenants at concurrency 8 with random durations never cross', async () => {
      const names = Array.from({ length: 24 }, (_, i) => `t${i}`)
      const { tenancy, marker } = makeTenancy(names)
      const backend = await backendFor()
      const bad: string[] = []
      const order: number[] = []
      let active = 0
      let maxActive = 0
      const job = defineJob(
        'mixed',
        async (p: { i: number; expect: string | null; ms: number }) => {
          active++
          maxActive = Math.max(maxActive, active)
          const want = p.expect ?? undefined
          const wantMarker = p.expect ?? 'none'
          const check = (where: string) => {
            if (tenancy.currentTenant() !== want || marker() !== wantMarker)
              bad.push(`${p.i} ${where}: ${tenancy.currentTenant()}/${marker()} != ${want}`)
          }
          check('start')
          await new Promise((r) => setTimeout(r, p.ms)) // the job's work, not synchronisation
          check('after timer')
          await Promise.resolve()
          check('after microtask')
          order.push(p.i)
          active--
        },
        { tenancy, backend },
      )
      const total = 240
      for (let i = 0; i < total; i++) {
        // Every 6th job is untenanted; durations are scrambled so later jobs finish first.
        const tenant = i % 6 === 5 ? null : names[(i * 7) % names.length]!
        const ms = (i * 7919) % 23
        const payload = { i, expect: tenant, ms }
        if (tenant === null) await job.enqueue(payload)
        else await tenancy.withTenant(tenant, () => job.enqueue(payload))
      }
      const worker = started(createWorker({ backend, jobs: [job], concurrency: 8 }))
      const events = record(worker)
      await waitFor(() => events.completed.length + events.failed.length === total, 30_000)
      expect(bad).toEqual([])
      expect(events.failed).toEqual([])
      expect(new Set(order).size).toBe(total)
      expect(maxActive).toBeGreaterThan(1)
      // Later jobs overtook earlier ones at least once.
      expect(order.some((v, k) => k > 0 && v < order[k - 1]!)).toBe(true)
    })

    test('retries keep the tenant', async () => {
      const { tenancy, marker } = makeTenancy()
      const backend = await backendFor()
      const attempts: unknown[] = []
      const job = defineJob(
        'flaky',
        (_: null, ctx) => {
          attempts.push({ attempt: ctx.attempt, tenant: tenancy.currentTenant(), marker: marker() })
          if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`)
        },
        { tenancy, backend, attempts: 3, backoff: { type: 'fixed', delay: 10 } },
      )
      const id = await tenancy.withTenant('globex', () => job.enqueue(null))
      const worker = started(createWorker({ backend, jobs: [job] }))
      const events = record(worker)
      await waitFor(() => events.completed.length === 1)
      expect(attempts).toEqual(
        [1, 2, 3].map((attempt) => ({ attempt, tenant: 'globex', marker: 'globex' })),
      )
      expect(events.failed.map((f) => [f.job.id, f.willRetry])).toEqual([
        [id, true],
        [id, true],
      ])
    })

    test('a failing job does not leave the worker in its tenant', async () => {
      const { tenancy, marker } = makeTenancy()
      const backend = await backendFor()
      const seen: unknown[] = []
      const fail = defineJob(
        'fail',
        () => {
          throw new Error('handler failed inside acme')
        },
        { tenancy, backend, attempts: 1 },
      )
      const after = defineJob(
        'after',
        () => {
          seen.push({ tenant: tenancy.currentTenant(), marker: marker() })
        },
        { tenancy, backend },
      )
      await tenancy.withTenant('acme', () => fail.enqueue(null))
      await after.enqueue(null)
      const worker = started(createWorker({ backend, jobs: [fail, after], concurrency: 1 }))
      const events = record(worker)
      await waitFor(() => events.completed.length === 1 && events.failed.length === 1)
      expect(events.failed[0]!.willRetry).toBe(false)
      expect(seen).toEqual([{ tenant: undefined, marker: 'none' }])
    })

    test('untenanted jobs run outside any tenant, also when enqueued inside one with tenant: null', async () => {
      const { tenancy, marker } = makeTenancy()
      const backend = await backendFor()
      const seen: unknown[] = []
      const job = defineJob(
        'plain',
        (p: string, ctx) => {
          seen.push({ p, tenant: tenancy.currentTenant(), ctx: ctx.tenant, marker: marker() })
        },
        { tenancy, backend },
      )
      await job.enqueue('outside')
      await tenancy.withTenant('acme', () => job.enqueue('forced', { tenant: null }))
      const worker = started(createWorker({ backend, jobs: [job] }))
      const events = record(worker)
      await waitFor(() => events.completed.length === 2)
      expect(seen).toEqual(
        expect.arrayContaining([
          { p: 'outside', tenant: undefined, ctx: undefined, marker: 'none' },
          { p: 'forced', tenant: undefined, ctx: undefined, marker: 'none' },
        ]),
      )
    })

    test('a job whose tenant was destroyed fails permanently, without retries', async () => {
      const { tenancy, tenants } = makeTenancy(['acme', 'doomed'])
      const backend = await backendFor()
      let ran = 0
      const job = defineJob(
        'orphan',
        () => {
          ran++
        },
        { tenancy, backend, attempts: 5, backoff: { type: 'fixed', delay: 10 } },
      )
      const id = await tenancy.withTenant('doomed', () => job.enqueue(null))
      tenants.delete('doomed')
      const worker = started(createWorker({ backend, jobs: [job] }))
      const events = record(worker)
      await waitFor(() => events.failed.length === 1)
      await waitFor(async () => (await backend.getJob(id))?.state === 'failed')
      const info = await backend.getJob(id)
      expect(ran).toBe(0)
      expect(events.failed[0]).toMatchObject({ willRetry: false, permanent: true })
      expect((events.failed[0]!.error as { code: string }).code).toBe('TENANTRY_UNKNOWN_TENANT')
      expect(info).toMatchObject({ state: 'failed', attemptsMade: 1, tenant: 'doomed' })
      expect(info!.lastError).toContain('does not exist')
      // A later job still runs, and the orphan was not tried again meanwhile.
      await tenancy.withTenant('acme', () => job.enqueue(null))
      await waitFor(() => events.completed.length === 1)
      expect(events.failed).toHaveLength(1)
    })

    test('a worker started inside a tenant does not lend its frame to that tenant’s jobs', async () => {
      const { tenancy, marker } = makeTenancy()
      const backend = await backendFor()
      const seen: string[] = []
      const job = defineJob(
        'starter',
        () => {
          seen.push(`${tenancy.currentTenant()}/${marker()}`)
        },
        { tenancy, backend },
      )
      // E.g. started from a request or a test that holds acme's open transaction as an override.
      const worker = await tenancy.withTenant('acme', () =>
        tenancy.withOverrides({ marker: { tenant: 'acme-transaction' } }, () =>
          started(createWorker({ backend, jobs: [job] })),
        ),
      )
      const events = record(worker)
      await job.enqueue(null, { tenant: 'acme' })
      await job.enqueue(null, { tenant: 'globex' })
      await waitFor(() => events.completed.length === 2)
      expect(seen.sort()).toEqual(['acme/acme', 'globex/globex'])
    })

    test('delayed jobs wait for their delay', async () => {
      const { tenancy } = makeTenancy()
      const backend = await backendFor()
      const ran: { p: string; at: number; tenant: string | undefined }[] = []
      const job = defineJob(
        'later',
        (p: string) => {
          ran.push({ p, at: Date.now(), tenant: tenancy.currentTenant() })
        },
        { tenancy, backend },
      )
      const worker = started(createWorker({ backend, jobs: [job] }))
      const events = record(worker)
      const t0 = Date.now()
      await tenancy.withTenant('acme', () => job.enqueue('delayed', { delay: 400 }))
      await job.enqueue('now')
      await waitFor(() => events.completed.length === 2)
      expect(ran.map((r) => r.p)).toEqual(['now', 'delayed'])
      expect(ran[1]!.at - t0).toBeGreaterThanOrEqual(390)
      expect(ran[1]!.tenant).toBe('acme')
    })

    test('close() waits for running jobs (graceful shutdown)', async () => {
      const { tenancy } = makeTenancy()
      const backend = await backendFor()
      const entered = latch()
      const release = latch()
      const job = defineJob(
        'slow',
        async () => {
          entered.resolve()
          await release.promise
        },
        { tenancy, backend },
      )
      await tenancy.withTenant('acme', () => job.enqueue(null))
      const worker = createWorker({ backend, jobs: [job] })
      const events = record(worker)
      await entered.promise
      let closed = false
      const closing = worker.close().then(() => {
        closed = true
      })
      await new Promise((r) => setImmediate(r))
      expect(closed).toBe(false)
      expect(worker.running).toBe(1)
      release.resolve()
      await closing
      expect(events.completed).toHaveLength(1)
      expect(worker.running).toBe(0)
    })
  })
}
