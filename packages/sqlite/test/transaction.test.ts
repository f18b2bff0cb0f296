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

  it('fails outside a tenant', async () => {
    await expect(withTransaction(() => 1, { tenancy })).rejects.toMatchObject({
      code: 'TENANTRY_NO_TENANT',
    })
  })
})
