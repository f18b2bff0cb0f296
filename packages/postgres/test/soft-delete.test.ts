// Soft deletes on PostgreSQL: the registry row carries the mark, so a tenant soft-deleted
// through one store (another process, its own pool) is unknown to every other at once; the
// purge drops schema (or rows), registry row, files and jobs like a destroy. The row-level
// store shares the registry and so the feature; the sharded store refuses it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, type Tenancy } from '@tenantry/context'
import { attachJobs, createEmbeddedBackend, defineJob, type JobBackend } from '@tenantry/jobs'
import type { TenantDatabaseStore } from '@tenantry/kysely'
import { attachStorage, tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely, Migration } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createPostgresRowLevelTenantDatabases,
  createPostgresTenantDatabases,
  createShardedTenantDatabases,
} from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const migrations: Record<string, Migration> = {
  '001_note': {
    up: (db) =>
      db.schema
        .createTable('note')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('body', 'text')
        .execute(),
  },
}

const HOUR = 3_600_000
const run = SKIP === undefined ? runPrefix() : 'skip_'
const root = tempDir('tenantry-pg-soft-')
const closing: { close(): Promise<void> }[] = []
afterAll(async () => {
  for (const c of closing.reverse()) await c.close()
})

function schemaStore(tenancy: Tenancy, files: string): TenantDatabaseStore<any> {
  const store = createPostgresTenantDatabases<any>({
    connectionString: DATABASE_URL,
    migrations,
    schemaPrefix: `${run}t_`,
    registrySchema: `${run}registry`,
    existsCacheMs: 0,
    tenancy,
  }).install(tenancy)
  attachStorage(store, { root: files })
  closing.push(store)
  return store
}

function rowStore(tenancy: Tenancy): TenantDatabaseStore<any> {
  const store = createPostgresRowLevelTenantDatabases<any>({
    connectionString: DATABASE_URL,
    migrations,
    dataSchema: `${run}rows`,
    registrySchema: `${run}registry`,
    existsCacheMs: 0,
    tenancy,
  }).install(tenancy)
  closing.push(store)
  return store
}

function jobsOn(store: TenantDatabaseStore<any>, name: string): JobBackend {
  const jobs = createEmbeddedBackend({ file: join(root, `${name}-jobs.sqlite3`) })
  attachJobs(store, jobs)
  closing.push(jobs)
  return jobs
}

const jobCount = (jobs: JobBackend, t: string) =>
  (
    (jobs as unknown as { db: { prepare(q: string): { get(t: string): unknown } } }).db
      .prepare('select count(*) as n from tenantry_jobs where tenant = ?')
      .get(t) as { n: number }
  ).n

async function notes(tenancy: Tenancy, t: string): Promise<string[]> {
  return tenancy.withTenant(t, async () =>
    (
      await (tenancy.getResource('db') as Kysely<any>).selectFrom('note').select('body').execute()
    ).map((r) => r.body as string),
  )
}

