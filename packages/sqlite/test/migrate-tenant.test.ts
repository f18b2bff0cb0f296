// migrateTenant commits the migrations, Kysely's record rows and the user_version stamp in one
// transaction: a failure keeps none of them, a success moves all of them together.
import { createTenancy, isTenantryError } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import Database from 'better-sqlite3'
import { type Kysely, type Migration, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases, migrationStamp, type TenantDatabases } from '../src/index.js'

const table = (name: string): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable(name)
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute()
  },
})
const first = { '001_a': table('a') }
const opened: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

function storeAt(root: string, migrations: Record<string, Migration>, lines: string[] = []) {
  const tenancy = createTenancy()
  const logger = { debug: (f: object) => lines.push((f as { sql: string }).sql), error() {} }
  const store = createTenantDatabases<any>({ root, migrations, tenancy, logger }).install(tenancy)
  opened.push(store)
  return store
}

function stateOf(file: string) {
  const raw = new Database(file, { readonly: true })
  try {
    return {
      stamp: raw.pragma('user_version', { simple: true }) as number,
      applied: (
        raw.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as {
          name: string
        }[]
      ).map((r) => r.name),
      tables: (
        raw
          .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'kysely%'",
          )
          .all() as { name: string }[]
      ).map((r) => r.name),
    }
  } finally {
    raw.close()
  }
}

describe('migrateTenant: one transaction per tenant', () => {
  it('applies the migration, its record row and the stamp in one commit', async () => {
    const root = tempDir('tenantry-migrate-one-')
    await storeAt(root, first).createTenant('x')
    const lines: string[] = []
    const next = { ...first, '002_b': table('b') }
    const store = storeAt(root, next, lines)
    expect((await store.migrateTenant('x')).applied).toEqual(['002_b'])
    const file = store.tenantPath('x')
    expect(stateOf(file)).toEqual({
      stamp: migrationStamp(Object.keys(next)),
      applied: ['001_a', '002_b'],
      tables: ['a', 'b'],
    })
    const begin = lines.findIndex((l) => /^begin immediate$/i.test(l))
    const stamp = lines.findIndex((l) => /^pragma user_version = \d+$/i.test(l))
    const commits = lines.flatMap((l, i) => (/^commit$/i.test(l) ? [i] : []))
    expect(commits).toHaveLength(1)
    expect(begin).toBeGreaterThanOrEqual(0)
    expect(stamp).toBeGreaterThan(begin)
    expect(stamp).toBeLessThan(commits[0]!)
  })

  it('keeps the old stamp, record rows and schema when a migration fails', async () => {
    const root = tempDir('tenantry-migrate-fail-')
    const before = storeAt(root, first)
    await before.createTenant('x')
    const file = before.tenantPath('x')
    const was = stateOf(file)
    const store = storeAt(root, {
      ...first,
      '002_b': table('b'),
      '003_bad': {
        async up(db) {
          await db.schema.createTable('c').addColumn('id', 'integer').execute()
          await sql`select no_such_function()`.execute(db)
        },
      },
    })
    const error = await store.migrateTenant('x').catch((e: unknown) => e)
    expect(isTenantryError(error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
    expect(stateOf(file)).toEqual(was)
    expect(was.stamp).toBe(migrationStamp(Object.keys(first)))
  })
})
