// The tenant guard: each leak shape — a captured handle, a captured transaction, a module
// variable — used in another tenant or outside any must throw, not query the first tenant.
import { createTenancy, type Tenancy } from '@tenantry/context'
import { guardTenantDb, withoutTenantGuard, withTransaction } from '@tenantry/kysely'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql, type Transaction } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'

type DB = { note: { id: number; text: string } }

const opened: Kysely<DB>[] = []
afterEach(async () => {
  for (const db of opened.splice(0)) await db.destroy()
})

/** A tenancy whose `db` is an in-memory SQLite database per tenant, guarded. */
async function setup(guarded = true): Promise<{ tenancy: Tenancy; raw: Map<string, Kysely<DB>> }> {
  const raw = new Map<string, Kysely<DB>>()
  for (const tenant of ['acme', 'globex']) {
    const db = new Kysely<DB>({
      dialect: new SqliteDialect({ database: new Database(':memory:') }),
    })
    opened.push(db)
    await db.schema
      .createTable('note')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('text', 'text')
      .execute()
    await db
      .insertInto('note')
      .values({ id: 1, text: `${tenant}'s note` })
      .execute()
    raw.set(tenant, db)
  }
  const tenancy = createTenancy({
    tenants: { exists: (t) => raw.has(t) },
    resources: {
      db: {
        create: (tenant) =>
          guarded ? guardTenantDb(raw.get(tenant)!, tenant, { tenancy }) : raw.get(tenant)!,
        tenantOnly: true,
      },
    },
  })
  return { tenancy, raw }
}

const getDb = (tenancy: Tenancy) => tenancy.getResource('db') as Kysely<DB>
const read = (db: Kysely<DB>) => db.selectFrom('note').select('text').executeTakeFirstOrThrow()

// A module variable set in one request and used in the next: the classic leak.
let cached: Kysely<DB> | undefined

describe('tenant guard', () => {
  it('a handle works inside its own tenant, transactions and savepoints included', async () => {
    const { tenancy } = await setup()
    await tenancy.withTenant('acme', async () => {
      expect(await read(getDb(tenancy))).toEqual({ text: "acme's note" })
      await withTransaction(
        async () => {
          await getDb(tenancy).insertInto('note').values({ id: 2, text: 'two' }).execute()
          await withTransaction(
            () =>
              getDb(tenancy).updateTable('note').set({ text: 'x' }).where('id', '=', 2).execute(),
            { tenancy },
          )
        },
        { tenancy },
      )
      expect(
        await getDb(tenancy)
          .selectFrom('note')
          .select('text')
          .where('id', '=', 2)
          .executeTakeFirst(),
      ).toEqual({ text: 'x' })
    })
  })

  it('a captured getDb() result used in another tenant or outside any throws WrongTenantError', async () => {
    const { tenancy } = await setup()
    const captured = await tenancy.withTenant('acme', () => getDb(tenancy))
    const inGlobex = await tenancy.withTenant('globex', () =>
      read(captured).catch((e: unknown) => e),
    )
    expect(inGlobex).toMatchObject({
      code: 'TENANTRY_WRONG_TENANT',
      tenant: 'acme',
      currentTenant: 'globex',
    })
    await expect(read(captured)).rejects.toMatchObject({
      code: 'TENANTRY_WRONG_TENANT',
      tenant: 'acme',
      currentTenant: undefined,
    })
    // Writes are refused before they reach the database.
    await tenancy.withTenant('globex', () =>
      expect(captured.insertInto('note').values({ id: 9, text: 'leak' }).execute()).rejects.toThrow(
        /belongs to tenant "acme"/,
      ),
    )
    expect(
      await tenancy.withTenant('acme', () =>
        getDb(tenancy).selectFrom('note').selectAll().where('id', '=', 9).execute(),
      ),
    ).toEqual([])
  })

  it('a module variable set in one tenant’s request throws in the next tenant’s', async () => {
    const { tenancy } = await setup()
    await tenancy.withTenant('acme', async () => {
      cached ??= getDb(tenancy)
      await read(cached)
    })
    await expect(tenancy.withTenant('globex', () => read(cached!))).rejects.toMatchObject({
      code: 'TENANTRY_WRONG_TENANT',
    })
    cached = undefined
  })

  it('a captured transaction used later in another tenant throws', async () => {
    const { tenancy } = await setup()
    let leaked: Transaction<DB> | undefined
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    // The transaction stays open while globex tries to use it (a callback stored somewhere).
    const acme = tenancy.withTenant('acme', () =>
      withTransaction(
        async (trx) => {
          leaked = trx
          await held
        },
        { tenancy },
      ),
    )
    while (leaked === undefined) await new Promise((r) => setImmediate(r))
    const error = await tenancy.withTenant('globex', () =>
      leaked!
        .insertInto('note')
        .values({ id: 3, text: 'into acme' })
        .execute()
        .catch((e: unknown) => e),
    )
    expect(error).toMatchObject({
      code: 'TENANTRY_WRONG_TENANT',
      tenant: 'acme',
      currentTenant: 'globex',
    })
    release()
    await acme
    expect(
      await tenancy.withTenant('acme', () =>
        getDb(tenancy).selectFrom('note').selectAll().where('id', '=', 3).execute(),
      ),
    ).toEqual([])
  })

  it('concurrent tenants each keep their own handle; a crossed one fails whatever the interleaving', async () => {
    const { tenancy } = await setup()
    const handles = new Map<string, Kysely<DB>>()
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 === 0 ? 'acme' : 'globex'
        const other = tenant === 'acme' ? 'globex' : 'acme'
        return tenancy.withTenant(tenant, async () => {
          handles.set(tenant, getDb(tenancy))
          await new Promise((r) => setTimeout(r, Math.random() * 5))
          const own = (await read(getDb(tenancy))).text
          const crossed = handles.get(other)
          const leak =
            crossed === undefined
              ? 'none'
              : await read(crossed).then(
                  (r) => r.text,
                  (e: { code: string }) => e.code,
                )
          return { tenant, own, leak }
        })
      }),
    )
    for (const r of results) {
      expect(r.own).toBe(`${r.tenant}'s note`)
      expect(['none', 'TENANTRY_WRONG_TENANT']).toContain(r.leak)
    }
  })

  it('withoutTenantGuard is the explicit escape for admin code', async () => {
    const { tenancy } = await setup()
    const acme = await tenancy.withTenant('acme', () => getDb(tenancy))
    expect(await withoutTenantGuard(() => read(acme))).toEqual({ text: "acme's note" })
    expect(
      await tenancy.withTenant('globex', () =>
        withoutTenantGuard(async () => (await read(acme)).text),
      ),
    ).toBe("acme's note")
    await expect(read(acme)).rejects.toMatchObject({ code: 'TENANTRY_WRONG_TENANT' }) // only inside it
  })

  it('without the guard the same captured handle silently reads the first tenant (what it prevents)', async () => {
    const { tenancy } = await setup(false)
    const captured = await tenancy.withTenant('acme', () => getDb(tenancy))
    expect(await tenancy.withTenant('globex', () => read(captured))).toEqual({
      text: "acme's note",
    })
    await sql`select 1`.execute(captured) // and outside any tenant too
  })
})