describe.skipIf(SKIP !== undefined)(suiteName('soft delete (postgres)'), () => {
  it('schema per tenant: hidden for every store at once, undone, then purged like a destroy', async () => {
    const files = join(root, 'a')
    const tA = createTenancy()
    const a = schemaStore(tA, files)
    const jobs = jobsOn(a, 'a')
    const tB = createTenancy()
    const b = schemaStore(tB, files) // another process: its own pool, cache and tenancy
    await a.createTenant('acme')
    await a.createTenant('kept')
    await tA.withTenant('acme', () =>
      (tA.getResource('db') as Kysely<any>)
        .insertInto('note')
        .values({ id: 1, body: 'hi' })
        .execute(),
    )
    mkdirSync(tenantFilesDir(files, 'acme'), { recursive: true })
    writeFileSync(join(tenantFilesDir(files, 'acme'), 'a.txt'), 'acme')
    const job = defineJob('later', () => {}, { tenancy: tA, backend: jobs })
    await tA.withTenant('acme', () => job.enqueue({}, { delay: HOUR }))
    expect(await notes(tB, 'acme')).toEqual(['hi']) // B holds a handle

    await a.destroyTenant('acme', { graceMs: HOUR })
    for (const s of [a, b]) {
      expect(await s.exists('acme')).toBe(false)
      expect(await s.list()).toEqual(['kept'])
    }
    await expect(tB.withTenant('acme', () => 1)).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
    expect((await b.listDeleted()).map((d) => d.tenant)).toEqual(['acme'])
    await expect(b.createTenant('acme')).rejects.toMatchObject({ code: 'TENANTRY_TENANT_DELETED' })
    expect(await b.migrateAllTenants()).toEqual([{ tenant: 'kept', applied: [] }])

    await b.undestroyTenant('acme') // undone from the other process
    expect(await a.list()).toEqual(['acme', 'kept'])
    expect(await notes(tA, 'acme')).toEqual(['hi'])

    await b.destroyTenant('acme', { graceMs: 1 })
    const purged = await a.purgeExpired({ now: new Date(Date.now() + 60_000) })
    expect(purged.map((r) => [r.tenant, r.error])).toEqual([['acme', undefined]])
    expect(await schemasLike(`${run}t_acme`)).toEqual([])
    expect(existsSync(tenantFilesDir(files, 'acme'))).toBe(false)
    expect(jobCount(jobs, 'acme')).toBe(0)
    expect(await a.listDeleted()).toEqual([])
    await b.createTenant('acme')
    expect(await notes(tB, 'acme')).toEqual([])
  })

  it('row level: the same registry mark; the purge deletes the tenant rows', async () => {
    const t = createTenancy()
    const s = rowStore(t)
    await s.createTenant('r1')
    await s.createTenant('r2')
    for (const n of ['r1', 'r2'])
      await t.withTenant(n, () =>
        (t.getResource('db') as Kysely<any>)
          .insertInto('note')
          .values({ id: 1, body: n })
          .execute(),
      )
    await s.destroyTenant('r1', { graceMs: HOUR })
    expect(await s.list()).toEqual(['r2'])
    await s.undestroyTenant('r1')
    expect(await s.list()).toEqual(['r1', 'r2'])
    // Read as the superuser (no row-level security): which tenants' rows are stored.
    const owners = async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL })
      await c.connect()
      try {
        const q = `select tenant_id from "${run}rows".note order by tenant_id`
        return (await c.query(q)).rows.map((r) => r.tenant_id as string)
      } finally {
        await c.end()
      }
    }
    expect(await owners()).toEqual(['r1', 'r2'])
    await s.destroyTenant('r1', { graceMs: 1 })
    await s.purgeExpired({ now: new Date(Date.now() + 60_000) })
    expect(await owners()).toEqual(['r2'])
    expect(await s.listDeleted()).toEqual([])
  })

  it('a registry made before soft deletes gains its columns on first use', async () => {
    const c = new pg.Client({ connectionString: DATABASE_URL })
    await c.connect()
    const reg = `${run}oldreg`
    try {
      await c.query(`create schema "${reg}"`)
      await c.query(`create table "${reg}".tenants (schema_name text primary key, prefix text not null,
        tenant text not null, ready boolean not null default false, migration_stamp integer,
        created_at timestamptz not null default now(), unique (prefix, tenant))`)
    } finally {
      await c.end()
    }
    const t = createTenancy()
    const s = createPostgresTenantDatabases<any>({
      connectionString: DATABASE_URL,
      migrations,
      schemaPrefix: `${run}o_`,
      registrySchema: reg,
      tenancy: t,
    }).install(t)
    closing.push(s)
    await s.createTenant('old')
    await s.destroyTenant('old', { graceMs: HOUR })
    expect((await s.listDeleted()).map((d) => d.tenant)).toEqual(['old'])
  })

  it('the sharded store refuses soft deletes (never a silent hard destroy)', async () => {
    const t = createTenancy()
    const s = createShardedTenantDatabases<any>({
      shards: { one: DATABASE_URL! },
      central: DATABASE_URL!,
      migrations,
      schemaPrefix: `${run}s_`,
      registrySchema: `${run}sreg`,
      tenancy: t,
    }).install(t)
    closing.push(s)
    await s.createTenant('sh')
    await expect(s.destroyTenant('sh', { graceMs: HOUR })).rejects.toMatchObject({
      code: 'TENANTRY_OPERATION_UNSUPPORTED',
    })
    expect(await s.exists('sh')).toBe(true)
  })
})
