// The migration record: Kysely's table layout read with indexed lookups, never a catalog scan,
// and a per-tenant cost that does not grow with the number of tenants (counted in queries, so
// the test does not depend on the machine's load).
import { createTenancy, isTenantryError } from '@tenantry/context'
import { Kysely, type Migration, Migrator, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresTenantDatabases, type PostgresTenantDatabases } from '../src/index.js'
import { MigrationSet } from '../src/migrations.js'
import { DATABASE_URL, runPrefix, SKIP, suiteName } from './helpers.js'

const run = runPrefix()
const suite = SKIP === undefined ? describe : describe.skip

const table = (name: string): Migration => ({
  up: (db) =>
    db.schema
      .createTable(name)
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .execute(),
})

/** A pool whose every statement is recorded. */
function loggingPool(log: string[]): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 })
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as { query: unknown }).query = (...args: unknown[]) => {
      const text = args[0]
      log.push(typeof text === 'string' ? text : String((text as { text?: string })?.text ?? ''))
      return query(...args)
    }
  })
  return pool
}

// What a catalog-wide scan looks like: all relations (or all columns) of a schema found by
// filtering pg_class on its namespace (no index), or the information schema.
const CATALOG_SCAN = /relnamespace|pg_attribute|information_schema|pg_tables|pg_namespace n on/

suite(suiteName('postgres: migration record'), () => {
  const pools: pg.Pool[] = []
  const stores: PostgresTenantDatabases<any>[] = []
  afterAll(async () => {
    for (const s of stores) await s.close()
    for (const p of pools) await p.end()
  })
  const make = (migrations: Record<string, Migration>, prefix: string, log: string[] = []) => {
    const pool = loggingPool(log)
    pools.push(pool)
    const tenancy = createTenancy()
    const store = createPostgresTenantDatabases({
      pool,
      migrations,
      tenancy,
      schemaPrefix: `${run}${prefix}_`,
      registrySchema: `${run}registry`,
      existsCacheMs: 0,
    }).install(tenancy)
    stores.push(store)
    return { store, tenancy }
  }

  it('reads a schema migrated by Kysely’s Migrator as current, and adds only what is new', async () => {
    const schema = `${run}kysely`
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
    pools.push(pool)
    await pool.query(`create schema "${schema}"`)
    const db = new Kysely<any>({
      dialect: new PostgresDialect({
        pool: { connect: () => pool.connect(), end: async () => {} },
      }),
    }).withSchema(schema)
    const first = { '001_a': table('a'), '002_b': table('b') }
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => first },
      migrationTableSchema: schema,
    })
    // Kysely's Migrator introspects every schema of the database: when another test file drops
    // its schema meanwhile, PostgreSQL fails that catalog query with 3F000 naming the other
    // schema. Nothing was applied then, so running it again is the honest retry.
    let { error } = await migrator.migrateToLatest()
    for (let i = 0; i < 5 && isOtherSchemaGone(error, schema); i++)
      ({ error } = await migrator.migrateToLatest())
    expect(error).toBeUndefined()
    await db.destroy()
    const client = await pool.connect()
    try {
      const set = new MigrationSet({ ...first, '003_c': table('c') })
      expect(await set.status(client, schema)).toEqual({
        applied: ['001_a', '002_b'],
        pending: ['003_c'],
      })
      await client.query('begin')
      expect(await set.migrate(client, schema, 'kysely')).toEqual(['003_c'])
      await client.query('commit')
      expect((await set.status(client, schema)).pending).toEqual([])
      // A record naming a migration the set no longer has is refused, as Kysely does.
      const error = await new MigrationSet({ '001_a': table('a') })
        .migrate(client, schema, 'kysely')
        .catch((e: unknown) => e)
      expect(isTenantryError(error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
      expect((error as Error).message).toContain('corrupted migrations')
    } finally {
      client.release()
    }
  })

  it('never scans the catalog on create, open, migrate, info or destroy', async () => {
    const log: string[] = []
    const v1 = make({ '001_a': table('a') }, 'scan', log)
    await v1.store.createTenant('acme')
    await v1.tenancy.withTenant('acme', () => 1)
    const v2 = make({ '001_a': table('a'), '002_b': table('b') }, 'scan', log)
    await v2.store.migrateTenant('acme')
    await v2.store.migrateAllTenants()
    await v2.store.tenantInfo('acme')
    // An old-stamp open (what an older process sees after a newer one migrated).
    await v1.tenancy.withTenant('acme', () => 1).catch(() => {})
    await v2.store.destroyTenant('acme')
    expect(log.length).toBeGreaterThan(10)
    expect(log.filter((q) => CATALOG_SCAN.test(q))).toEqual([])
  })

  it('costs the same number of queries per tenant at 20 tenants as at 200', async () => {
    const queries = async (tenants: number, prefix: string) => {
      const log: string[] = []
      const v1 = make({ '001_a': table('a') }, prefix, log)
      for (let i = 0; i < tenants; i++) await v1.store.createTenant(`t${i}`)
      const v2 = make({ '001_a': table('a'), '002_b': table('b') }, prefix, log)
      log.length = 0
      await v2.store.migrateAllTenants({ concurrency: 4 })
      const migrate = log.length
      log.length = 0
      await v2.store.migrateAllTenants({ concurrency: 4 })
      const noop = log.length
      log.length = 0
      await v2.store.createTenant('one-more')
      return { migratePerTenant: migrate / tenants, noop, create: log.length }
    }
    const small = await queries(20, 'q20')
    const large = await queries(200, 'q200')
    // Equal but for the run's few fixed queries (listing, stale stamps) spread over more tenants.
    expect(large.migratePerTenant).toBeCloseTo(small.migratePerTenant, 0)
    // Nothing pending: one listing and one stale-stamp query, whatever the number of tenants.
    expect(large.noop).toBe(small.noop)
    expect(large.noop).toBeLessThanOrEqual(3)
    expect(large.create).toBe(small.create)
  })
})

/** A catalog query that raced with another test file dropping its schema (not `ours`). */
function isOtherSchemaGone(error: unknown, ours: string): boolean {
  const e = error as { code?: string; message?: string } | undefined
  return e?.code === '3F000' && e.message?.includes(`"${ours}"`) === false
}
