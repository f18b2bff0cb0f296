import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import {
  createEmbeddedBackend,
  createWorker,
  defineJob,
  enqueueForEachTenant,
  getDefaultJobBackend,
  type JobBackend,
  type JobLogger,
  PermanentJobError,
  setDefaultJobBackend,
} from '../src/index.js'
import { makeTenancy, record, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'tenantry-jobs-api-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  setDefaultJobBackend(undefined)
  while (cleanups.length > 0) await cleanups.pop()!()
})
function backend(): JobBackend {
  const b = createEmbeddedBackend({ file: join(dir, `api-${++n}.db`), pollIntervalMs: 10 })
  cleanups.push(() => b.close())
  return b
}

/** A pino-like logger that records every line with its bindings. */
function fakeLogger(lines: Record<string, unknown>[], bindings: Record<string, unknown> = {}) {
  const at =
    (level: string) =>
    (first: unknown, ...rest: unknown[]) => {
      const obj = typeof first === 'object' && first !== null ? first : {}
      const msg = typeof first === 'string' ? first : rest[0]
      lines.push({ level, ...bindings, ...obj, msg })
    }
  const logger: JobLogger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (b) => fakeLogger(lines, { ...bindings, ...b }),
  }
  return logger
}

describe('defineJob / enqueue', () => {
  test('captures the current tenant, or the explicit one, or none; validates names', async () => {
    const { tenancy } = makeTenancy()
    const b = backend()
    const job = defineJob('capture', (_: number) => {}, { tenancy, backend: b })
    const inAcme = await tenancy.withTenant('acme', () => job.enqueue(1))
    const explicit = await job.enqueue(2, { tenant: 'globex' })
    const none = await job.enqueue(3)
    expect((await b.getJob(inAcme))?.tenant).toBe('acme')
    expect((await b.getJob(explicit))?.tenant).toBe('globex')
    expect((await b.getJob(none))?.tenant).toBeNull()
    await expect(job.enqueue(4, { tenant: '../etc' })).rejects.toMatchObject({
      code: 'TENANTRY_INVALID_TENANT_NAME',
    })
    await expect(job.enqueue(undefined as unknown as number)).rejects.toMatchObject({
      code: 'TENANTRY_JOB_CONFIG',
    })
    await expect(job.enqueue(5, { delay: -1 })).rejects.toMatchObject({
      code: 'TENANTRY_JOB_CONFIG',
    })
  })

  test('needs a backend: from the job, the call, or setDefaultJobBackend', async () => {
    const { tenancy } = makeTenancy()
    const job = defineJob('nobackend', () => {}, { tenancy })
    await expect(job.enqueue(null)).rejects.toMatchObject({ code: 'TENANTRY_JOB_NO_BACKEND' })
    const b = backend()
    expect(await job.enqueue(null, { backend: b })).toBe('1')
    setDefaultJobBackend(b)
    expect(getDefaultJobBackend()).toBe(b)
    expect(await job.enqueue(null)).toBe('2')
  })

  test('rejects bad definitions and worker options', () => {
    const { tenancy } = makeTenancy()
    expect(() => defineJob('', () => {})).toThrow(
      expect.objectContaining({ code: 'TENANTRY_JOB_CONFIG' }),
    )
    expect(() => defineJob('a', () => {}, { attempts: 0 })).toThrow(/attempts/)
    const a = defineJob('a', () => {}, { tenancy })
    const b = backend()
    expect(() => createWorker({ backend: b, jobs: [a, a] })).toThrow(/named "a"/)
    const other = defineJob('other', () => {}, { tenancy: createTenancy() })
    expect(() => createWorker({ backend: b, jobs: [a, other] })).toThrow(/another tenancy/)
    expect(() => createWorker({ backend: b, jobs: [a], concurrency: 0 })).toThrow(/concurrency/)
  })

  test('enqueueForEachTenant fans out over the tenant source, one job per tenant', async () => {
    const { tenancy, marker } = makeTenancy(['a1', 'b2', 'c3'])
    const b = backend()
    const seen: string[] = []
    const digest = defineJob(
      'digest',
      (p: { kind: string }) => {
        seen.push(`${p.kind}:${tenancy.currentTenant()}:${marker()}`)
      },
      { tenancy, backend: b },
    )
    const ids = await enqueueForEachTenant(digest, { kind: 'daily' })
    expect(ids).toHaveLength(3)
    const worker = createWorker({ backend: b, jobs: [digest], concurrency: 3 })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await waitFor(() => events.completed.length === 3)
    expect(seen.sort()).toEqual(['daily:a1:a1', 'daily:b2:b2', 'daily:c3:c3'])
  })
})

describe('worker', () => {
  test('log lines carry tenant, jobId and job name, also from the handler', async () => {
    const { tenancy } = makeTenancy()
    const b = backend()
    const lines: Record<string, unknown>[] = []
    const job = defineJob(
      'logs',
      (p: string, ctx) => {
        ctx.log.info({ step: p }, 'working')
        if (p === 'bad') throw new Error('nope')
      },
      { tenancy, backend: b, attempts: 1 },
    )
    const ok = await tenancy.withTenant('acme', () => job.enqueue('ok'))
    const bad = await tenancy.withTenant('globex', () => job.enqueue('bad'))
    const worker = createWorker({ backend: b, jobs: [job], logger: fakeLogger(lines) })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await waitFor(() => events.completed.length + events.failed.length === 2)
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'working',
        step: 'ok',
        tenant: 'acme',
        jobId: ok,
        job: 'logs',
      }),
    )
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'job failed', tenant: 'globex', jobId: bad }),
    )
  })

  test('PermanentJobError skips the remaining attempts', async () => {
    const { tenancy } = makeTenancy()
    const b = backend()
    let runs = 0
    const job = defineJob(
      'give-up',
      () => {
        runs++
        throw new PermanentJobError('payload can never work')
      },
      { tenancy, backend: b, attempts: 5, backoff: { delay: 1 } },
    )
    const id = await tenancy.withTenant('acme', () => job.enqueue(null))
    const worker = createWorker({ backend: b, jobs: [job] })
    cleanups.push(() => worker.close())
    await waitFor(async () => (await b.getJob(id))?.state === 'failed')
    expect(runs).toBe(1)
    expect((await b.getJob(id))?.lastError).toContain('TENANTRY_JOB_PERMANENT')
  })

  test('a worker started inside a tenant does not hand that tenant to untenanted jobs', async () => {
    const { tenancy } = makeTenancy()
    const b = backend()
    const seen: unknown[] = []
    const job = defineJob('bare', () => void seen.push(tenancy.currentTenant()), {
      tenancy,
      backend: b,
    })
    const worker = await tenancy.withTenant('acme', () => createWorker({ backend: b, jobs: [job] }))
    cleanups.push(() => worker.close())
    const events = record(worker)
    await job.enqueue(null)
    await tenancy.withTenant('globex', () => job.enqueue(null))
    await job.enqueue(null)
    await waitFor(() => events.completed.length === 3)
    expect(seen).toEqual([undefined, 'globex', undefined])
  })
})
