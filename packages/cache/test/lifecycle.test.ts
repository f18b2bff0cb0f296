import { TenantLifecycle } from '@tenantry/context'
import { describe, expect, it } from 'vitest'
import { attachCache, LRUCache, tenantKey } from '../src/index.js'

describe('attachCache', () => {
  it('deletes only the tenant keys of shared caches on destroyed, creating and restored', async () => {
    for (const event of ['destroyed', 'creating', 'restored'] as const) {
      const lifecycle = new TenantLifecycle()
      const lru = new LRUCache<string, string>({ max: 100 })
      const map = new Map<string, string>()
      const prefixes: string[] = []
      attachCache({ lifecycle }, { caches: [lru, map], deletePrefix: (p) => prefixes.push(p) })
      for (const c of [lru, map]) {
        c.set(tenantKey('page', 'acme'), 'a')
        c.set(tenantKey('page', 'acme-2'), 'b') // shares the text "acme" but not the prefix
        c.set(tenantKey('page', 'a:b'), 'c')
      }
      await lifecycle.emit(
        event,
        event === 'restored' ? { tenant: 'acme', from: 'x' } : { tenant: 'acme' },
      )
      for (const c of [lru, map])
        expect([...c.keys()].sort()).toEqual(
          [tenantKey('page', 'a:b'), tenantKey('page', 'acme-2')].sort(),
        )
      expect(prefixes).toEqual(['acme:'])
    }
  })
})
