// A serving handle is two connections: a read-only one for autocommit reads, opened with the
// handle, and a read-write one opened on the first statement that needs it. Reads of a handle
// that never wrote leave -wal and -shm in place across a close; writes, DDL, pragmas and write
// transactions run on the writer; a write after another process destroyed the tenant is refused.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, isTenantryError } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { type Kysely, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import { first } from './fixtures/worker-migrations.js'
import { filesUnder } from './helpers.js'

const root = tempDir('tenantry-sqlite-rw-')
let n = 0
const stores: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

function make(dir: string) {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({ root: dir, migrations: first, tenancy })
  store.install(tenancy)
  stores.push(store)
  const db = () => tenancy.getResource('db') as Kysely<any>
  return { store, tenancy, db }
}

function resolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isTenantryError(e) ? e.code : String(e)),
  )

describe('reader and writer connections', () => {
  it('keeps -wal and -shm across closes, with every write checkpointed into the database', async () => {
    const dir = join(root, `s${++n}`)
    const a = make(dir)
    await a.store.createTenant('acme')
    await a.tenancy.withTenant('acme', () => a.db().insertInto('note').values({ id: 1 }).execute())
    await a.store.close()
    const wal = join(dir, 'tenants/acme/db.sqlite3-wal')
    expect(filesUnder(join(dir, 'tenants'))).toEqual([
      'acme/db.sqlite3',
      'acme/db.sqlite3-shm',
      'acme/db.sqlite3-wal',
    ])
    expect(statSync(wal).size).toBe(0) // the writer's close checkpointed and truncated it
    const b = make(dir)
    const rows = await b.tenancy.withTenant('acme', () =>
      b.db().selectFrom('note').selectAll().execute(),
    )
    expect(rows).toEqual([{ id: 1 }])
    await b.store.close()
    expect(statSync(wal).size).toBe(0)
  })

  it('runs writes, WITH … INSERT, pragmas and write transactions on the writer', async () => {
    const { store, tenancy, db } = make(join(root, `s${++n}`))
    await store.createTenant('acme')
    const got = await tenancy.withTenant('acme', async () => {
      // Read first (reader), then a write that starts with WITH (prepared on the reader, found
      // not read-only, moved to the writer), then read it back on the reader.
      const before = await db().selectFrom('note').selectAll().execute()
      await sql`WITH v(id) AS (VALUES (7)) INSERT INTO note (id) SELECT id FROM v`.execute(db())
      const after = await db().selectFrom('note').select('id').execute()
      // Connection settings are the writer's (where writes check foreign keys).
      const fk = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db())
      // A write transaction reads its own uncommitted row (it runs on one connection).
      const inside = await db()
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto('note').values({ id: 8 }).execute()
          return trx.selectFrom('note').select('id').orderBy('id').execute()
        })
      const ro = await db()
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.selectFrom('note').select('id').orderBy('id').execute())
      return { before, after, fk: fk.rows, inside, ro }
    })
    expect(got).toEqual({
      before: [],
      after: [{ id: 7 }],
      fk: [{ foreign_keys: 1 }],
      inside: [{ id: 7 }, { id: 8 }],
      ro: [{ id: 7 }, { id: 8 }],
    })
  })

  it('refuses a first write after another store destroyed the tenant the handle reads', async () => {
    const dir = join(root, `s${++n}`)
    const a = make(dir)
    const b = make(dir)
    await a.store.createTenant('acme')
    const gate = resolvers()
    const read = resolvers()
    const scope = a.tenancy.withTenant('acme', async () => {
      await a.db().selectFrom('note').selectAll().execute() // the reader is open
      read.resolve()
      await gate.promise
      return codeOf(a.db().insertInto('note').values({ id: 1 }).execute())
    })
    await read.promise
    await b.store.destroyTenant('acme')
    gate.resolve()
    expect(await scope).toBe('TENANTRY_TENANT_GONE')
  })
})
