// Symbolic links planted in the data root (issue 12): a tenant folder, the tenants folder or a
// database file that is a link is no tenant, for serving, listing, creating and destroying alike.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, isTenantryError } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import type { Kysely } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases, type TenantDatabases } from '../src/index.js'

const root = tempDir()
let n = 0
const stores: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

function make() {
  const tenancy = createTenancy()
  const dir = join(root, `s${++n}`)
  const store = createTenantDatabases<any>({ root: dir, migrations: baseMigrations(), tenancy })
  store.install(tenancy)
  stores.push(store)
  return { store, tenancy, dir, db: () => tenancy.getResource('db') as Kysely<any> }
}

const codeOf = (p: Promise<unknown> | (() => unknown)) =>
  Promise.resolve()
    .then(typeof p === 'function' ? p : () => p)
    .then(
      () => 'ok',
      (e: unknown) => (isTenantryError(e) ? e.code : String(e)),
    )

describe('symbolic links in the data root', () => {
  it('tenants/evil -> tenants/victim reads, lists and destroys nothing of victim', async () => {
    const { store, tenancy, dir, db } = make()
    await store.createTenant('victim')
    await tenancy.withTenant('victim', () =>
      db().insertInto('note').values({ id: 1, title: 'secret' }).execute(),
    )
    symlinkSync(join(dir, 'tenants', 'victim'), join(dir, 'tenants', 'evil'))

    expect(await store.list()).toEqual(['victim'])
    expect(await codeOf(() => store.exists('evil'))).toBe('TENANTRY_TENANT_PATH')
    expect(
      await codeOf(tenancy.withTenant('evil', () => db().selectFrom('note').selectAll().execute())),
    ).toBe('TENANTRY_TENANT_PATH')
    expect(await codeOf(store.destroyTenant('evil'))).toBe('TENANTRY_TENANT_PATH')
    expect(await codeOf(store.migrateTenant('evil'))).toBe('TENANTRY_TENANT_PATH')
    expect(await codeOf(store.createTenant('evil', { ifNotExists: true }))).toBe(
      'TENANTRY_TENANT_PATH',
    )
    expect(await codeOf(store.tenantInfo('evil'))).toBe('TENANTRY_TENANT_PATH')

    const rows = await tenancy.withTenant('victim', () =>
      db().selectFrom('note').select('title').execute(),
    )
    expect(rows).toEqual([{ title: 'secret' }])
    expect(existsSync(join(dir, 'tenants', 'victim', 'db.sqlite3'))).toBe(true)
  })

  it('a database file that is a link is refused, and the link target survives destroy', async () => {
    const { store, tenancy, dir } = make()
    await store.createTenant('victim')
    mkdirSync(join(dir, 'tenants', 'evil'))
    symlinkSync(
      join(dir, 'tenants', 'victim', 'db.sqlite3'),
      join(dir, 'tenants', 'evil', 'db.sqlite3'),
    )
    expect(await store.list()).toEqual(['victim'])
    expect(await codeOf(tenancy.withTenant('evil', () => 1))).toBe('TENANTRY_TENANT_PATH')
    expect(await codeOf(store.destroyTenant('evil'))).toBe('TENANTRY_TENANT_PATH')
    expect(existsSync(join(dir, 'tenants', 'victim', 'db.sqlite3'))).toBe(true)
  })

  it('a tenants folder that is a link is refused for every tenant under it', async () => {
    const { store, tenancy, dir } = make()
    const elsewhere = join(root, `elsewhere${n}`)
    const other = createTenantDatabases<any>({
      root: elsewhere,
      migrations: baseMigrations(),
      tenancy: createTenancy(),
    })
    stores.push(other)
    await other.createTenant('acme')
    mkdirSync(dir, { recursive: true })
    symlinkSync(join(elsewhere, 'tenants'), join(dir, 'tenants'))
    expect(await store.list()).toEqual([])
    expect(await codeOf(tenancy.withTenant('acme', () => 1))).toBe('TENANTRY_TENANT_PATH')
    expect(await codeOf(store.createTenant('fresh'))).toBe('TENANTRY_TENANT_PATH')
    expect(existsSync(join(elsewhere, 'tenants', 'fresh'))).toBe(false)
  })

  it('a real root that is itself reached through a link still works (the root is trusted)', async () => {
    const real = join(root, `real${++n}`)
    mkdirSync(real)
    const linked = join(root, `linked${n}`)
    symlinkSync(real, linked)
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({
      root: linked,
      migrations: baseMigrations(),
      tenancy,
    }).install(tenancy)
    stores.push(store)
    await store.createTenant('acme')
    expect(await store.list()).toEqual(['acme'])
    expect(await tenancy.withTenant('acme', () => 'in')).toBe('in')
  })
})
