// The backup and purge jobs go through every tenant; when some fail, the run fails with one
// coded error that lists them (the others were still done).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isTenantryError } from '@tenantry/context'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import {
  createEmbeddedBackend,
  createWorker,
  defineBackupJob,
  definePurgeJob,
  type JobBackend,
  type TenantRunFailedError,
} from '../src/index.js'
import { makeTenancy, record, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'tenantry-jobs-runs-'))
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a run over every tenant', () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!()
  })
  const backend = (): JobBackend => {
    const b = createEmbeddedBackend({ file: join(dir, `jobs-${++n}.db`), pollIntervalMs: 10 })
    cleanups.push(() => b.close())
    return b
  }

  test('backups: a failing tenant fails the run with TENANTRY_JOB_TENANTS_FAILED; the others are written', async () => {
    const { tenancy } = makeTenancy()
    const jobs = backend()
    const written: string[] = []
    const store = {
      list: async () => ['acme', 'broken', 'globex'],
      backupTenantToDir: async (tenant: string) => {
        if (tenant === 'broken') throw new Error('disk on fire')
        written.push(tenant)
        return `${tenant}.tar`
      },
    }
    const job = defineBackupJob({ store, dir, tenancy, backend: jobs, attempts: 1 })
    const worker = createWorker({ backend: jobs, jobs: [job], tenancy })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await job.enqueue({}, { tenant: null })
    await waitFor(() => events.failed.length === 1, 30_000, 'the failed run')
    const error = events.failed[0]!.error as TenantRunFailedError
    expect(isTenantryError(error, 'TENANTRY_JOB_TENANTS_FAILED')).toBe(true)
    expect(error.failed).toEqual([{ tenant: 'broken', error: 'disk on fire' }])
    expect(error.message).toBe('Backups failed for broken (disk on fire).')
    expect(written).toEqual(['acme', 'globex'])
  })

  test('purges: a tenant whose purge failed fails the run with the same code', async () => {
    const { tenancy } = makeTenancy()
    const jobs = backend()
    const store = {
      purgeExpired: async () => [{ tenant: 'gone' }, { tenant: 'stuck', error: new Error('busy') }],
    }
    const job = definePurgeJob({ store, tenancy, backend: jobs, attempts: 1 })
    const worker = createWorker({ backend: jobs, jobs: [job], tenancy })
    cleanups.push(() => worker.close())
    const events = record(worker)
    await job.enqueue({}, { tenant: null })
    await waitFor(() => events.failed.length === 1, 30_000, 'the failed run')
    const error = events.failed[0]!.error as TenantRunFailedError
    expect(isTenantryError(error, 'TENANTRY_JOB_TENANTS_FAILED')).toBe(true)
    expect(error.failed).toEqual([{ tenant: 'stuck', error: 'busy' }])
  })
})
