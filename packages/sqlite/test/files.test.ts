// SQLite-only behaviour: what lands on disk, per-connection settings, the ATTACH guard.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, isTenantryError } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import { type Kysely, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { assertNoFileAccess, createTenantDatabases, type TenantDatabases } from '../src/index.js'
import { filesUnder } from './helpers.js'

const root = tempDir('tenantry-sqlite-')
let n = 0
const stores: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

function make(extra: Partial<Parameters<typeof createTenantDatabases>[0]> = {}) {
  const tenancy = createTenancy()
  const dir = join(root, `s${++n}`)
  const store = createTenantDatabases<any>({
    root: dir,
    migrations: baseMigrations(),
    tenancy,
    ...extra,
  }).install(tenancy)
  stores.push(store)
  const db = () => tenancy.getResource('db') as Kysely<any>
  return { store, tenancy, dir, db }
}

const refusal = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isTenantryError(e) ? e.code : String(e)),
  )

describe('files on disk', () => {
  it('keeps one folder per tenant and destroys every file, also while open in WAL mode', async () => {
    const { store, tenancy, dir, db } = make()
    await store.createTenant('acme')
    expect(filesUnder(dir)).toEqual(['tenants/acme/db.sqlite3'])
    await tenancy.withTenant('acme', async () => {
      await db().insertInto('note').values({ id: 1, title: 'x' }).execute()
      expect(filesUnder(dir)).toEqual([
        'tenants/acme/db.sqlite3',
        'tenants/acme/db.sqlite3-shm',
        'tenants/acme/db.sqlite3-wal',
      ])
    })
    await store.destroyTenant('acme')
    expect(filesUnder(dir)).toEqual([])
    expect(existsSync(join(dir, 'tenants/acme'))).toBe(false)
  })

  it('leaves other files in the tenant folder alone when destroying', async () => {
    const { store, dir } = make()
    await store.createTenant('acme')
    writeFileSync(join(dir, 'tenants/acme/upload.txt'), 'keep')
    await store.destroyTenant('acme')
    expect(filesUnder(dir)).toEqual(['tenants/acme/upload.txt'])
  })

  it('leaves no file at all when the first migration fails', async () => {
    const { store, dir } = make({
      migrations: {
        '001': {
          async up() {
            throw new Error('nope')
          },
        },
      },
    })
    expect(await refusal(store.createTenant('bad'))).toBe('TENANTRY_MIGRATION_FAILED')
    expect(filesUnder(dir)).toEqual([])
    expect(existsSync(join(dir, 'tenants'))).toBe(true)
    expect(existsSync(join(dir, 'tenants/bad'))).toBe(false)
  })

  it('spreads tenants over hash buckets and lists them back', async () => {
    const { store, dir } = make({ bucketing: true })
    for (const t of ['a', 'b', 'c']) await store.createTenant(t)
    const files = filesUnder(dir)
    expect(files).toHaveLength(3)
    for (const f of files) expect(f).toMatch(/^tenants\/[0-9a-f]{2}\/[abc]\/db\.sqlite3$/)
    expect(await store.list()).toEqual(['a', 'b', 'c'])
    expect(store.tenantPath('a')).toBe(join(dir, files.find((f) => f.includes('/a/'))!))
  })

  it('supports flat templates without picking up sidecar or temp files', async () => {
    const { store, dir, tenancy } = make({ path: 'dbs/{tenant}.sqlite3' })
    await store.createTenant('one')
    await tenancy.withTenant('one', () => 1) // opens: -wal and -shm appear
    writeFileSync(join(dir, 'dbs/two.sqlite3.creating'), '')
    writeFileSync(join(dir, 'dbs/Not-Valid.sqlite3'), '')
    expect(await store.list()).toEqual(['one'])
  })

  it('refuses traversal and bad templates before any file is touched', async () => {
    const tenancy = createTenancy({ naming: { rule: () => true } })
    const dir = join(root, 'traversal')
    const store = createTenantDatabases({ root: dir, migrations: baseMigrations(), tenancy })
    stores.push(store)
    for (const name of ['..', '.', '../x', 'a/../../b', 'a\\b', '/etc/passwd', 'x\u0000y', ' a']) {
      expect(await refusal(store.createTenant(name))).toBe('TENANTRY_INVALID_TENANT_NAME')
      expect(() => store.tenantPath(name)).toThrow()
      expect(await refusal(store.destroyTenant(name))).toBe('TENANTRY_INVALID_TENANT_NAME')
    }
    expect(existsSync(dir)).toBe(false)
    for (const path of [
      '../{tenant}.db',
      '/abs/{tenant}.db',
      'a/{tenant}',
      'a/b.db',
      'x/{nope}/{tenant}.db',
      'a/./{tenant}.db',
    ])
      expect(() => createTenantDatabases({ root: dir, path, migrations: {}, tenancy })).toThrow(
        /Path template/,
      )
    expect(existsSync(dir)).toBe(false)
  })
})

