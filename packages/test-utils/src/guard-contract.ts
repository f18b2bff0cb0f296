// The tenant guard on a real store: each leak shape (a captured getDb() result, a captured
// transaction, a module variable) used in another tenant or outside any must throw
// WrongTenantError and leave the first tenant's data untouched. Backends call this from their
// own test file, like describeTenantStoreContract.
import { randomUUID } from 'node:crypto'
import { createTenancy, type Tenancy } from '@tenantry/context'
import { type TenantStore, withoutTenantGuard, withTransaction } from '@tenantry/kysely'
import type { Kysely, Transaction } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { baseMigrations, type ContractOptions, type ContractSetup } from './store-contract.js'

/** What a backend's factory receives: the contract's setup, plus whether to guard. */
export interface GuardSetup extends ContractSetup {
  /** Passed to the store as `tenantGuard` (undefined: the default, guarded). */
  tenantGuard?: boolean | undefined
}

type Store = TenantStore & { install(tenancy: Tenancy): unknown }

/** Registers the tenant-guard tests for one backend. */
export function describeTenantGuardContract(
  name: string,
  makeStore: (setup: GuardSetup) => Store | Promise<Store>,
  options: ContractOptions = {},
): void {
  const suite = options.skip === undefined ? describe : describe.skip
  suite(`tenant guard: ${name}${options.skip ? ` (skipped: ${options.skip})` : ''}`, () => {
    const opened: Store[] = []
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
    })
    const make = async (tenantGuard?: boolean) => {
      const tenancy = createTenancy()
      const namespace = `g${randomUUID().slice(0, 8)}`
      const store = await makeStore({
        tenancy,
        migrations: baseMigrations(),
        namespace,
        tenantGuard,
      })
      store.install(tenancy)
      opened.push(store)
      await store.createTenant('acme')
      await store.createTenant('globex')
      return { store, tenancy }
    }
    const db = (t: Tenancy) => t.getResource('db') as Kysely<any>
    const titles = (t: Tenancy, tenant: string) =>
      t.withTenant(tenant, async () =>
        (await db(t).selectFrom('note').select('title').orderBy('id').execute()).map(
          (r) => r.title,
        ),
      )
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      )

    it('a captured getDb() result throws in another tenant and outside any', async () => {
      const { tenancy } = await make()
      const acme = await tenancy.withTenant('acme', () => db(tenancy))
      const inGlobex = await tenancy.withTenant('globex', () =>
        failure(acme.insertInto('note').values({ id: 1, title: 'leak' }).execute()),
      )
      expect(inGlobex).toMatchObject({
        code: 'TENANTRY_WRONG_TENANT',
        tenant: 'acme',
        currentTenant: 'globex',
      })
      expect(await failure(acme.selectFrom('note').selectAll().execute())).toMatchObject({
        code: 'TENANTRY_WRONG_TENANT',
        currentTenant: undefined,
      })
      expect(await titles(tenancy, 'acme')).toEqual([])
    })

    it('a captured transaction throws when used in another tenant while still open', async () => {
      const { tenancy } = await make()
      let trx: Transaction<any> | undefined
      let finish!: () => void
      const open = new Promise<void>((r) => {
        finish = r
      })
      const acme = tenancy.withTenant('acme', () =>
        withTransaction(
          async (t) => {
            trx = t
            await t.insertInto('note').values({ id: 1, title: 'own' }).execute()
            await open
          },
          { tenancy },
        ),
      )
      while (trx === undefined) await new Promise((r) => setTimeout(r, 1))
      const error = await tenancy.withTenant('globex', () =>
        failure(trx!.insertInto('note').values({ id: 2, title: 'leak' }).execute()),
      )
      expect(error).toMatchObject({ code: 'TENANTRY_WRONG_TENANT', tenant: 'acme' })
      finish()
      await acme
      expect(await titles(tenancy, 'acme')).toEqual(['own'])
      expect(await titles(tenancy, 'globex')).toEqual([])
    })

    it('withoutTenantGuard lets admin code use a handle anywhere; the store still works', async () => {
      const { store, tenancy } = await make()
      const acme = await tenancy.withTenant('acme', () => db(tenancy))
      await withoutTenantGuard(() =>
        acme.insertInto('note').values({ id: 1, title: 'by admin' }).execute(),
      )
      expect(await titles(tenancy, 'acme')).toEqual(['by admin'])
      // The store's own work (migrate, info, destroy) runs outside tenants, unguarded.
      expect((await store.migrateTenant('acme')).applied).toEqual([])
      expect((await store.tenantInfo('acme')).pending).toEqual([])
      await store.destroyTenant('acme')
      expect(await store.list()).toEqual(['globex'])
    })

    it('tenantGuard: false gives the unguarded handles (the leak the guard stops)', async () => {
      const { tenancy } = await make(false)
      const acme = await tenancy.withTenant('acme', () => db(tenancy))
      await tenancy.withTenant('globex', () =>
        acme.insertInto('note').values({ id: 1, title: 'leaked into acme' }).execute(),
      )
      expect(await titles(tenancy, 'acme')).toEqual(['leaked into acme'])
    })
  })
}
