// withTransaction when COMMIT itself fails: the connection must still be given back.
import { createTenancy } from '@tenantry/context'
import { withTransaction } from '@tenantry/kysely'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'

let db: Kysely<any> | undefined
afterEach(async () => {
  await db?.destroy()
  db = undefined
})

describe('withTransaction', () => {
  it('releases the connection and rolls back when COMMIT fails', async () => {
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
    await sql`pragma foreign_keys = on`.execute(db)
    await sql`create table parent (id integer primary key)`.execute(db)
    // A deferred foreign key is checked at COMMIT: SQLite refuses the commit and keeps the
    // transaction open.
    await sql`create table child (id integer primary key, parent integer
      references parent (id) deferrable initially deferred)`.execute(db)
    const tenancy = createTenancy()
    const kysely = db
    tenancy.configure({ resources: { db: { create: () => kysely } } })
    await tenancy.withTenant('acme', async () => {
      const error = await withTransaction(
        async (trx) => {
          await trx.insertInto('child').values({ id: 1, parent: 42 }).execute()
        },
        { tenancy },
      ).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })
    })
    // The single connection is free again (this would wait forever on a leaked one), and the
    // failed transaction left nothing behind.
    const rows = await db.selectFrom('child').selectAll().execute()
    expect(rows).toEqual([])
  }, 5000)
})
