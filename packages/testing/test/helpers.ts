import { getResource } from '@tenantry/context'
import { createTenantDatabases, type TenantDatabases } from '@tenantry/sqlite'
import type { Kysely, Migration } from 'kysely'
import { afterAll } from 'vitest'

/** The app's schema in these tests: one table. */
export const migrations: Record<string, Migration> = {
  '001_note': {
    async up(db) {
      await db.schema
        .createTable('note')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute()
    },
  },
}

/** A SQLite store under `root`, installed in the default tenancy (what an app does). */
export function makeStore(root: string): TenantDatabases<any> {
  const store = createTenantDatabases<any>({ root, migrations }).install()
  afterAll(() => store.close())
  return store
}

/** The current `db` resource, untyped (test files must not augment `Resources`). */
export const db = (): Kysely<any> => getResource('db') as Kysely<any>

/** Bodies of every note of the current tenant, sorted. */
export async function notes(): Promise<string[]> {
  const rows = await db().selectFrom('note').select('body').orderBy('body').execute()
  return rows.map((r) => r.body as string)
}
