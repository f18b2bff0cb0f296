import { createTenancy, isTenantryError, type Tenancy } from '@tenantry/context'
import { type Kysely, type Migration, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPostgresTenantDatabases,
  MAX_IDENTIFIER_BYTES,
  type PostgresTenantDatabases,
  schemaFor,
  withTransaction,
} from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const run = runPrefix()
const suite = SKIP === undefined ? describe : describe.skip

const markerMigrations = (counter?: { n: number }): Record<string, Migration> => ({
  '001_marker': {
    async up(db) {
      if (counter) counter.n++
      await db.schema
        .createTable('marker')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('hit')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .execute()
    },
  },
})

const db = (t: Tenancy) => t.getResource('db') as Kysely<any>
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p
    return 'resolved'
  } catch (error) {
    return isTenantryError(error) ? error.code : error
  }
}

suite(suiteName('postgres: isolation on a shared pool'), () => {
  const prefix = `${run}iso_`
  const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${i}`)
  let store: PostgresTenantDatabases<any>
  let tenancy: Tenancy
  let pool: pg.Pool

  beforeAll(async () => {
    // A small pool whose every connection has a session search_path pointing at tenant-0: the
    // classic leak. Queries must land in their own tenant's schema regardless.
    pool = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 3,
      options: `-c search_path="${schemaFor(prefix, 'tenant-0')}"`,
    })
    tenancy = createTenancy()
    store = createPostgresTenantDatabases({
      pool,
      migrations: markerMigrations(),
      tenancy,
      schemaPrefix: prefix,
      registrySchema: `${run}registry`,
    }).install(tenancy)
    for (const t of tenants) {
      await store.createTenant(t)
      await tenancy.withTenant(t, async () => {
        await db(tenancy).insertInto('marker').values({ tenant: t }).execute()
      })
    }
  })
  afterAll(async () => {
    await store?.close()
    await pool?.end()
  })

  it('serves 200 interleaved requests over 3 connections, each only in its own schema', async () => {
    const random = () => new Promise((r) => setTimeout(r, Math.random() * 4))
    const seen: string[] = []
    const requests = Array.from({ length: 200 }, (_, i) => tenants[(i * 7) % tenants.length]!)
    await Promise.all(
      requests.map((t) =>
        tenancy.withTenant(t, async () => {
          await random()
          const before = await db(tenancy).selectFrom('marker').select('tenant').execute()
          await db(tenancy).insertInto('hit').values({ tenant: t }).execute()
          await random()
          const inTx = await withTransaction(
            async (trx) => {
              await trx.insertInto('hit').values({ tenant: t }).execute()
              const schema = await sql<{ s: string }>`select current_schema() as s`.execute(trx)
              seen.push(schema.rows[0]!.s)
              return await trx.selectFrom('marker').select('tenant').execute()
            },
            { tenancy },
          )
          expect(before).toEqual([{ tenant: t }])
          expect(inTx).toEqual([{ tenant: t }])
        }),
      ),
    )
    // The connections' search_path was tenant-0's all along; the queries did not care.
    expect(new Set(seen)).toEqual(new Set([schemaFor(prefix, 'tenant-0')]))
    for (const t of tenants) {
      const hits = await tenancy.withTenant(t, () =>
        db(tenancy).selectFrom('hit').select('tenant').distinct().execute(),
      )
      expect(hits).toEqual([{ tenant: t }])
    }
    const total = await pool.query('select count(*)::int as n from pg_stat_activity')
    expect(total.rows[0].n).toBeGreaterThan(0)
    expect(pool.totalCount).toBeLessThanOrEqual(3)
  })

  it('leaves raw sql unqualified: store.table() or sql.id(schema, table) must qualify it', async () => {
    await tenancy.withTenant('tenant-5', async () => {
      // withSchema rewrites builder queries but not raw templates: this unqualified name
      // follows the connection's search_path, here tenant-0's (the hazard the docs warn of).
      const raw = await sql<{ tenant: string }>`select tenant from marker`.execute(db(tenancy))
      expect(raw.rows).toEqual([{ tenant: 'tenant-0' }])
      const kyselyTable = await sql<{
        tenant: string
      }>`select tenant from ${sql.table('marker')}`.execute(db(tenancy))
      expect(kyselyTable.rows).toEqual([{ tenant: 'tenant-0' }])
      const qualified = await sql<{
        tenant: string
      }>`select tenant from ${store.table('marker')}`.execute(db(tenancy))
      expect(qualified.rows).toEqual([{ tenant: 'tenant-5' }])
      const byId = await sql<{
        tenant: string
      }>`select tenant from ${sql.id(store.schemaOf('tenant-5'), 'marker')}`.execute(db(tenancy))
      expect(byId.rows).toEqual([{ tenant: 'tenant-5' }])
    })
    expect(() => store.table('marker')).toThrow(/needs a current tenant/)
  })
})

suite(suiteName('postgres: creation, advisory locks, naming'), () => {
  const stores: PostgresTenantDatabases<any, any>[] = []
  const make = (
    prefix: string,
    extra: { lockTimeoutMs?: number; counter?: { n: number } } = {},
  ) => {
    const tenancy = createTenancy()
    const store = createPostgresTenantDatabases({
      connectionString: DATABASE_URL,
      migrations: markerMigrations(extra.counter),
      tenancy,
      schemaPrefix: prefix,
      registrySchema: `${run}registry`,
      lockTimeoutMs: extra.lockTimeoutMs,
      poolMax: 3,
    }).install(tenancy)
    stores.push(store)
    return { store, tenancy }
  }
  afterAll(async () => {
    for (const s of stores) await s.close()
  })

  it('lets exactly one of several stores (separate pools, like processes) create a tenant', async () => {
    const counter = { n: 0 }
    const prefix = `${run}multi_`
    const all = Array.from({ length: 5 }, () => make(prefix, { counter }))
    const outcomes = await Promise.all(
      all.flatMap(({ store }) => [
        codeOf(store.createTenant('shared')),
        codeOf(store.createTenant('shared')),
      ]),
    )
    expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'TENANTRY_TENANT_EXISTS')).toHaveLength(9)
    expect(counter.n).toBe(1)
    for (const { store } of all) expect(await store.list()).toEqual(['shared'])
    expect(await schemasLike(prefix)).toEqual([`${prefix}shared`])
  })

  it('waits for the advisory lock held by another session, and times out with TENANTRY_TENANT_BUSY', async () => {
    const prefix = `${run}lock_`
    const { store: patient } = make(prefix)
    const { store: hasty } = make(prefix, { lockTimeoutMs: 100 })
    const other = new pg.Client({ connectionString: DATABASE_URL })
    await other.connect()
    try {
      await other.query('begin')
      await other.query('select pg_advisory_xact_lock($1::bigint)', [patient.lockKey('held')])
      expect(await codeOf(hasty.createTenant('held'))).toBe('TENANTRY_TENANT_BUSY')
      let settled = false
      const creating = patient.createTenant('held').finally(() => {
        settled = true
      })
      // Wait until PostgreSQL shows the creator queued on the advisory lock.
      for (;;) {
        const { rows } = await other.query(
          "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted",
        )
        if (rows[0].n > 0) break
        await new Promise((r) => setImmediate(r))
      }
      expect(settled).toBe(false)
      expect(await patient.exists('held')).toBe(false)
      await other.query('commit')
      await creating
      expect(await patient.exists('held')).toBe(true)
      expect(await hasty.list()).toEqual(['held'])
    } finally {
      await other.end()
    }
  })

  it('destroys with DROP SCHEMA CASCADE and the registry row in one step', async () => {
    const prefix = `${run}gone_`
    const { store, tenancy } = make(prefix)
    await store.createTenant('doomed')
    await tenancy.withTenant('doomed', async () => {
      await db(tenancy).insertInto('marker').values({ tenant: 'doomed' }).execute()
    })
    expect(await schemasLike(prefix)).toEqual([`${prefix}doomed`])
    await store.destroyTenant('doomed')
    expect(await schemasLike(prefix)).toEqual([])
    expect(await store.list()).toEqual([])
    expect(await codeOf(store.destroyTenant('doomed'))).toBe('TENANTRY_UNKNOWN_TENANT')
  })

  it('maps tenant names to quoted schema names: hyphens kept, long names hashed under 63 bytes', async () => {
    const prefix = `${run}nm_`
    const { store, tenancy } = make(prefix)
    const long1 = `a${'b'.repeat(60)}1`
    const long2 = `a${'b'.repeat(60)}2`
    for (const t of ['my-shop', 'myshop', long1, long2]) await store.createTenant(t)
    expect(store.schemaOf('my-shop')).toBe(`${prefix}my-shop`)
    const s1 = store.schemaOf(long1)
    const s2 = store.schemaOf(long2)
    expect(s1).not.toBe(s2)
    expect(Buffer.byteLength(s1)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES)
    expect(await schemasLike(prefix)).toEqual(
      [s1, s2, `${prefix}my-shop`, `${prefix}myshop`].sort(),
    )
    for (const t of [long1, long2, 'my-shop'])
      expect(
        await tenancy.withTenant(t, async () => {
          await db(tenancy).insertInto('marker').values({ tenant: t }).execute()
          return db(tenancy).selectFrom('marker').select('tenant').execute()
        }),
      ).toEqual([{ tenant: t }])
    expect(() => createPostgresTenantDatabases({ migrations: {}, schemaPrefix: 'pg_x' })).toThrow(
      /pg_/,
    )
    expect(() =>
      createPostgresTenantDatabases({ migrations: {}, schemaPrefix: 'A"; drop' }),
    ).toThrow(/lower-case identifier/)
  })

  it('migrates the central schema on its first query and serves it as centralDb', async () => {
    const tenancy = createTenancy()
    const central = `${run}central`
    const store = createPostgresTenantDatabases<unknown, { plan: { name: string } }>({
      connectionString: DATABASE_URL,
      migrations: markerMigrations(),
      centralMigrations: {
        '001_plan': {
          async up(db) {
            await db.schema.createTable('plan').addColumn('name', 'text').execute()
          },
        },
      },
      centralSchema: central,
      tenancy,
      schemaPrefix: `${run}c_`,
      registrySchema: `${run}registry`,
    }).install(tenancy)
    stores.push(store)
    await store.central.insertInto('plan').values({ name: 'pro' }).execute()
    const viaResource = tenancy.getResource('centralDb') as Kysely<any>
    expect(await viaResource.selectFrom('plan').selectAll().execute()).toEqual([{ name: 'pro' }])
    expect(await store.migrateCentral()).toEqual([])
    expect(await schemasLike(central)).toEqual([central])
  })
})
