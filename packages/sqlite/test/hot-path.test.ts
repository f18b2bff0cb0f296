// The warm path and the memory budget: prepared statements cached per handle, no path
// computation for a known tenant, a page-cache ceiling, idle connections shrunk, and
// migrate-all in worker threads.
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import Database from 'better-sqlite3'
import { type Kysely, SqliteQueryCompiler, sql } from 'kysely'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTenantDatabases, type TenantDatabasesOptions } from '../src/index.js'
import { Layout } from '../src/layout.js'
import { IdleShrinker } from '../src/memory.js'
import { first, migrations as second } from './fixtures/worker-migrations.js'

const root = tempDir('tenantry-sqlite-hot-')
let n = 0
const stores: { close(): Promise<void> }[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const s of stores.splice(0)) await s.close()
})

function make(extra: Partial<TenantDatabasesOptions> = {}, dir = join(root, `s${++n}`)) {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({ root: dir, migrations: first, tenancy, ...extra })
  store.install(tenancy)
  stores.push(store)
  const db = () => tenancy.getResource('db') as Kysely<any>
  return { store, tenancy, db, dir }
}

describe('statement cache', () => {
  it('prepares a repeated query once per handle, and every time when turned off', async () => {
    for (const [statementCache, expected] of [
      [undefined, 1],
      [0, 5],
    ] as const) {
      const { store, tenancy, db } = make({ statementCache })
      await store.createTenant('acme')
      await tenancy.withTenant('acme', () => db().selectFrom('note').selectAll().execute())
      const prepare = vi.spyOn(Database.prototype, 'prepare')
      await tenancy.withTenant('acme', async () => {
        for (let i = 0; i < 5; i++)
          await db().selectFrom('note').selectAll().where('id', '=', i).execute()
      })
      const selects = prepare.mock.calls.filter(([s]) => String(s).startsWith('select'))
      expect(selects.length).toBe(expected)
      prepare.mockRestore()
    }
  })
})

describe('warm exists', () => {
  it('computes a tenant path once, even when every exists asks the file system', async () => {
    const { store } = make({ existsCacheMs: 0 })
    await store.createTenant('acme')
    const file = vi.spyOn(Layout.prototype as unknown as { compute(t: string): string }, 'compute')
    for (let i = 0; i < 5; i++) expect(await store.exists('acme')).toBe(true)
    expect(file).toHaveBeenCalledTimes(0) // createTenant already remembered it
    expect(await store.exists('other')).toBe(false)
    expect(await store.exists('other')).toBe(false)
    expect(file).toHaveBeenCalledTimes(1)
  })

  it('walks no path for a tenant with an open handle, only for one without', async () => {
    const { store, tenancy, db } = make({ existsCacheMs: 0 })
    await store.createTenant('acme')
    await store.createTenant('globex')
    await tenancy.withTenant('acme', () => db().selectFrom('note').selectAll().execute())
    const walk = vi.spyOn(Layout.prototype, 'checkedFile')
    for (let i = 0; i < 5; i++) expect(await store.exists('acme')).toBe(true)
    expect(walk).toHaveBeenCalledTimes(0) // the open handle's file was checked when it opened
    expect(await store.exists('globex')).toBe(true) // no handle: the layout's checks run
    expect(walk).toHaveBeenCalledTimes(1)
  })

  it('still refuses names the naming rule refuses, every time', () => {
    const { store } = make()
    expect(() => store.tenantPath('../x')).toThrow()
    expect(() => store.tenantPath('../x')).toThrow()
  })
})

describe('connection settings', () => {
  it('keeps foreign keys on and synchronous NORMAL, and caps the page cache', async () => {
    const { store, tenancy, db } = make()
    await store.createTenant('acme')
    const row = await tenancy.withTenant('acme', async () => ({
      fk: (await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db())).rows[0],
      sync: (await sql<{ synchronous: number }>`pragma synchronous`.execute(db())).rows[0],
      cache: (await sql<{ cache_size: number }>`pragma cache_size`.execute(db())).rows[0],
    }))
    expect(row).toEqual({
      fk: { foreign_keys: 1 },
      sync: { synchronous: 1 },
      cache: { cache_size: -2048 },
    })
  })

  it('shrinks a connection idle for a whole round, once, and never one in use', () => {
    const shrinker = new IdleShrinker(60_000)
    const calls: string[] = []
    const fake = (name: string) =>
      ({
        open: true,
        pragma: (p: string) => calls.push(`${name}:${p}`),
      }) as unknown as Database.Database
    const idle = fake('idle')
    const busy = fake('busy')
    shrinker.watch(idle)
    const use = shrinker.watch(busy)
    shrinker.sweep() // both were just opened: used
    use()
    shrinker.sweep()
    use()
    shrinker.sweep()
    expect(calls).toEqual(['idle:shrink_memory'])
    shrinker.sweep() // busy idle now; idle already shrunk
    expect(calls).toEqual(['idle:shrink_memory', 'busy:shrink_memory'])
    shrinker.stop()
  })

  it('runs a round every sweepEveryOpens opens, with no timer firing', () => {
    const shrinker = new IdleShrinker(60_000, 3)
    const calls: string[] = []
    const raw = {
      open: true,
      pragma: (p: string) => calls.push(p),
    } as unknown as Database.Database
    shrinker.watch(raw)
    shrinker.opened()
    shrinker.opened()
    expect(calls).toEqual([])
    shrinker.opened() // round 1: marks it unused
    shrinker.opened()
    shrinker.opened()
    shrinker.opened() // round 2: shrinks it
    expect(calls).toEqual(['shrink_memory'])
    shrinker.stop()
  })

  it('shrinks idle connections in a tight loop of opens (store, timer never fires)', async () => {
    const pragma = vi.spyOn(Database.prototype, 'pragma')
    // cap 32: a round every 8 opens; 24 tenants stay open, each touched once, in order.
    const { store, tenancy, db } = make({ cap: 32, memory: { shrinkIdleMs: 3_600_000 } })
    for (let i = 0; i < 24; i++) await store.createTenant(`t${i}`)
    pragma.mockClear()
    for (let i = 0; i < 24; i++)
      await tenancy.withTenant(`t${i}`, () => db().selectFrom('note').selectAll().execute())
    const shrinks = pragma.mock.calls.filter(([p]) => p === 'shrink_memory').length
    expect(shrinks).toBeGreaterThan(0)
    // The earliest ones were idle for two rounds; the last eight were not.
    expect(shrinks).toBeLessThan(24)
  })
})

