import { createTenancy, tenancy as shared, type Tenancy, withTenant } from '@tenantry/context'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CacheKeyError,
  cacheResource,
  type LRUCache,
  parseTenantKey,
  tenantKey,
  tenantKeyPrefix,
} from '../src/index.js'

let tenancy: Tenancy
beforeEach(() => {
  tenancy = createTenancy()
})
afterEach(async () => {
  await tenancy.reset()
  await shared.reset()
})

describe('tenantKey', () => {
  it('prefixes with the current tenant', async () => {
    expect(await withTenant('acme', () => tenantKey('page:home'))).toBe('acme:page:home')
    expect(tenantKey('x', 'globex')).toBe('globex:x')
    expect(() => tenantKey('x')).toThrow(expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }))
  })

  it('escapes the delimiter so tenant a:b never collides with tenant a', () => {
    expect(tenantKey('c', 'a:b')).toBe('a%3Ab:c')
    expect(tenantKey('b:c', 'a')).toBe('a:b:c')
    expect(tenantKey('c', 'a:b')).not.toBe(tenantKey('b:c', 'a'))
    expect(tenantKey('x', 'a%3Ab')).not.toBe(tenantKey('x', 'a:b'))
    expect(parseTenantKey(tenantKey('b:c', 'a:b%'))).toEqual({ tenant: 'a:b%', key: 'b:c' })
    expect(tenantKeyPrefix('a:b')).toBe('a%3Ab:')
  })

  it('works with a naming rule that allows the delimiter, via the current tenant', async () => {
    const loose = createTenancy({ naming: { rule: () => true } })
    try {
      const keys = await Promise.all([
        loose.withTenant('a:b', () => tenantKey('c', loose.requireTenant())),
        loose.withTenant('a', () => tenantKey('b:c', loose.requireTenant())),
      ])
      expect(new Set(keys).size).toBe(2)
    } finally {
      await loose.reset()
    }
  })

  it('is injective over many random (tenant, key) pairs (property test)', () => {
    // A tiny seeded PRNG, so a failure is reproducible; the alphabet is biased towards the
    // characters that matter (delimiter, escape character, hex digits of the escapes).
    let seed = 0x9e3779b9
    const rand = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) / 2 ** 32
    }
    const alphabet = [':', '%', '3', 'A', 'a', '2', '5', 'b', '\\', '']
    const str = (min: number) => {
      const n = min + Math.floor(rand() * 7)
      let s = ''
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)]
      return s || 'a'.repeat(min)
    }
    const seen = new Map<string, string>()
    for (let i = 0; i < 50_000; i++) {
      const tenant = str(1)
      const key = rand() < 0.1 ? '' : str(0)
      const out = tenantKey(key, tenant)
      const pair = JSON.stringify([tenant, key])
      const before = seen.get(out)
      if (before !== undefined && before !== pair)
        throw new Error(`collision: ${before} and ${pair} both give ${JSON.stringify(out)}`)
      seen.set(out, pair)
      expect(parseTenantKey(out)).toEqual({ tenant, key })
    }
    expect(seen.size).toBeGreaterThan(10_000)
  })

  it('refuses an empty tenant and non-string keys', () => {
    expect(() => tenantKey('x', '')).toThrow(CacheKeyError)
    expect(() => tenantKey(1 as unknown as string, 'a')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_CACHE_KEY' }),
    )
    expect(() => parseTenantKey('nodelimiter')).toThrow(CacheKeyError)
  })
})

describe('cacheResource', () => {
  const cache = () => tenancy.getResource('cache') as LRUCache<string, string>

  it("gives each tenant its own LRU, bounded by max, that others can't see or evict", async () => {
    tenancy.defineResource('cache', cacheResource<string>({ max: 3 }))
    await tenancy.withTenant('acme', () => cache().set('k', 'acme value'))
    await tenancy.withTenant('globex', () => {
      expect(cache().get('k')).toBeUndefined()
      // globex filling its cache does not evict acme's entry
      for (let i = 0; i < 10; i++) cache().set(`g${i}`, 'x')
      expect(cache().size).toBe(3)
    })
    expect(await tenancy.withTenant('acme', () => cache().get('k'))).toBe('acme value')
  })

  it('expires entries after ttl (driven by an injected clock, no sleeping)', async () => {
    let now = 1_000
    tenancy.defineResource(
      'cache',
      cacheResource<string>({ max: 10, ttl: 100, ttlResolution: 0, perf: { now: () => now } }),
    )
    await tenancy.withTenant('acme', () => {
      cache().set('k', 'v')
      now += 99
      expect(cache().get('k')).toBe('v')
      now += 2
      expect(cache().get('k')).toBeUndefined()
    })
  })

  it("is cleared when the tenant is refreshed or released; other tenants' entries stay", async () => {
    tenancy.defineResource('cache', cacheResource<string>({ max: 10 }))
    for (const t of ['acme', 'globex']) await tenancy.withTenant(t, () => cache().set('k', t))
    const old = await tenancy.withTenant('acme', () => cache())
    await tenancy.refreshTenant('acme', ['cache'])
    expect(old.size).toBe(0)
    expect(await tenancy.withTenant('acme', () => cache().get('k'))).toBeUndefined()
    expect(await tenancy.withTenant('globex', () => cache().get('k'))).toBe('globex')
    await tenancy.releaseTenant('globex')
    expect(await tenancy.withTenant('globex', () => cache().get('k'))).toBeUndefined()
  })

  it('is tenant-only unless fallback is asked for', () => {
    tenancy.defineResource('cache', cacheResource({ max: 10 }))
    expect(() => cache()).toThrow(expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }))
    tenancy.defineResource('cache', cacheResource({ max: 10, fallback: true }))
    cache().set('global', 'x')
    expect(cache().get('global')).toBe('x')
  })
})
