// Soft deletes on SQLite: hidden in every process at once (a tombstone renamed into place),
// undone within the grace, purged after it like a destroy (files, jobs, cache entries), and
// never half-done when the process is killed in the middle.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { tenantKey } from '@tenantry/cache'
import { createWorker, defineJob, definePurgeJob } from '@tenantry/jobs'
import { tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AttachedStore,
  attachedStore,
  closeAttachedStores,
} from './fixtures/attached-store.js'
import { opsMigrations } from './fixtures/ops-migrations.js'
import { filesUnder } from './helpers.js'

const repoRoot = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'soft-child.ts')
const HOUR = 3_600_000

type Fixture = AttachedStore

afterEach(closeAttachedStores)

function setup(root = tempDir('tenantry-soft-')): Fixture {
  return attachedStore(root, opsMigrations, 0)
}

async function populate(f: Fixture, tenant: string): Promise<void> {
  await f.store.createTenant(tenant)
  await f.tenancy.withTenant(tenant, () =>
    f
      .db()
      .insertInto('blob')
      .values({ id: 1, data: Buffer.from(tenant) })
      .execute(),
  )
  mkdirSync(tenantFilesDir(f.root, tenant), { recursive: true })
  writeFileSync(join(tenantFilesDir(f.root, tenant), 'a.txt'), tenant)
  const job = defineJob('noop', () => {}, { tenancy: f.tenancy, backend: f.jobs })
  await f.tenancy.withTenant(tenant, () => job.enqueue({}, { delay: HOUR }))
  f.cache.set(tenantKey('page', tenant), tenant)
}

const jobCount = (f: Fixture, tenant: string) =>
  (
    (f.jobs as unknown as { db: import('better-sqlite3').Database }).db
      .prepare('select count(*) as n from tenantry_jobs where tenant = ?')
      .get(tenant) as { n: number }
  ).n

