import {
  currentTenant,
  isTenantryError,
  NoTenantError,
  requireTenant,
  TenancyConfigError,
  TenantSwitchError,
  tenancy,
  UnknownResourceError,
  UnknownTenantError,
  withOverrides,
  withoutTenant,
  withTenant,
} from '@tenantry/context'
import { afterEach, describe, expect, it } from 'vitest'
import { tenancyWith } from './helpers.ts'

afterEach(() => tenancy.reset())

describe('entering tenants', () => {
  it('has no tenant outside withTenant, and the tenant inside', async () => {
    expect(currentTenant()).toBeUndefined()
    expect(() => requireTenant()).toThrow(NoTenantError)
    const seen = await withTenant('acme', async (t) => {
      await Promise.resolve()
      return [t, currentTenant(), requireTenant()]
    })
    expect(seen).toEqual(['acme', 'acme', 'acme'])
    expect(currentTenant()).toBeUndefined()
  })

  it('returns the callback result and rethrows its error, leaving no tenant behind', async () => {
    await expect(withTenant('acme', () => 42)).resolves.toBe(42)
    await expect(
      withTenant('acme', () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(currentTenant()).toBeUndefined()
  })

  it('treats nesting the same tenant as a no-op', async () => {
    const t = tenancyWith(['acme'])
    let created = 0
    t.defineResource('thing', { create: () => ({ n: ++created }) })
    await t.withTenant('acme', async () => {
      const outer = t.getResource('thing')
      await t.withTenant('acme', async () => {
        expect(t.currentTenant()).toBe('acme')
        expect(t.getResource('thing')).toBe(outer)
      })
    })
    expect(created).toBe(1)
  })

  it('refuses to switch tenant inside a tenant unless allowSwitch is given', async () => {
    const t = tenancyWith(['a', 'b'])
    const error = await t
      .withTenant('a', () => t.withTenant('b', () => 'never'))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TenantSwitchError)
    expect(error).toMatchObject({ code: 'TENANTRY_TENANT_SWITCH', from: 'a', to: 'b' })
    const inner = await t.withTenant('a', () =>
      t.withTenant('b', () => t.currentTenant(), { allowSwitch: true }),
    )
    expect(inner).toBe('b')
  })

  it('keeps the switch guard through withoutTenant', async () => {
    const t = tenancyWith(['a', 'b'])
    await expect(
      t.withTenant('a', () => t.withoutTenant(() => t.withTenant('b', () => 1))),
    ).rejects.toMatchObject({ code: 'TENANTRY_TENANT_SWITCH' })
    // ...but going back to the same tenant is fine.
    await expect(
      t.withTenant('a', () => t.withoutTenant(() => t.withTenant('a', () => t.currentTenant()))),
    ).resolves.toBe('a')
  })

  it('asks the tenant source and rejects unknown tenants before running the callback', async () => {
    const t = tenancyWith(['acme'])
    let ran = false
    const error = await t
      .withTenant('ghost', () => {
        ran = true
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnknownTenantError)
    expect(isTenantryError(error, 'TENANTRY_UNKNOWN_TENANT')).toBe(true)
    expect(ran).toBe(false)
  })

  it('accepts an async tenant source', async () => {
    const t = tenancyWith([])
    t.configure({ tenants: { exists: async (name) => name === 'acme' } })
    await expect(t.withTenant('acme', () => t.currentTenant())).resolves.toBe('acme')
    await expect(t.withTenant('other', () => 1)).rejects.toBeInstanceOf(UnknownTenantError)
  })

  it('validates the name before the tenant source is asked', async () => {
    const asked: string[] = []
    const t = tenancyWith([])
    t.configure({
      tenants: {
        exists: (n) => {
          asked.push(n)
          return true
        },
      },
    })
    await expect(t.withTenant('../etc', () => 1)).rejects.toMatchObject({
      code: 'TENANTRY_INVALID_TENANT_NAME',
    })
    expect(asked).toEqual([])
  })

  it('runs withoutTenant with no tenant and restores it afterwards', async () => {
    await withTenant('acme', () => {
      expect(withoutTenant(() => currentTenant())).toBeUndefined()
      expect(currentTenant()).toBe('acme')
    })
  })
})

describe('getters and fallbacks', () => {
  it('returns the singleton fallback outside a tenant and the tenant instance inside', async () => {
    const t = tenancyWith(['a', 'b'])
    t.defineResource('mail', {
      create: (tenant) => `mail:${tenant}`,
      fallback: () => 'mail:global',
    })
    expect(t.getResource('mail')).toBe('mail:global')
    await t.withTenant('a', () => expect(t.getResource('mail')).toBe('mail:a'))
    await t.withTenant('b', () => expect(t.getResource('mail')).toBe('mail:b'))
  })

  it('throws NoTenantError for tenant-only resources outside a tenant', () => {
    const t = tenancyWith(['a'])
    t.defineResource('db', { create: () => ({}), tenantOnly: true, fallback: () => ({}) })
    expect(() => t.getResource('db')).toThrow(NoTenantError)
    expect(() => t.getResource('db')).toThrow(/withTenant/)
  })

  it('throws NoTenantError when there is no fallback, UnknownResourceError for unknown names', () => {
    const t = tenancyWith(['a'])
    t.defineResource('db', { create: () => ({}) })
    expect(() => t.getResource('db')).toThrow(NoTenantError)
    expect(() => t.getResource('nope')).toThrow(UnknownResourceError)
  })

  it('serves a global resource (no create) everywhere, created once', async () => {
    const t = tenancyWith(['a'])
    let made = 0
    t.defineResource('clock', { fallback: () => ({ n: ++made }) })
    const outside = t.getResource('clock')
    await t.withTenant('a', () => expect(t.getResource('clock')).toBe(outside))
    expect(made).toBe(1)
  })

  it('rejects bad definitions with TENANTRY_CONFIG', () => {
    const t = tenancyWith([])
    expect(() => t.defineResource('x', { cap: -1, create: () => 1 })).toThrow(TenancyConfigError)
    expect(() => t.defineResource('x', { eager: true })).toThrow(/no create/)
    expect(() => t.defineResource('', { create: () => 1 })).toThrow(/non-empty/)
  })
})

describe('overrides', () => {
  it('replaces resources inside the callback only, also when it throws', async () => {
    const t = tenancyWith(['a'])
    t.defineResource('mail', { create: () => 'real', fallback: () => 'global' })
    expect(t.withOverrides({ mail: 'fake' }, () => t.getResource('mail'))).toBe('fake')
    expect(t.getResource('mail')).toBe('global')
    expect(() =>
      t.withOverrides({ mail: 'fake' }, () => {
        throw new Error('x')
      }),
    ).toThrow('x')
    expect(t.getResource('mail')).toBe('global')
    await t.withTenant('a', async () => {
      await t.withOverrides({ mail: 'fake-a' }, async () => {
        await Promise.resolve()
        expect(t.getResource('mail')).toBe('fake-a')
      })
      expect(t.getResource('mail')).toBe('real')
    })
  })

  it('applies overrides made outside a tenant inside tenants entered later', async () => {
    const t = tenancyWith(['a', 'b'])
    t.defineResource('mail', { create: () => 'real' })
    await t.withOverrides({ mail: 'fake' }, () =>
      t.withTenant('a', () => expect(t.getResource('mail')).toBe('fake')),
    )
  })

  it('keeps overrides made inside a tenant out of other tenants and of withoutTenant', async () => {
    const t = tenancyWith(['a', 'b'])
    t.defineResource('db', { create: (tenant) => `db:${tenant}`, fallback: () => 'db:central' })
    await t.withTenant('a', () =>
      t.withOverrides({ db: 'trx-of-a' }, async () => {
        expect(t.getResource('db')).toBe('trx-of-a')
        expect(t.withoutTenant(() => t.getResource('db'))).toBe('db:central')
        const inB = await t.withTenant('b', () => t.getResource('db'), { allowSwitch: true })
        expect(inB).toBe('db:b')
      }),
    )
  })

  it('merges nested overrides, inner first', () => {
    const t = tenancyWith([])
    t.defineResource('a', { fallback: () => 'a0' })
    t.defineResource('b', { fallback: () => 'b0' })
    const seen = t.withOverrides({ a: 'a1', b: 'b1' }, () =>
      t.withOverrides({ b: 'b2' }, () => [t.getResource('a'), t.getResource('b')]),
    )
    expect(seen).toEqual(['a1', 'b2'])
  })

  it('refuses undefined override values', () => {
    expect(() => withOverrides({ mail: undefined }, () => 1)).toThrow(TenancyConfigError)
  })
})

describe('withEachTenant', () => {
  it('visits every tenant with bounded concurrency and reports all failures together', async () => {
    const t = tenancyWith(['a', 'b', 'c', 'd'])
    let running = 0
    let peak = 0
    const seen: string[] = []
    const error = await t
      .withEachTenant(
        async (tenant) => {
          running++
          peak = Math.max(peak, running)
          await new Promise((r) => setImmediate(r))
          seen.push(t.currentTenant()!)
          running--
          if (tenant === 'b' || tenant === 'd') throw new Error(`fail ${tenant}`)
        },
        { concurrency: 2 },
      )
      .catch((e: unknown) => e)
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd'])
    expect(peak).toBe(2)
    expect(error).toBeInstanceOf(AggregateError)
    expect((error as AggregateError).errors.map((e: Error) => e.message).sort()).toEqual([
      'fail b',
      'fail d',
    ])
  })

  it('returns results in tenant order and works from inside a tenant', async () => {
    const t = tenancyWith(['a', 'b'])
    const results = await t.withTenant('a', () =>
      t.withEachTenant((tenant) => tenant.toUpperCase()),
    )
    expect(results).toEqual(['A', 'B'])
  })
})
