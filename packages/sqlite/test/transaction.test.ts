// withTransaction beyond the contract: plain Kysely transactions, concurrent transactions on
// the one connection, and the central database.
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { deferred, tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import type { Kysely } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { createTenantDatabases, withTransaction } from '../src/index.js'

const root = tempDir('tenantry-sqlite-')
const tenancy = createTenancy()
const store = createTenantDatabases<any>({
  root: join(root, 'tx'),
  migrations: baseMigrations(),
  tenancy,
}).install(tenancy)
afterAll(() => store.close())
const db = () => tenancy.getResource('db') as Kysely<any>
const titles = () =>
  db()
    .selectFrom('note')
    .select('title')
    .orderBy('id')
    .execute()
    .then((r) => r.map((x) => x.title))

describe('withTransaction', () => {
  it('nests with raw savepoints inside a plain Kysely transaction', async () => {
    await store.createTenant('plain')
    await tenancy.withTenant('plain', async () => {
      await db()
        .transaction()
        .execute((trx) =>
          tenancy.withOverrides({ db: trx }, async () => {
            await db().insertInto('note').values({ id: 1, title: 'kept' }).execute()
            await withTransaction(
              async () => {
                await db().insertInto('note').values({ id: 2, title: 'dropped' }).execute()
                throw new Error('undo')
              },
              { tenancy },
            ).catch(() => {})
          }),
        )
      expect(await titles()).toEqual(['kept'])
    })
  })

  it('serialises concurrent transactions on one tenant instead of deadlocking', async () => {
    await store.createTenant('queue')
    await tenancy.withTenant('queue', async () => {
      const inFirst = deferred()
      const finishFirst = deferred()
      const first = withTransaction(
        async () => {
          await db().insertInto('note').values({ id: 1, title: 'first' }).execute()
          inFirst.resolve()
          await finishFirst.promise
        },
        { tenancy },
      )
      await inFirst.promise
      // Started while the first holds the connection: it must wait, then see the commit.
      const second = withTransaction(async () => titles(), { tenancy })
      finishFirst.resolve()
      await first
      expect(await second).toEqual(['first'])
    })
  })

  it('hands the connection to waiting transactions first come, first served, one at a time', async () => {
    await store.createTenant('fifo')
    await tenancy.withTenant('fifo', async () => {
      const pause = () => new Promise((r) => setTimeout(r, Math.random() * 5))
      const hold = deferred()
      const first = withTransaction(() => hold.promise, { tenancy })
      // Eight transactions queue behind the first; each writes two rows with a random pause
      // between them, and plain reads queue in between.
      const queued = Array.from({ length: 8 }, (_, i) =>
        withTransaction(
          async () => {
            await db()
              .insertInto('note')
              .values({ title: `${i}a` })
              .execute()
            await pause()
            await db()
              .insertInto('note')
              .values({ title: `${i}b` })
              .execute()
          },
          { tenancy },
        ),
      )
      const reads = Array.from({ length: 4 }, () => titles())
      hold.resolve()
      await Promise.all([first, ...queued, ...reads])
      const rows = await db().selectFrom('note').select(['id', 'title']).orderBy('id').execute()
      expect(rows.map((r) => r.title)).toEqual(
        Array.from({ length: 8 }, (_, i) => [`${i}a`, `${i}b`]).flat(),
      )
      // Each read ran between two transactions, never inside one: it saw whole pairs only.
      for (const seen of await Promise.all(reads)) expect(seen.length % 2).toBe(0)
    })
  })

  it('fails outside a tenant', async () => {
    await expect(withTransaction(() => 1, { tenancy })).rejects.toMatchObject({
      code: 'TENANTRY_NO_TENANT',
    })
  })
})