function child(root: string, mode: string, tenant: string): Promise<string[]> {
  return new Promise((done, fail) => {
    const c = spawn(
      process.execPath,
      ['--conditions=tenantry-source', '--import', 'tsx', fixture, root, mode, tenant],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const lines: string[] = []
    createInterface({ input: c.stdout! }).on('line', (l) => lines.push(l))
    c.on('error', fail)
    c.on('exit', (code) => (code === 0 ? done(lines) : fail(new Error(`child exit ${code}`))))
  })
}

/** Runs the soft-delete/undo loop in a child and SIGKILLs it after `after` steps. */
function killLoop(root: string, tenant: string, after: number): Promise<string[]> {
  return new Promise((done, fail) => {
    const c = spawn(
      process.execPath,
      ['--conditions=tenantry-source', '--import', 'tsx', fixture, root, 'loop', tenant],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const lines: string[] = []
    createInterface({ input: c.stdout! }).on('line', (l) => {
      lines.push(l)
      if (lines.length === after) c.kill('SIGKILL')
    })
    c.on('error', fail)
    c.on('exit', (_code, signal) =>
      signal === 'SIGKILL' ? done(lines) : fail(new Error(`not killed: ${lines}`)),
    )
  })
}

describe('soft delete (sqlite)', () => {
  it('hides the tenant, keeps its data, holds its name, and undoes within the grace', async () => {
    const f = setup()
    await populate(f, 'acme')
    await populate(f, 'globex')
    const events: string[] = []
    for (const e of ['deleting', 'deleted', 'undeleted', 'destroying', 'destroyed'] as const)
      f.store.lifecycle.on(e, ({ tenant }) => {
        events.push(`${e}:${tenant}`)
      })
    await f.store.destroyTenant('acme', { graceMs: HOUR })
    expect(events).toEqual(['deleting:acme', 'deleted:acme'])
    expect(await f.store.exists('acme')).toBe(false)
    expect(await f.store.list()).toEqual(['globex'])
    await expect(f.tenancy.withTenant('acme', () => 1)).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
    const [d] = await f.store.listDeleted()
    expect(d).toMatchObject({ tenant: 'acme' })
    expect(d!.purgeAt.getTime() - d!.deletedAt.getTime()).toBe(HOUR)
    await expect(f.store.createTenant('acme')).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_DELETED',
    })
    await expect(f.store.createTenant('acme', { ifNotExists: true })).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_DELETED',
    })
    const archive = join(f.root, 'globex.tar')
    await f.store.backupTenant('globex', archive)
    await expect(f.store.restoreTenant(archive, { as: 'acme', force: true })).rejects.toMatchObject(
      { code: 'TENANTRY_TENANT_DELETED' },
    )
    await expect(f.store.purgeExpired()).resolves.toEqual([]) // not due yet
    expect(readFileSync(join(tenantFilesDir(f.root, 'acme'), 'a.txt'), 'utf8')).toBe('acme')
    expect(jobCount(f, 'acme')).toBe(1)

    await f.store.undestroyTenant('acme')
    expect(events.at(-1)).toBe('undeleted:acme')
    expect(await f.store.list()).toEqual(['acme', 'globex'])
    const rows = await f.tenancy.withTenant('acme', () =>
      f.db().selectFrom('blob').select('data').execute(),
    )
    expect(rows.map((r) => Buffer.from(r.data).toString())).toEqual(['acme'])
    expect(await f.store.listDeleted()).toEqual([])
    await expect(f.store.undestroyTenant('acme')).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_NOT_DELETED',
    })
    await expect(f.store.undestroyTenant('nobody')).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
    await expect(f.store.destroyTenant('acme', { graceMs: -1 })).rejects.toMatchObject({
      code: 'TENANTRY_INVALID_GRACE',
    })
    expect(events).not.toContain('destroying:acme')
  })

  it('after the grace: undo is refused and the purge leaves no file, job or cache entry', async () => {
    const f = setup()
    await populate(f, 'acme')
    await populate(f, 'globex')
    await f.store.destroyTenant('acme', { graceMs: 1 })
    const destroyed: string[] = []
    f.store.lifecycle.on('destroyed', ({ tenant }) => {
      destroyed.push(tenant)
    })
    const later = new Date(Date.now() + 60_000)
    // The grace of 1 ms is over once the clock moved; the purge is measured against `later`.
    await expect
      .poll(() => f.store.undestroyTenant('acme').catch((e) => e.code))
      .toBe('TENANTRY_GRACE_EXPIRED')
    const results = await f.store.purgeExpired({ now: later })
    expect(results.map((r) => [r.tenant, r.error])).toEqual([['acme', undefined]])
    expect(destroyed).toEqual(['acme'])
    expect(filesUnder(f.root).filter((p) => p.includes('acme'))).toEqual([])
    expect(existsSync(join(f.root, 'tenants', 'acme'))).toBe(false)
    expect(jobCount(f, 'acme')).toBe(0)
    expect(f.cache.has(tenantKey('page', 'acme'))).toBe(false)
    expect(jobCount(f, 'globex')).toBe(1)
    expect(await f.store.listDeleted()).toEqual([])
    await f.store.createTenant('acme') // the name is free again, and starts empty
    expect(
      await f.tenancy.withTenant('acme', () => f.db().selectFrom('blob').selectAll().execute()),
    ).toEqual([])
  })

  it('destroy without a grace purges a soft-deleted tenant at once', async () => {
    const f = setup()
    await populate(f, 'acme')
    await f.store.destroyTenant('acme', { graceMs: HOUR })
    await f.store.destroyTenant('acme')
    expect(filesUnder(f.root).filter((p) => p.includes('acme'))).toEqual([])
    expect(await f.store.listDeleted()).toEqual([])
  })

  it('a tenant soft-deleted by another process is unknown here, even with a handle open', async () => {
    const f = setup()
    await populate(f, 'acme')
    await populate(f, 'globex')
    expect(
      await f.tenancy.withTenant('acme', () => f.db().selectFrom('blob').selectAll().execute()),
    ).toHaveLength(1)
    await child(f.root, 'delete', 'acme')
    expect(await f.store.exists('acme')).toBe(false)
    expect(await f.store.list()).toEqual(['globex'])
    await expect(f.tenancy.withTenant('acme', () => 1)).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
    // ... and the other way round: another process sees it hidden, then restored.
    expect(JSON.parse((await child(f.root, 'probe', 'acme'))[0]!)).toEqual({
      exists: false,
      list: ['globex'],
    })
    await f.store.undestroyTenant('acme')
    expect(JSON.parse((await child(f.root, 'probe', 'acme'))[0]!)).toEqual({
      exists: true,
      list: ['acme', 'globex'],
    })
  })

  it('kill -9 in a soft-delete/undo loop leaves the tenant wholly visible or wholly hidden', async () => {
    const f = setup()
    await populate(f, 'acme')
    for (const after of [1, 2, 5]) {
      const lines = await killLoop(f.root, 'acme', after)
      expect(lines.length).toBeGreaterThanOrEqual(after)
      const hidden = (await f.store.listDeleted()).map((d) => d.tenant).includes('acme')
      expect(await f.store.exists('acme')).toBe(!hidden)
      expect(await f.store.list()).toEqual(hidden ? [] : ['acme'])
      if (hidden) await f.store.undestroyTenant('acme')
      // Whole: its row is there, its lock is free (a destroy-with-grace gets through at once).
      const rows = await f.tenancy.withTenant('acme', () =>
        f.db().selectFrom('blob').selectAll().execute(),
      )
      expect(rows).toHaveLength(1)
    }
  })
})

describe('the purge job', () => {
  it('purges what is due, keeps what is not, and schedules its next run', async () => {
    const f = setup()
    await populate(f, 'due')
    await populate(f, 'held')
    await f.store.destroyTenant('due', { graceMs: 1 })
    await f.store.destroyTenant('held', { graceMs: HOUR })
    // The 1 ms grace has passed once undoing it says so.
    await expect
      .poll(() => f.store.undestroyTenant('due').catch((e) => e.code))
      .toBe('TENANTRY_GRACE_EXPIRED')
    const job = definePurgeJob({
      store: f.store,
      everyMs: HOUR,
      tenancy: f.tenancy,
      backend: f.jobs,
    })
    const worker = createWorker({ backend: f.jobs, jobs: [job], tenancy: f.tenancy })
    const results: unknown[] = []
    worker.on('completed', (_job, result) => results.push(result))
    try {
      await job.enqueue({}, { tenant: null })
      await expect.poll(() => results.length, { timeout: 30_000 }).toBe(1)
    } finally {
      await worker.close()
    }
    expect(results[0]).toEqual({ purged: ['due'], failed: [] })
    expect((await f.store.listDeleted()).map((d) => d.tenant)).toEqual(['held'])
    expect(filesUnder(f.root).filter((p) => p.includes('due'))).toEqual([])
    expect(jobCount(f, 'due')).toBe(0)
    const next = (f.jobs as unknown as { db: import('better-sqlite3').Database }).db
      .prepare(
        "select count(*) as n from tenantry_jobs where name = 'tenantry.purge' and state = 'waiting'",
      )
      .get() as { n: number }
    expect(next.n).toBe(1)
  })
})