describe('shared query compiler', () => {
  it('gives every handle one compiler, and interleaved queries still compile right', async () => {
    const seen = new Set<unknown>()
    const compile = SqliteQueryCompiler.prototype.compileQuery
    vi.spyOn(SqliteQueryCompiler.prototype, 'compileQuery').mockImplementation(function (
      this: SqliteQueryCompiler,
      ...args
    ) {
      seen.add(this)
      return compile.apply(this, args)
    })
    const { store, tenancy, db } = make()
    const names = Array.from({ length: 6 }, (_, i) => `c${i}`)
    for (const t of names) await store.createTenant(t)
    seen.clear()
    const ids = await Promise.all(
      names.map((t, i) =>
        tenancy.withTenant(t, async () => {
          await db().insertInto('note').values({ id: i }).execute()
          await Promise.resolve()
          const rows = await db().selectFrom('note').select('id').where('id', '>=', 0).execute()
          return rows.map((r) => r.id)
        }),
      ),
    )
    expect(ids).toEqual(names.map((_, i) => [i]))
    expect(seen.size).toBe(1)
  })
})

describe('migrateAllTenants in worker threads', () => {
  it('migrates every tenant in threads, reports progress, records a failure per tenant', async () => {
    const dir = join(root, `w${++n}`)
    const { store: v1 } = make({}, dir)
    const tenants = ['t1', 't2', 't3', 't4', 't5', 'bad']
    for (const t of tenants) await v1.createTenant(t)
    const raw = new Database(v1.tenantPath('bad'))
    raw.exec('create table tag (x)') // 002_tag fails here
    raw.close()
    await v1.close()
    const { store } = make(
      {
        migrations: second,
        migrationsModule: { module: new URL('./fixtures/worker-migrations.ts', import.meta.url) },
      },
      dir,
    )
    const progress: number[] = []
    const events: string[] = []
    store.lifecycle.on('migrated', (e) => {
      events.push(`${e.tenant}:${e.applied.join(',')}`)
    })
    const results = await store.migrateAllTenants({
      concurrency: 2,
      onProgress: (p) => progress.push(p.done),
    })
    expect(results.map((r) => r.tenant)).toEqual(['bad', 't1', 't2', 't3', 't4', 't5'])
    expect(results.slice(1).map((r) => r.applied)).toEqual(Array(5).fill(['002_tag']))
    expect(results[0]!.error).toMatchObject({ code: 'TENANTRY_MIGRATION_FAILED', tenant: 'bad' })
    expect(progress).toEqual([1, 2, 3, 4, 5, 6])
    // `migrated` fires in this thread, for the tenants that changed.
    expect(events.sort()).toEqual(['t1', 't2', 't3', 't4', 't5'].map((t) => `${t}:002_tag`))
    // A second run finds every good tenant current from its header, without a thread.
    const again = await store.migrateAllTenants({ concurrency: 2 })
    expect(again.filter((r) => r.applied.length > 0 || r.error)).toEqual([
      expect.objectContaining({ tenant: 'bad' }),
    ])
  }, 120_000) // starting threads (tsx from sources) is slow on a loaded machine

  it('fails every tenant with the reason when the migrations module cannot load', async () => {
    const dir = join(root, `w${++n}`)
    const { store: v1 } = make({}, dir)
    for (const t of ['a', 'b', 'c']) await v1.createTenant(t)
    await v1.close()
    const { store } = make(
      { migrations: second, migrationsModule: { module: join(dir, 'missing.mjs') } },
      dir,
    )
    const results = await store.migrateAllTenants({ concurrency: 2 })
    expect(results.map((r) => [r.tenant, r.applied, r.error !== undefined])).toEqual([
      ['a', [], true],
      ['b', [], true],
      ['c', [], true],
    ])
  }, 120_000) // starting threads (tsx from sources) is slow on a loaded machine
})
