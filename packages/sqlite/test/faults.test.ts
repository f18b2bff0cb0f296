// The fault classes of issue 12 reproduced in one process with two stores on one root (two
// connections, as two processes would have): contention, a tenant replaced under an open
// handle, migrate-all beside writers, and faults that must not read as "the migration failed".
import { join } from 'node:path'
import { createTenancy, isTenantryError, type Tenancy } from '@tenantry/context'
import { deferred, tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import Database from 'better-sqlite3'
import { type Kysely, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases, type TenantDatabases, withTransaction } from '../src/index.js'

const root = tempDir()
let n = 0
const stores: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

type Options = Partial<Parameters<typeof createTenantDatabases>[0]>

/** Two stores on one root: each has its own tenancy and connections, like two processes. */
function pair(extra: Options = {}) {
  const dir = join(root, `r${++n}`)
  const one = (): { store: TenantDatabases<any>; tenancy: Tenancy; db: () => Kysely<any> } => {
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({
      root: dir,
      migrations: baseMigrations(),
      tenancy,
      ...extra,
    }).install(tenancy)
    stores.push(store)
    return { store, tenancy, db: () => tenancy.getResource('db') as Kysely<any> }
  }
  return { dir, a: one(), b: one() }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isTenantryError(e) ? e.code : `${(e as { code?: string }).code ?? e}`),
  )

const tick = () => new Promise<void>((r) => setImmediate(r))

describe('write transactions under contention', () => {
  it('read-then-write transactions from two connections all commit (no SQLITE_BUSY*)', async () => {
    const { a, b } = pair()
    await a.store.createTenant('t')
    await a.tenancy.withTenant('t', () =>
      a.db().insertInto('note').values({ id: 1, title: '0' }).execute(),
    )
    // Each side: read the counter, yield (the other side reads too), then write it back + 1.
    const bump = (side: typeof a) =>
      side.tenancy.withTenant('t', () =>
        withTransaction(
          async () => {
            const row = await side.db().selectFrom('note').select('title').executeTakeFirstOrThrow()
            await tick()
            await side
              .db()
              .updateTable('note')
              .set({ title: String(Number(row.title) + 1) })
              .execute()
          },
          { tenancy: side.tenancy },
        ),
      )
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => codeOf(bump(i % 2 === 0 ? a : b))),
    )
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([])
    const final = await b.tenancy.withTenant('t', () =>
      b.db().selectFrom('note').select('title').executeTakeFirstOrThrow(),
    )
    expect(final.title).toBe('20') // no lost update either
  })

  it('a read-only transaction runs beside a writer and sees one snapshot', async () => {
    const { a, b } = pair()
    await a.store.createTenant('t')
    const writing = deferred()
    const done = deferred()
    const writer = a.tenancy.withTenant('t', () =>
      withTransaction(
        async () => {
          await a.db().insertInto('note').values({ id: 1, title: 'w' }).execute()
          writing.resolve()
          await done.promise
        },
        { tenancy: a.tenancy },
      ),
    )
    await writing.promise
    const seen = await b.tenancy.withTenant('t', () =>
      withTransaction(
        async () => {
          const before = await b.db().selectFrom('note').selectAll().execute()
          done.resolve()
          await writer
          const after = await b.db().selectFrom('note').selectAll().execute()
          return [before.length, after.length]
        },
        { tenancy: b.tenancy, readOnly: true },
      ),
    )
    expect(seen).toEqual([0, 0])
  })
})

describe('whole-transaction retries', () => {
  it('a write lock held past busyTimeoutMs is TENANTRY_DB_BUSY without retries, and waited out with them', async () => {
    const { a, dir } = pair({ busyTimeoutMs: 20 })
    await a.store.createTenant('t')
    const holder = new Database(join(dir, 'tenants', 't', 'db.sqlite3'))
    const write = (retries: number) =>
      a.tenancy.withTenant('t', () =>
        withTransaction(
          () =>
            a
              .db()
              .insertInto('note')
              .values({ title: `r${retries}` })
              .execute(),
          {
            tenancy: a.tenancy,
            retries,
          },
        ),
      )
    try {
      await write(-1) // opens the handle first: the timings below are about the lock only
      holder.exec('BEGIN IMMEDIATE') // another connection holds the write lock until told
      expect(await codeOf(write(0))).toBe('TENANTRY_DB_BUSY')
      // With retries, a lock let go meanwhile is waited out (the release may come at any time).
      const retried = write(30)
      setTimeout(() => holder.exec('COMMIT'), 50)
      expect(await codeOf(retried)).toBe('ok')
    } finally {
      if (holder.inTransaction) holder.exec('COMMIT')
      holder.close()
    }
  })
})