describe('connections', () => {
  it('reuses prepared statements safely: across a schema change, with streams, past the cap', async () => {
    const { store, tenancy, db } = make({ statementCache: 2 })
    await store.createTenant('acme')
    await tenancy.withTenant('acme', async () => {
      const q = () => db().selectFrom('note').selectAll().orderBy('id').execute()
      await db().insertInto('note').values({ id: 1, title: 'a' }).execute()
      expect(await q()).toEqual([{ id: 1, title: 'a' }])
      await sql`alter table note add column extra text`.execute(db())
      expect(await q()).toEqual([{ id: 1, title: 'a', extra: null }]) // re-prepared by SQLite
      const seen: unknown[] = []
      // Streams prepare their own statement (an iterating one is busy until the end).
      for await (const row of db().selectFrom('note').selectAll().orderBy('id').stream())
        seen.push(row)
      expect(seen).toEqual(await q())
      for (let i = 2; i < 8; i++)
        await db()
          .insertInto('note')
          .values({ id: i, title: `t${i}` })
          .execute()
      expect((await q()).length).toBe(7)
    })
  })

  it('sets WAL, foreign_keys and synchronous=NORMAL on every handle, and no blocking busy_timeout', async () => {
    const { store, tenancy, db } = make({ busyTimeoutMs: 1234 })
    await store.createTenant('acme')
    await tenancy.withTenant('acme', async () => {
      const get = async (p: string) =>
        Object.values((await sql.raw(`PRAGMA ${p}`).execute(db())).rows[0] as object)[0]
      expect(await get('journal_mode')).toBe('wal')
      // busyTimeoutMs is waited for by the driver, off the event loop: SQLite's own busy
      // handler (which sleeps inside it) stays off.
      expect(await get('busy_timeout')).toBe(0)
      expect(await get('foreign_keys')).toBe(1)
      expect(await get('synchronous')).toBe(1)
      // foreign_keys is enforced
      await expect(
        db().insertInto('tag').values({ id: 1, note_id: 99, name: 'x' }).execute(),
      ).rejects.toThrow(/FOREIGN KEY/)
    })
  })

  it('refuses ATTACH and VACUUM INTO on tenant handles, however they are spelled', async () => {
    const { store, tenancy, db, dir } = make()
    await store.createTenant('acme')
    await store.createTenant('other')
    const target = join(dir, 'tenants/other/db.sqlite3')
    const attempts = [
      `ATTACH '${target}' AS o`,
      `attach database '${target}' as o`,
      `  -- hi\n /* there */ ATTACH '${target}' AS o`,
      `;ATTACH '${target}' AS o`,
      `VACUUM INTO '${join(dir, 'copy.sqlite3')}'`,
      `vacuum main into '${join(dir, 'copy.sqlite3')}'`,
    ]
    await tenancy.withTenant('acme', async () => {
      for (const q of attempts)
        expect(await refusal(sql.raw(q).execute(db()))).toBe('TENANTRY_ATTACH_REFUSED')
      const list = await sql.raw('PRAGMA database_list').execute(db())
      expect(list.rows).toHaveLength(1)
      // ordinary statements that merely mention the words still run
      await sql`select 'ATTACH' as a, 'vacuum into' as b`.execute(db())
    })
    expect(existsSync(join(dir, 'copy.sqlite3'))).toBe(false)
    expect(() => assertNoFileAccess('VACUUM')).not.toThrow()
    expect(() => assertNoFileAccess('/* unterminated')).not.toThrow()
  })

  it('logs SQL with the tenant, and does not read the migration table when current', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = {
      debug: (o: object) => lines.push(o as Record<string, unknown>),
      error: (o: object) => lines.push({ ...o, level: 'error' }),
    }
    const { store, tenancy, db } = make({ logger })
    await store.createTenant('acme')
    lines.length = 0
    await tenancy.withTenant('acme', () => db().selectFrom('note').selectAll().execute())
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ tenant: 'acme', sql: 'select * from "note"' })
    await tenancy.withTenant('acme', () => sql`select * from missing`.execute(db())).catch(() => {})
    expect(lines.at(-1)).toMatchObject({ tenant: 'acme', level: 'error' })
  })

  it('keeps the central database apart, migrated on first use and served as centralDb', async () => {
    const centralMigrations = {
      '001_account': {
        async up(db: Kysely<any>) {
          await db.schema
            .createTable('account')
            .addColumn('id', 'integer', (c) => c.primaryKey())
            .execute()
        },
      },
    }
    const { store, tenancy, dir } = make({ centralMigrations })
    await (store.central as Kysely<any>).insertInto('account').values({ id: 1 }).execute()
    expect(existsSync(join(dir, 'central.sqlite3'))).toBe(true)
    await store.createTenant('acme')
    const fromTenant = await tenancy.withTenant('acme', () =>
      (tenancy.getResource('centralDb') as Kysely<any>).selectFrom('account').selectAll().execute(),
    )
    expect(fromTenant).toEqual([{ id: 1 }])
    expect(tenancy.getResource('centralDb')).toBe(store.central)
    expect(await store.migrateCentral()).toEqual([])
    expect(await store.list()).toEqual(['acme'])
    mkdirSync(join(dir, 'tenants/ghost'))
    expect(await store.list()).toEqual(['acme'])
  })
})
