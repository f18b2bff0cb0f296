import { isTenantryError } from '@tenantry/context'
import { MigrationVersion, migrateToLatest, migrationStamp, toProvider } from '@tenantry/kysely'
import Database from 'better-sqlite3'
import { Kysely, type Migration, Migrator, SqliteDialect, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'

const dbs: Kysely<any>[] = []
function memoryDb(): Kysely<any> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) })
  dbs.push(db)
  return db
}
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.destroy()
})

const create = (table: string): Migration => ({
  up: (db) => db.schema.createTable(table).addColumn('id', 'integer').execute(),
})

describe('migration stamps', () => {
  it('depends on the set of names, not their order, and is never 0', () => {
    expect(migrationStamp(['a', 'b'])).toBe(migrationStamp(['b', 'a']))
    expect(migrationStamp(['a', 'b'])).not.toBe(migrationStamp(['a', 'b', 'c']))
    expect(migrationStamp([])).toBeGreaterThan(0)
    for (let i = 0; i < 1000; i++) {
      const s = migrationStamp([`m${i}`])
      expect(s).toBeGreaterThan(0)
      expect(s).toBeLessThan(2 ** 31)
    }
  })

  it('is known at once for a record and after one call for a provider', async () => {
    const record = { '001': create('a') }
    expect(new MigrationVersion(record).version()).toBe(migrationStamp(['001']))
    const lazy = new MigrationVersion({ getMigrations: async () => record })
    expect(lazy.cached).toBeUndefined()
    expect(await lazy.version()).toBe(migrationStamp(['001']))
    expect(lazy.version()).toBe(migrationStamp(['001']))
  })
})

describe('migrateToLatest', () => {
  it('returns the names applied now, and nothing the second time', async () => {
    const db = memoryDb()
    const provider = toProvider({ '001_a': create('a'), '002_b': create('b') })
    expect(await migrateToLatest(new Migrator({ db, provider }), 'acme')).toEqual([
      '001_a',
      '002_b',
    ])
    expect(await migrateToLatest(new Migrator({ db, provider }), 'acme')).toEqual([])
  })

  it('turns a failure into MigrationFailedError naming the tenant and the migration', async () => {
    const db = memoryDb()
    const provider = toProvider({
      '001_a': create('a'),
      '002_bad': { up: (db) => sql`this is not sql`.execute(db).then(() => undefined) },
    })
    const error = await migrateToLatest(new Migrator({ db, provider }), 'acme').catch((e) => e)
    expect(isTenantryError(error, 'TENANTRY_MIGRATION_FAILED')).toBe(true)
    expect(error).toMatchObject({ tenant: 'acme', migration: '002_bad' })
    expect(error.message).toMatch(/tenant "acme" failed in migration "002_bad"/)
  })
})
