// Open handles: the LRU cap, handles in use surviving pressure, file descriptors released.
import { join } from 'node:path'
import { createTenancy, isTenantryError } from '@tenantry/context'
import { deferred, tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import type { Kysely } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases, type TenantDatabases } from '../src/index.js'
import { openFds } from './helpers.js'

const root = tempDir('tenantry-sqlite-')
let n = 0
const stores: TenantDatabases<any>[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

async function make(tenants: string[], extra: { cap?: number; idleTimeoutMs?: number } = {}) {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({
    root: join(root, `s${++n}`),
    migrations: baseMigrations(),
    tenancy,
    ...extra,
  }).install(tenancy)
  stores.push(store)
  for (const t of tenants) await store.createTenant(t)
  const db = () => tenancy.getResource('db') as Kysely<any>
  const touch = (t: string) =>
    tenancy.withTenant(t, () => db().selectFrom('note').selectAll().execute())
  return { store, tenancy, db, touch }
}

const names = (k: number) => Array.from({ length: k }, (_, i) => `t${i}`)

describe('handle cache', () => {
  it('evicts idle handles above the cap but never one in use', async () => {
    const { tenancy, db, touch } = await make(names(6), { cap: 2 })
    const hold = deferred()
    const holding = deferred()
    const busy = tenancy.withTenant('t0', async () => {
      await db().insertInto('note').values({ id: 1, title: 'held' }).execute()
      holding.resolve()
      await hold.promise
      // Still the same working handle after the pressure below.
      return db().selectFrom('note').select('title').execute()
    })
    await holding.promise
    for (const t of names(6).slice(1)) await touch(t)
    expect(tenancy.cachedCount('db')).toBeLessThanOrEqual(2)
    hold.resolve()
    expect(await busy).toEqual([{ title: 'held' }])
    expect(tenancy.cachedCount('db')).toBeLessThanOrEqual(2)
  })

  it('returns to the baseline file-descriptor count after eviction and close', async () => {
    const { store, touch, tenancy } = await make(names(20), { cap: 3 })
    const baseline = openFds()
    for (const t of names(20)) await touch(t)
    // Each open tenant that only read costs the database, its -wal and its -shm (the identity
    // is a stat of the path, no descriptor): cap × 3 at most.
    expect(openFds() - baseline).toBeLessThanOrEqual(3 * 3)
    expect(tenancy.cachedCount('db')).toBe(3)
    await store.close()
    expect(tenancy.cachedCount('db')).toBe(0)
    expect(openFds()).toBe(baseline)
  })

  it('closes idle handles after the idle timeout', async () => {
    const { touch, tenancy } = await make(['idle'], { idleTimeoutMs: 20 })
    const baseline = openFds()
    await touch('idle')
    expect(tenancy.cachedCount('db')).toBe(1)
    // Wait for the outcome (the reaper), not for a fixed time.
    await expect.poll(() => tenancy.cachedCount('db'), { timeout: 5000, interval: 10 }).toBe(0)
    await expect.poll(() => openFds(), { timeout: 5000, interval: 10 }).toBe(baseline)
  })

  it('destroy waits for the tenant to be released, or fails clearly', async () => {
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({
      root: join(root, `s${++n}`),
      migrations: baseMigrations(),
      tenancy,
      releaseTimeoutMs: 50,
    }).install(tenancy)
    stores.push(store)
    await store.createTenant('busy')
    const hold = deferred()
    const holding = deferred()
    const use = tenancy.withTenant('busy', async () => {
      holding.resolve()
      await hold.promise
    })
    await holding.promise
    const error = await store.destroyTenant('busy').catch((e: unknown) => e)
    expect(isTenantryError(error, 'TENANTRY_TENANT_IN_USE')).toBe(true)
    expect(store.exists('busy')).toBe(true)
    hold.resolve()
    await use
    const hold2 = deferred()
    const holding2 = deferred()
    const use2 = tenancy.withTenant('busy', async () => {
      holding2.resolve()
      await hold2.promise
    })
    await holding2.promise
    const destroying = store.destroyTenant('busy')
    // The tenant disappears as soon as destroy starts waiting; only then let the user finish.
    await expect.poll(() => store.exists('busy'), { timeout: 5000, interval: 5 }).toBe(false)
    hold2.resolve()
    await use2
    await destroying
    expect(store.exists('busy')).toBe(false)
  })
})
