// bind()/snapshot() callbacks that run after their scope ended, while other tenants evict
// instances under a small cap: they either get a live instance of their own tenant or a
// ScopeEndedError that says so, never a closed handle, and withTenant() in them reopens.
import { isTenantryError, ScopeEndedError } from '@tenantry/context'
import { describe, expect, it } from 'vitest'
import { randomTurns, tenancyWith, tenantNames } from './helpers.js'

interface Handle {
  tenant: string
  closed: boolean
}

function setup(names: string[], cap: number) {
  const t = tenancyWith(names)
  let opened = 0
  t.defineResource('db', {
    // Asynchronous like a real tenant database (open, check migrations).
    create: async (tenant): Promise<Handle> => {
      await randomTurns(2)
      opened++
      return { tenant, closed: false }
    },
    dispose: (h) => {
      ;(h as Handle).closed = true
    },
    eager: true,
    cap,
  })
  const db = () => t.getResource('db') as Handle
  return { t, db, opened: () => opened }
}

describe('late bind()/snapshot() callbacks', () => {
  it('never see a closed handle: a live one of their tenant, or ScopeEndedError; withTenant reopens', async () => {
    const names = tenantNames(30)
    const { t, db } = setup(names, 3)
    const late: (() => unknown)[] = []
    const outcomes = { live: 0, ended: 0, reopened: 0 }
    const wrong: string[] = []
    const check = (tenant: string, h: Handle) => {
      if (h.tenant !== tenant || h.closed)
        wrong.push(`${tenant}: got ${h.tenant} closed=${h.closed}`)
    }
    const lateRead = (tenant: string) => async () => {
      try {
        check(tenant, db())
        outcomes.live++
      } catch (error) {
        if (
          !(error instanceof ScopeEndedError) ||
          error.tenant !== tenant ||
          error.resource !== 'db'
        )
          throw error
        outcomes.ended++
      }
      // The documented way out: re-enter the tenant in the callback.
      await t.withTenant(tenant, async () => {
        await randomTurns(2)
        check(tenant, db())
        outcomes.reopened++
      })
    }
    // Scopes capture callbacks, end, and other tenants' scopes evict their handles meanwhile;
    // half the callbacks run while scopes are still entering, half after all of them ended.
    const rounds = names.flatMap((name, i) => [
      t.withTenant(name, async () => {
        await randomTurns(4)
        const run = t.snapshot()
        late.push(() => run(lateRead(name)))
        late.push(t.bind(lateRead(name)))
        check(name, db())
      }),
      randomTurns(6).then(() => (i % 2 === 0 ? late.shift()?.() : undefined)),
    ])
    await Promise.all(rounds)
    const pending: unknown[] = []
    while (late.length > 0) {
      await randomTurns(1)
      pending.push(late.shift()!())
    }
    await Promise.all(pending)
    expect(wrong).toEqual([])
    expect(outcomes.live + outcomes.ended).toBe(60)
    expect(outcomes.reopened).toBe(60)
    expect(outcomes.ended).toBeGreaterThan(0) // the cap did evict under the late callbacks
  })

  it('after ScopeEndedError the handle reopens in the background for the next late callback', async () => {
    const { t, db, opened } = setup(['a', 'b'], 1)
    const run = await t.withTenant('a', () => t.snapshot())
    await t.withTenant('b', () => {}) // cap 1: a's handle is evicted and closed
    expect(t.cachedCount('db')).toBe(1)
    let error: unknown
    try {
      run(db)
    } catch (e) {
      error = e
    }
    expect(isTenantryError(error, 'TENANTRY_SCOPE_ENDED')).toBe(true)
    expect((error as Error).message).toContain('withTenant')
    const before = opened()
    await expect.poll(() => opened(), { timeout: 5000, interval: 1 }).toBe(before + 1)
    const h = run(db)
    expect(h).toMatchObject({ tenant: 'a', closed: false })
  })

  it('a late callback whose handle is still cached gets it; a synchronous lazy resource is rebuilt', async () => {
    const t = tenancyWith(['a', 'b'])
    t.defineResource('cache', { create: (tenant) => ({ tenant, closed: false }), cap: 1 })
    t.defineResource('db', { create: async (tenant) => ({ tenant }), eager: true, cap: 5 })
    const run = await t.withTenant('a', () => {
      t.getResource('cache')
      return t.snapshot()
    })
    expect(run(() => t.getResource('db'))).toEqual({ tenant: 'a' })
    await t.withTenant('b', () => t.getResource('cache')) // evicts a's cache
    expect(run(() => t.getResource('cache'))).toEqual({ tenant: 'a', closed: false })
  })
})
