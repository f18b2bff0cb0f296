// detached(): code that plays an outside caller (a test helper injecting a request) from inside
// a tenant: no tenant, no switch guard, only the overrides made outside any tenant.
import { describe, expect, it } from 'vitest'
import { tenancyWith } from './helpers.js'

describe('detached()', () => {
  it('leaves the tenant and its switch guard, keeps only untenanted overrides', async () => {
    const t = tenancyWith(['a', 'b'])
    t.defineResource('mail', { fallback: () => 'real mail' })
    t.defineResource('db', { create: (tenant) => `db ${tenant}`, fallback: () => 'central' })
    const seen = await t.withOverrides({ mail: 'fake mail' }, () =>
      t.withTenant('a', () =>
        t.withOverrides({ db: 'a transaction' }, async () => {
          // withoutTenant keeps the guard: entering b from here is still a switch.
          await expect(t.withoutTenant(() => t.withTenant('b', () => 1))).rejects.toMatchObject({
            code: 'TENANTRY_TENANT_SWITCH',
          })
          return t.detached(async () => ({
            tenant: t.currentTenant(),
            mail: t.getResource('mail'),
            db: t.getResource('db'),
            inB: await t.withTenant('b', () => [t.getResource('db'), t.getResource('mail')]),
          }))
        }),
      ),
    )
    expect(seen).toEqual({
      tenant: undefined,
      mail: 'fake mail',
      db: 'central',
      inB: ['db b', 'fake mail'],
    })
    expect(t.detached(() => t.currentTenant())).toBeUndefined()
  })
})
