// The portable archive between backends: a tenant exported from SQLite imports into the
// row-level store and into the sharded store (onto the placement policy's shard), and exported
// from there back into SQLite, with the same rows and files. The row-level store runs as a role
// that is no superuser, beside a neighbour tenant whose rows must stay out of the export.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createTenancy, type Tenancy } from '@tenantry/context'
import type { TenantDatabaseStore } from '@tenantry/kysely'
import { createTenantDatabases } from '@tenantry/sqlite'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createPostgresRowLevelTenantDatabases,
  createShardedTenantDatabases,
} from '../src/index.js'
import { migrations, pgMigrations } from './fixtures/portable-migrations.js'
import { appRoleUrl, DATABASE_URL, runPrefix, SKIP, suiteName } from './helpers.js'

const run = SKIP === undefined ? runPrefix() : 'skip_'
const roleUrl = SKIP === undefined ? appRoleUrl(run) : ''
const root = tempDir('tenantry-pg-backends-')
const second = process.env.DATABASE_URL_2 || DATABASE_URL
const stores: { close(): Promise<void> }[] = []
afterAll(async () => {
  for (const s of stores) await s.close()
  if (SKIP === undefined && second !== DATABASE_URL) {
    const c = new pg.Client({ connectionString: second })
    await c.connect()
    const { rows } = await c.query<{ n: string }>(
      'select nspname as n from pg_namespace where starts_with(nspname, $1)',
      [run],
    )
    for (const { n } of rows) await c.query(`drop schema if exists "${n}" cascade`)
    await c.end()
  }
})

function withFiles<S extends TenantDatabaseStore<any>>(store: S, dir: string): S {
  store.lifecycle.addFiles({ name: 'storage', dir: (t) => join(dir, t) })
  stores.push(store)
  return store
}

const dbOf = (tenancy: Tenancy) => tenancy.getResource('db') as Kysely<any>

async function contents(tenancy: Tenancy, tenant: string) {
  return await tenancy.withTenant(tenant, async () => ({
    authors: await dbOf(tenancy)
      .selectFrom('author')
      .select(['id', 'name'])
      .orderBy('id')
      .execute(),
    posts: (
      await dbOf(tenancy)
        .selectFrom('post')
        .select(['id', 'author_id', 'title', 'score', 'body'])
        .orderBy('id')
        .execute()
    ).map((p: any) => ({ ...p, body: p.body === null ? null : Buffer.from(p.body) })),
  }))
}

async function archiveOf(store: TenantDatabaseStore<any>, tenant: string) {
  const pipe = new PassThrough()
  const chunks: Buffer[] = []
  pipe.on('data', (c: Buffer) => chunks.push(c))
  await store.exportTenant(tenant, pipe)
  const out = new PassThrough()
  out.end(Buffer.concat(chunks))
  return out
}

async function sqliteSource(dir: string) {
  const tenancy = createTenancy()
  const store = withFiles(
    createTenantDatabases<any>({ root: dir, migrations, tenancy }).install(tenancy),
    join(dir, 'files'),
  )
  await store.createTenant('acme')
  await tenancy.withTenant('acme', async () => {
    await dbOf(tenancy)
      .insertInto('author')
      .values([
        { id: 1, name: 'Ada' },
        { id: 2, name: "O'Brien \u00e9" },
      ])
      .execute()
    await dbOf(tenancy)
      .insertInto('post')
      .values([
        { id: 1, author_id: 1, title: 'one', score: 1.5, body: Buffer.from([0, 255, 10]) },
        { id: 2, author_id: 2, title: null, score: null, body: null },
      ])
      .execute()
  })
  mkdirSync(join(dir, 'files', 'acme', 'img'), { recursive: true })
  writeFileSync(join(dir, 'files', 'acme', 'img', 'logo.png'), Buffer.from([137, 80, 78, 71]))
  return { store, tenancy, before: await contents(tenancy, 'acme') }
}

