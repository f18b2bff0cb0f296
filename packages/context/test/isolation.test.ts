import { describe, expect, it } from 'vitest'
import { randomTurns, tenancyWith, tenantNames } from './helpers.ts'

describe('isolation under interleaving', () => {
  it('thousands of operations across 100 tenants never see another tenant', async () => {
    const names = tenantNames(100)
    const t = tenancyWith(names)
    t.defineResource('db', { create: (tenant) => ({ tenant }), cap: 30 })
    t.defineResource('mail', {
      create: (tenant) => ({ tenant }),
      fallback: () => ({ tenant: null as string | null }),
    })
    const finishOrder: number[] = []
    let mismatches = 0
    const check = (name: string) => {
      if (t.currentTenant() !== name) mismatches++
      if ((t.getResource('db') as { tenant: string }).tenant !== name) mismatches++
      if ((t.getResource('mail') as { tenant: string }).tenant !== name) mismatches++
    }
    await Promise.all(
      Array.from({ length: 3000 }, async (_, i) => {
        const name = names[i % names.length]!
        await randomTurns(2)
        await t.withTenant(name, async () => {
          check(name)
          // Earlier-started scopes wait longer, so later ones finish first.
          await randomTurns(i % 7)
          check(name)
          await Promise.all([
            randomTurns(3).then(() => check(name)),
            randomTurns(3).then(() => check(name)),
          ])
          await new Promise((r) => setTimeout(r, Math.random() * 2))
          check(name)
          // An untenanted excursion in the middle sees no tenant, then the tenant again.
          t.withoutTenant(() => {
            if (t.currentTenant() !== undefined) mismatches++
            if ((t.getResource('mail') as { tenant: null }).tenant !== null) mismatches++
          })
          check(name)
        })
        finishOrder.push(i)
      }),
    )
    expect(mismatches).toBe(0)
    expect(t.currentTenant()).toBeUndefined()
    // The interleaving was real: completion order differs from start order.
    const displaced = finishOrder.filter((v, k) => v !== k).length
    expect(displaced).toBeGreaterThan(1000)
  })

  it('nothing leaks from one withTenant into the next, also after errors', async () => {
    const t = tenancyWith(['a', 'b'])
    await t.withTenant('a', () => undefined)
    expect(t.currentTenant()).toBeUndefined()
    await t.withTenant('a', () => Promise.reject(new Error('x'))).catch(() => undefined)
    expect(t.currentTenant()).toBeUndefined()
    await expect(t.withTenant('b', () => t.currentTenant())).resolves.toBe('b')
  })
})