describe('a tenant replaced under an open handle', () => {
  it('writes after another process destroyed and re-created the tenant land in the new file', async () => {
    const { a, b } = pair()
    await a.store.createTenant('t')
    await a.tenancy.withTenant('t', () =>
      a.db().insertInto('note').values({ id: 1, title: 'old' }).execute(),
    )
    await b.store.destroyTenant('t')
    await b.store.createTenant('t')
    // a's handle is still cached and its existence answer is still fresh.
    const seenByA = await a.tenancy.withTenant('t', async () => {
      const rows = await a.db().selectFrom('note').select('title').execute()
      await a.db().insertInto('note').values({ id: 2, title: 'new' }).execute()
      return rows.map((r) => r.title)
    })
    expect(seenByA).toEqual([]) // not the destroyed tenant's rows
    const seenByB = await b.tenancy.withTenant('t', () =>
      b.db().selectFrom('note').select('title').execute(),
    )
    expect(seenByB.map((r) => r.title)).toEqual(['new'])
  })

  it('a write in a scope that outlived the destroy is refused, never acknowledged into the deleted file', async () => {
    const { a, b } = pair()
    await a.store.createTenant('t')
    const inside = deferred()
    const destroyed = deferred()
    const scope = a.tenancy.withTenant('t', async () => {
      await a.db().selectFrom('note').selectAll().execute()
      inside.resolve()
      await destroyed.promise
      const plain = await codeOf(a.db().insertInto('note').values({ id: 1, title: 'x' }).execute())
      const inTx = await codeOf(
        withTransaction(() => a.db().insertInto('note').values({ id: 2, title: 'y' }).execute(), {
          tenancy: a.tenancy,
        }),
      )
      return [plain, inTx]
    })
    await inside.promise
    await b.store.destroyTenant('t')
    await b.store.createTenant('t')
    destroyed.resolve()
    expect(await scope).toEqual(['TENANTRY_TENANT_GONE', 'TENANTRY_TENANT_GONE'])
    const rows = await b.tenancy.withTenant('t', () =>
      b.db().selectFrom('note').selectAll().execute(),
    )
    expect(rows).toEqual([])
  })

  it('a tenant destroyed by another process is unknown at the next scope', async () => {
    const { a, b } = pair()
    await a.store.createTenant('t')
    await a.tenancy.withTenant('t', () => a.db().selectFrom('note').selectAll().execute())
    await b.store.destroyTenant('t')
    expect(a.store.exists('t')).toBe(false)
    expect(await codeOf(a.tenancy.withTenant('t', () => 1))).toBe('TENANTRY_UNKNOWN_TENANT')
  })
})

describe('migrations beside writers', () => {
  it('migrateAll while another connection keeps writing migrates every tenant', async () => {
    const dir = join(root, `m${++n}`)
    const tenants = Array.from({ length: 6 }, (_, i) => `t${i}`)
    const writerTenancy = createTenancy()
    const writer = createTenantDatabases<any>({
      root: dir,
      migrations: baseMigrations(),
      tenancy: writerTenancy,
      migrateOnOpen: true,
      busyTimeoutMs: 2000,
    }).install(writerTenancy)
    stores.push(writer)
    for (const t of tenants) await writer.createTenant(t)
    const next = {
      ...baseMigrations(),
      '003_flag': {
        async up(db: Kysely<any>) {
          await db.schema.alterTable('note').addColumn('flag', 'integer').execute()
        },
      },
    }
    const migratorTenancy = createTenancy()
    const migrator = createTenantDatabases<any>({
      root: dir,
      migrations: next,
      tenancy: migratorTenancy,
      busyTimeoutMs: 2000,
    })
    stores.push(migrator)
    let stop = false
    let id = 0
    // Writers hold each tenant's write lock across a timer, back to back
    // (the old blocking busy handler starved them and failed); the migrator must wait its turn.
    const writing = Promise.all(
      tenants.map(async (t) => {
        while (!stop)
          await writerTenancy.withTenant(t, () =>
            withTransaction(
              async () => {
                await (writerTenancy.getResource('db') as Kysely<any>)
                  .insertInto('note')
                  .values({ id: ++id, title: 'w' })
                  .execute()
                await new Promise((r) => setTimeout(r, 5))
              },
              { tenancy: writerTenancy },
            ),
          )
      }),
    )
    const results = await migrator.migrateAllTenants({ concurrency: 3 }).finally(() => {
      stop = true
    })
    await writing
    expect(results.map((r) => [r.tenant, r.applied, String(r.error ?? 'no error')])).toEqual(
      tenants.map((t) => [t, ['003_flag'], 'no error']),
    )
  })
})

describe('faults say what happened', () => {
  it('a full database is TENANTRY_DISK_FULL, not a generic error', async () => {
    const { a } = pair()
    await a.store.createTenant('t')
    const code = await a.tenancy.withTenant('t', async () => {
      const pages = await sql<{ page_count: number }>`pragma page_count`.execute(a.db())
      await sql.raw(`pragma max_page_count = ${pages.rows[0]!.page_count}`).execute(a.db())
      return codeOf(
        withTransaction(
          async () => {
            for (let i = 0; i < 200; i++)
              await a
                .db()
                .insertInto('note')
                .values({ id: i + 1, title: 'x'.repeat(190) })
                .execute()
          },
          { tenancy: a.tenancy },
        ),
      )
    })
    expect(code).toBe('TENANTRY_DISK_FULL')
  })

  it('a handle closed under a query is TENANTRY_DB_CLOSED', async () => {
    const { a } = pair()
    await a.store.createTenant('t')
    const code = await a.tenancy.withTenant('t', async () => {
      const db = a.db()
      await db.selectFrom('note').selectAll().execute()
      await a.store.close()
      return codeOf(db.selectFrom('note').selectAll().execute())
    })
    expect(code).toBe('TENANTRY_DB_CLOSED')
  })

  it('a migration that really throws is still TENANTRY_MIGRATION_FAILED', async () => {
    const { a } = pair({
      migrations: {
        '001': {
          async up(db) {
            await sql`select * from no_such_table`.execute(db)
          },
        },
      },
    })
    expect(await codeOf(a.store.createTenant('t'))).toBe('TENANTRY_MIGRATION_FAILED')
  })
})
