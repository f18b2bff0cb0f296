// Tenant operations on PostgreSQL: complete destroy, backup under writers, restores, and the
// portable archive moving a tenant SQLite → PostgreSQL → SQLite with the same rows and files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createTenancy, type Tenancy } from '@tenantry/context'
import { attachJobs, createEmbeddedBackend, defineJob } from '@tenantry/jobs'
import type { TenantDatabaseStore } from '@tenantry/kysely'
import { createTenantDatabases } from '@tenantry/sqlite'
import { attachStorage, tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresTenantDatabases } from '../src/index.js'
import { migrations, pgMigrations } from './fixtures/portable-migrations.js'
import { DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const run = SKIP === undefined ? runPrefix() : 'skip_'
const root = tempDir('tenantry-pg-ops-')
const stores: { close(): Promise<void> }[] = []
afterAll(async () => {
  for (const s of stores) await s.close()
})

function pgStore(tenancy: Tenancy, files: string): TenantDatabaseStore<any> {
  const store = createPostgresTenantDatabases<any>({
    connectionString: DATABASE_URL,
    migrations: pgMigrations,
    schemaPrefix: `${run}t_`,
    registrySchema: `${run}registry`,
    tenancy,
  }).install(tenancy)
  attachStorage(store, { root: files })
  stores.push(store)
  return store
}

function sqliteStore(tenancy: Tenancy, dir: string): TenantDatabaseStore<any> {
  const store = createTenantDatabases<any>({ root: dir, migrations, tenancy }).install(tenancy)
  attachStorage(store, { root: dir })
  stores.push(store)
  return store
}

const dbOf = (tenancy: Tenancy) => tenancy.getResource('db') as Kysely<any>

async function contents(tenancy: Tenancy, tenant: string) {
  return await tenancy.withTenant(tenant, async () => ({
    authors: await dbOf(tenancy).selectFrom('author').selectAll().orderBy('id').execute(),
    posts: (await dbOf(tenancy).selectFrom('post').selectAll().orderBy('id').execute()).map(
      (p: any) => ({
        ...p,
        body: p.body === null ? null : Buffer.from(p.body),
      }),
    ),
  }))
}

async function archiveOf(store: TenantDatabaseStore<any>, tenant: string): Promise<Buffer> {
  const pipe = new PassThrough()
  const chunks: Buffer[] = []
  pipe.on('data', (c: Buffer) => chunks.push(c))
  await store.exportTenant(tenant, pipe)
  return Buffer.concat(chunks)
}

const readable = (data: Buffer) => {
  const p = new PassThrough()
  p.end(data)
  return p
}

describe.skipIf(SKIP !== undefined)(suiteName('tenant operations (postgres)'), () => {
  it('export from SQLite, import into PostgreSQL and back: the same rows and files', async () => {
    const sqliteTenancy = createTenancy()
    const lite = sqliteStore(sqliteTenancy, join(root, 'lite'))
    await lite.createTenant('acme')
    await sqliteTenancy.withTenant('acme', async () => {
      const db = dbOf(sqliteTenancy)
      await db
        .insertInto('author')
        .values([
          { id: 1, name: 'Ada' },
          { id: 2, name: "O'Brien \u00e9" },
        ])
        .execute()
      await db
        .insertInto('post')
        .values([
          { id: 1, author_id: 1, title: 'one', score: 1.5, body: Buffer.from([0, 255, 10]) },
          { id: 2, author_id: 2, title: null, score: null, body: null },
        ])
        .execute()
    })
    const liteFiles = tenantFilesDir(join(root, 'lite'), 'acme')
    mkdirSync(join(liteFiles, 'img'), { recursive: true })
    writeFileSync(join(liteFiles, 'img', 'logo.png'), Buffer.from([137, 80, 78, 71]))
    const before = await contents(sqliteTenancy, 'acme')

    const pgTenancy = createTenancy()
    const pgFiles = join(root, 'pgfiles')
    const pgs = pgStore(pgTenancy, pgFiles)
    const moved: string[] = []
    pgs.lifecycle.on('moved', ({ tenant, from }) => {
      moved.push(`${from}->${tenant}`)
    })
    const r = await pgs.importTenant(readable(await archiveOf(lite, 'acme')))
    expect(r.manifest.backend).toBe('sqlite')
    expect(moved).toEqual(['sqlite->acme'])
    expect(await contents(pgTenancy, 'acme')).toEqual(before)
    expect(readFileSync(join(tenantFilesDir(pgFiles, 'acme'), 'img', 'logo.png'))).toEqual(
      Buffer.from([137, 80, 78, 71]),
    )
    expect(await pgs.tenantInfo('acme')).toMatchObject({
      migrations: ['001_author', '002_post'],
      pending: [],
    })
    // Sequences and constraints work after the load: a foreign key still refuses an orphan.
    await expect(
      pgTenancy.withTenant('acme', () =>
        dbOf(pgTenancy).insertInto('post').values({ id: 3, author_id: 99 }).execute(),
      ),
    ).rejects.toThrow(/foreign key/)

    // A SQLite backup (a database image, not rows) is refused whole by PostgreSQL.
    const image = join(root, 'acme-image.tar')
    await lite.backupTenant('acme', image)
    await expect(pgs.restoreTenant(image, { as: 'from-image' })).rejects.toMatchObject({
      code: 'TENANTRY_ARCHIVE_SCHEMA',
    })
    expect(await pgs.exists('from-image')).toBe(false)
    expect(existsSync(tenantFilesDir(pgFiles, 'from-image'))).toBe(false)

    // And back into a fresh SQLite root.
    const backTenancy = createTenancy()
    const back = sqliteStore(backTenancy, join(root, 'back'))
    await back.importTenant(readable(await archiveOf(pgs, 'acme')), { as: 'acme2' })
    expect(await contents(backTenancy, 'acme2')).toEqual(before)
    expect(
      readFileSync(join(tenantFilesDir(join(root, 'back'), 'acme2'), 'img', 'logo.png')),
    ).toEqual(Buffer.from([137, 80, 78, 71]))
  })

  it('a backup taken while 4 writers run restores to one consistent snapshot; restore refuses to overwrite without force', async () => {
    const tenancy = createTenancy()
    const store = pgStore(tenancy, join(root, 'pg2'))
    await store.createTenant('busy')
    await tenancy.withTenant('busy', () =>
      dbOf(tenancy)
        .insertInto('author')
        .values([1, 2, 3, 4].map((id) => ({ id, name: `w${id}` })))
        .execute(),
    )
    let stop = false
    let ids = 0
    const writer = (w: number) =>
      tenancy.withTenant('busy', async () => {
        while (!stop) {
          const id = ++ids
          await dbOf(tenancy)
            .transaction()
            .execute(async (trx) => {
              await trx
                .insertInto('post')
                .values({ id, author_id: w, title: `p${id}`, score: id })
                .execute()
              await trx
                .updateTable('author')
                .set({ name: `w${w}:${id}` })
                .where('id', '=', w)
                .execute()
            })
        }
      })
    const writers = [1, 2, 3, 4].map(writer)
    while (ids < 40) await new Promise((r) => setTimeout(r, 5))
    const file = join(root, 'busy.tar')
    await store.backupTenant('busy', file)
    stop = true
    await Promise.all(writers)
    await expect(store.restoreTenant(file)).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_EXISTS',
    })
    await store.restoreTenant(file, { as: 'busy-copy' })
    const copy = await contents(tenancy, 'busy-copy')
    // Consistent: each author's name records the last post of that writer in the snapshot.
    for (const a of copy.authors) {
      const last = copy.posts.filter((p) => p.author_id === a.id).at(-1)
      expect(a.name).toBe(last === undefined ? `w${a.id}` : `w${a.id}:${last.id}`)
    }
    const live = await contents(tenancy, 'busy')
    for (const p of copy.posts) expect(live.posts.find((l) => l.id === p.id)).toEqual(p)
    expect(copy.posts.length).toBeLessThan(live.posts.length)
    await store.restoreTenant(file, { as: 'busy', force: true })
    expect((await contents(tenancy, 'busy')).posts).toEqual(copy.posts)
    expect((await schemasLike(`${run}t_`)).filter((s) => s.includes('~restoring'))).toEqual([])
  })

  it('destroy removes the schema, the files and the jobs; a re-created tenant starts empty', async () => {
    const tenancy = createTenancy()
    const files = join(root, 'pg3')
    const store = pgStore(tenancy, files)
    const jobs = createEmbeddedBackend({ file: join(root, 'pg3-jobs.sqlite3') })
    attachJobs(store, jobs)
    try {
      await store.createTenant('gone')
      await store.createTenant('kept')
      for (const t of ['gone', 'kept']) {
        mkdirSync(tenantFilesDir(files, t), { recursive: true })
        writeFileSync(join(tenantFilesDir(files, t), 'a.txt'), t)
        const job = defineJob('later', () => {}, { tenancy, backend: jobs })
        await tenancy.withTenant(t, () => job.enqueue({}, { delay: 3_600_000 }))
      }
      await store.destroyTenant('gone')
      expect(existsSync(join(files, 'tenants', 'gone'))).toBe(false)
      expect(await schemasLike(`${run}t_gone`)).toEqual([])
      const count = (t: string) =>
        (
          (jobs as unknown as { db: { prepare(q: string): { get(t: string): unknown } } }).db
            .prepare('select count(*) as n from tenantry_jobs where tenant = ?')
            .get(t) as { n: number }
        ).n
      expect(count('gone')).toBe(0)
      expect(count('kept')).toBe(1)
      expect(readFileSync(join(tenantFilesDir(files, 'kept'), 'a.txt'), 'utf8')).toBe('kept')
      await store.createTenant('gone')
      expect((await contents(tenancy, 'gone')).authors).toEqual([])
    } finally {
      await jobs.close()
    }
  })

  it('rollback undoes a migration and the tenant reports it pending', async () => {
    const tenancy = createTenancy()
    const store = pgStore(tenancy, join(root, 'pg4'))
    await store.createTenant('r')
    expect((await store.rollbackTenant('r')).rolledBack).toEqual(['002_post'])
    expect((await store.tenantInfo('r')).pending).toEqual(['002_post'])
    expect((await store.migrateTenant('r')).applied).toEqual(['002_post'])
  })
})
