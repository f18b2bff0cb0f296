import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createTenancy } from '@tenantry/context'
import { exportArchive, importArchive, MigrationVersion } from '@tenantry/kysely'
import { tempDir as tempRoot } from '@tenantry/test-utils'
import { type Kysely, type Migration, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { sqliteArchiveBackend } from '../src/archive.js'
import { createTenantDatabases } from '../src/index.js'

const migrations: Record<string, Migration> = {
  '001_parent': {
    up: (db) =>
      db.schema
        .createTable('parent')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('name', 'text')
        .addColumn('data', 'blob')
        .execute(),
  },
  '002_child': {
    up: (db) =>
      db.schema
        .createTable('child')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('parent_id', 'integer', (c) => c.references('parent.id'))
        .addColumn('big', 'integer')
        .execute(),
  },
}

describe('sqlite archive', () => {
  it('exports and imports rows and files', async () => {
    const root = tempRoot()
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({ root, migrations, tenancy }).install(tenancy)
    await store.createTenant('acme')
    await tenancy.withTenant('acme', async () => {
      const db = tenancy.getResource('db') as Kysely<any>
      await db
        .insertInto('parent')
        .values([
          { id: 1, name: 'a', data: Buffer.from([1, 2, 3]) },
          { id: 2, name: null, data: null },
        ])
        .execute()
      await db
        .insertInto('child')
        .values([{ id: 1, parent_id: 1, big: 2n ** 60n }])
        .execute()
    })
    const files = { name: 'storage', dir: (t: string) => join(root, 'tenants', t, 'files') }
    mkdirSync(join(files.dir('acme'), 'sub'), { recursive: true })
    writeFileSync(join(files.dir('acme'), 'sub', 'x.txt'), 'hello')
    const backend = sqliteArchiveBackend({
      file: (t) => store.tenantPath(t),
      migrations: new MigrationVersion(migrations),
      tempDir: join(root, '.tmp'),
      busyTimeoutMs: 5000,
      lockTimeoutMs: 5000,
      hide: async (t) => {
        await tenancy.releaseTenant(t)
        return () => {}
      },
    })
    for (const kind of ['export', 'backup'] as const) {
      const pipe = new PassThrough()
      const chunks: Buffer[] = []
      pipe.on('data', (c) => chunks.push(c))
      await exportArchive(backend, 'acme', pipe, {
        kind,
        fileSets: [files],
        tempDir: join(root, '.tmp'),
      })
      const archive = Buffer.concat(chunks)
      const input = new PassThrough()
      input.end(archive)
      const r = await importArchive(backend, input, {
        as: `copy-${kind}`,
        fileSets: [files],
        validateName: (t) => tenancy.validateName(t),
      })
      expect(r.tenant).toBe(`copy-${kind}`)
      const rows = await tenancy.withTenant(`copy-${kind}`, async () => {
        const db = tenancy.getResource('db') as Kysely<any>
        return [
          await db.selectFrom('parent').selectAll().orderBy('id').execute(),
          (await sql<{ b: string }>`select cast(big as text) as b from child`.execute(db)).rows,
        ]
      })
      expect(rows[0]).toEqual([
        { id: 1, name: 'a', data: Buffer.from([1, 2, 3]) },
        { id: 2, name: null, data: null },
      ])
      expect(rows[1]).toEqual([{ b: String(2n ** 60n) }])
      expect(readFileSync(join(files.dir(`copy-${kind}`), 'sub', 'x.txt'), 'utf8')).toBe('hello')
    }
    await store.close()
  })
})