const targets = {
  'row-level': (tenancy: Tenancy) =>
    createPostgresRowLevelTenantDatabases<any>({
      connectionString: roleUrl,
      migrations: pgMigrations,
      tenancy,
      dataSchema: `${run}rows`,
      registrySchema: `${run}registry`,
    }),
  sharded: (tenancy: Tenancy) =>
    createShardedTenantDatabases<any>({
      shards: { one: DATABASE_URL!, two: second! },
      central: DATABASE_URL!,
      migrations: pgMigrations,
      tenancy,
      schemaPrefix: `${run}s_`,
      registrySchema: `${run}registry`,
      // Every new tenant on "two": the import must land where the policy says.
      place: () => 'two',
    }),
}

describe.skipIf(SKIP !== undefined)(suiteName('archives between backends (postgres)'), () => {
  for (const [name, make] of Object.entries(targets))
    it(`SQLite → ${name} → SQLite: the same rows and files`, async () => {
      const dir = join(root, name)
      const lite = await sqliteSource(join(dir, 'lite'))
      const tenancy = createTenancy()
      const target = withFiles(make(tenancy).install(tenancy), join(dir, 'pg'))
      // A neighbour whose rows must stay out of the tenant's export.
      await target.createTenant('other')
      await tenancy.withTenant('other', () =>
        dbOf(tenancy).insertInto('author').values({ id: 1, name: 'not acme' }).execute(),
      )
      const r = await target.importTenant(await archiveOf(lite.store, 'acme'))
      expect(r.manifest.backend).toBe('sqlite')
      expect(await contents(tenancy, 'acme')).toEqual(lite.before)
      expect(readFileSync(join(dir, 'pg', 'acme', 'img', 'logo.png'))).toEqual(
        Buffer.from([137, 80, 78, 71]),
      )
      expect(await target.tenantInfo('acme')).toMatchObject({
        migrations: ['001_author', '002_post'],
        pending: [],
      })
      if (name === 'sharded')
        expect(await (target as ReturnType<typeof targets.sharded>).shardOf('acme')).toBe('two')
      expect(await target.list()).toEqual(['acme', 'other'])
      // Constraints hold after the load: a foreign key still refuses an orphan.
      await expect(
        tenancy.withTenant('acme', () =>
          dbOf(tenancy).insertInto('post').values({ id: 3, author_id: 99 }).execute(),
        ),
      ).rejects.toThrow(/foreign key/)

      const backTenancy = createTenancy()
      const back = withFiles(
        createTenantDatabases<any>({
          root: join(dir, 'back'),
          migrations,
          tenancy: backTenancy,
        }).install(backTenancy),
        join(dir, 'back-files'),
      )
      await back.importTenant(await archiveOf(target, 'acme'), { as: 'acme2' })
      expect(await contents(backTenancy, 'acme2')).toEqual(lite.before)
      expect(readFileSync(join(dir, 'back-files', 'acme2', 'img', 'logo.png'))).toEqual(
        Buffer.from([137, 80, 78, 71]),
      )

      // Rollbacks: on the tenant's shard; never for one tenant of shared tables.
      if (name === 'sharded') {
        expect((await target.rollbackTenant('acme')).rolledBack).toEqual(['002_post'])
        expect((await target.tenantInfo('acme')).pending).toEqual(['002_post'])
        expect((await target.migrateTenant('acme')).applied).toEqual(['002_post'])
      } else {
        await expect(target.rollbackTenant('acme')).rejects.toMatchObject({
          code: 'TENANTRY_OPERATION_UNSUPPORTED',
        })
        // Shared tables cannot run later migrations for one tenant: an older archive is refused.
        const oldTenancy = createTenancy()
        const old = withFiles(
          createTenantDatabases<any>({
            root: join(dir, 'old'),
            migrations: { '001_author': migrations['001_author']! },
            tenancy: oldTenancy,
          }).install(oldTenancy),
          join(dir, 'old-files'),
        )
        await old.createTenant('early')
        await expect(target.importTenant(await archiveOf(old, 'early'))).rejects.toMatchObject({
          code: 'TENANTRY_ARCHIVE_SCHEMA',
        })
        expect(await target.list()).toEqual(['acme', 'other'])
      }
    })
})
