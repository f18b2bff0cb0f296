// The base store on its own, over an in-memory backend: the existence cache, hiding tenants
// being destroyed, migrate-all, and what close() leaves behind.
import { createTenancy, isTenantryError, type Tenancy } from '@tenantry/context'
import {
  type BaseStoreOptions,
  BaseTenantStore,
  migrateEachTenant,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'

/** A backend whose tenants are a Set; every probe and open is counted. */
class MemoryStore extends BaseTenantStore<unknown> {
  readonly tenants = new Set<string>()
  readonly probes: string[] = []
  readonly handles = new Map<object, string>()
  shutdowns = 0
  /** Runs inside destroyTenant while the tenant is hidden (to look from the outside). */
  duringDestroy: (() => Promise<void>) | undefined
  failing = new Set<string>()

  get central(): Kysely<unknown> {
    throw new Error('no central database here')
  }
  async createTenant(tenant: string): Promise<void> {
    this.tenants.add(this.tenancy.validateName(tenant))
  }
  async destroyTenant(tenant: string): Promise<void> {
    await this.hiding(tenant, async () => {
      await this.duringDestroy?.()
      this.tenants.delete(tenant)
    })
  }
  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    if (this.failing.has(tenant)) throw new Error(`cannot migrate ${tenant}`)
    return { tenant, applied: ['001'] }
  }
  async tenantInfo(tenant: string): Promise<TenantInfo> {
    return { tenant, location: tenant, migrations: [], pending: [] }
  }
  async migrateCentral(): Promise<string[]> {
    return []
  }
  protected probe(tenant: string): boolean {
    this.probes.push(this.tenancy.validateName(tenant))
    return this.tenants.has(tenant)
  }
  protected async listReady(): Promise<string[]> {
    return [...this.tenants].sort()
  }
  protected async open(tenant: string): Promise<Kysely<unknown>> {
    const handle = { tenant }
    this.handles.set(handle, tenant)
    return handle as unknown as Kysely<unknown>
  }
  protected dispose(db: Kysely<unknown>): void {
    this.handles.delete(db)
  }
  protected openTenants(): Iterable<string> {
    return this.handles.values()
  }
  protected async shutdown(): Promise<void> {
    this.shutdowns++
  }
}

function make(options: Partial<BaseStoreOptions> = {}): { store: MemoryStore; tenancy: Tenancy } {
  const tenancy = createTenancy()
  // The fake handles are not Kysely instances, so they cannot carry the tenant guard plugin.
  const store = new MemoryStore(
    { migrations: {}, tenancy, tenantGuard: false, ...options },
    { cap: 8 },
  )
  store.install(tenancy)
  return { store, tenancy }
}

describe('BaseTenantStore', () => {
  it('answers a cached positive exists synchronously, and asks again when the cache is off', async () => {
    const { store } = make()
    await store.createTenant('acme')
    expect(store.exists('acme')).toBe(true)
    expect(store.exists('acme')).toBe(true)
    expect(store.probes).toEqual(['acme'])
    expect(store.exists('nobody')).toBe(false)
    expect(store.exists('nobody')).toBe(false)
    expect(store.probes).toEqual(['acme', 'nobody', 'nobody'])

    const uncached = make({ existsCacheMs: 0 }).store
    await uncached.createTenant('acme')
    uncached.exists('acme')
    uncached.exists('acme')
    expect(uncached.probes).toEqual(['acme', 'acme'])
  })

  it('hides a tenant from exists, list and withTenant while it is destroyed', async () => {
    const { store, tenancy } = make()
    await store.createTenant('acme')
    await store.createTenant('beta')
    expect(store.exists('acme')).toBe(true) // now cached
    const seen: unknown[] = []
    store.duringDestroy = async () => {
      seen.push(store.exists('acme'), await store.list())
      seen.push(await tenancy.withTenant('acme', () => 'entered').catch((e) => e.code))
    }
    await store.destroyTenant('acme')
    expect(seen).toEqual([false, ['beta'], 'TENANTRY_UNKNOWN_TENANT'])
    expect(store.exists('acme')).toBe(false)
    expect(await store.list()).toEqual(['beta'])
  })

  it('migrates every tenant, records a failure in its result and reports progress', async () => {
    const { store } = make()
    for (const t of ['c', 'a', 'b']) await store.createTenant(t)
    store.failing.add('b')
    const progress: number[] = []
    const results = await store.migrateAllTenants({
      concurrency: 2,
      onProgress: (p) => progress.push(p.done),
    })
    expect(results.map((r) => [r.tenant, r.error === undefined])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ])
    expect(progress).toEqual([1, 2, 3])
  })

  it('keeps results in input order when later tenants finish first', async () => {
    // (No @tenantry/test-utils here: it depends on this package, and pnpm warns of the cycle.)
    let finishFirst!: () => void
    const first = new Promise<void>((r) => {
      finishFirst = r
    })
    let running = 0
    let most = 0
    const results = await migrateEachTenant(
      ['t1', 't2', 't3'],
      async (tenant) => {
        most = Math.max(most, ++running)
        // t1 finishes only after t3, which starts only once t2 is done.
        if (tenant === 't1') await first
        if (tenant === 't3') finishFirst()
        running--
        return { tenant, applied: [] }
      },
      { concurrency: 2 },
    )
    expect(results.map((r) => r.tenant)).toEqual(['t1', 't2', 't3'])
    expect(most).toBe(2)
  })

  it('refreshes the tenants it handed out on close, then refuses to open with TENANTRY_STORE_CLOSED', async () => {
    const { store, tenancy } = make()
    await store.createTenant('acme')
    await tenancy.withTenant('acme', () => tenancy.getResource('db'))
    expect(store.handles.size).toBe(1)
    await store.close()
    expect(store.handles.size).toBe(0)
    expect(store.shutdowns).toBe(1)
    const error = await tenancy.withTenant('acme', () => 'entered').catch((e: unknown) => e)
    expect(isTenantryError(error, 'TENANTRY_STORE_CLOSED')).toBe(true)
    expect((error as { tenant?: string }).tenant).toBe('acme')
  })
})
