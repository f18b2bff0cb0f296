// The workload of guard.bench.ts, for instruction counts under callgrind:
// `node guard-work.ts <guarded|bare> <count>` runs `count` Kysely queries inside a tenant on an
// in-memory SQLite database (after a warm-up that is the same in every run, so it cancels).
import { createTenancy } from '@tenantry/context'
import { guardTenantDb } from '@tenantry/kysely'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'

const [variant, countText] = process.argv.slice(2) as [string, string]
const count = Number(countText)
type DB = { note: { id: number; text: string } }
const raw = new Kysely<DB>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
await raw.schema
  .createTable('note')
  .addColumn('id', 'integer', (c) => c.primaryKey())
  .addColumn('text', 'text')
  .execute()
await raw.insertInto('note').values({ id: 1, text: 'hello' }).execute()
const tenancy = createTenancy()
const db = variant === 'guarded' ? guardTenantDb(raw, 'acme', { tenancy }) : raw
await tenancy.withTenant('acme', async () => {
  for (let i = 0; i < 300 + count; i++)
    await db.selectFrom('note').select('text').where('id', '=', 1).executeTakeFirst()
})
await raw.destroy()
