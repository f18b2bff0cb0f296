import { ResourceNotReadyError, TenantInUseError } from '@tenantry/context'
import { describe, expect, it } from 'vitest'
import { deferred, randomTurns, tenancyWith, tenantNames } from './helpers.ts'

/** A resource that records creations and disposals per tenant. */
function counting() {
  const created: string[] = []
  const disposed: string[] = []
  let seq = 0
  return {
    created,
    disposed,
    def: {
      create: (tenant: string) => {
        created.push(tenant)
        return { tenant, id: ++seq, open: true }
      },
      dispose: (i: { tenant: string; open: boolean }) => {
        i.open = false
        disposed.push(i.tenant)
      },
    },
  }
}

describe('per-tenant instances', () => {
  it('creates each tenant instance once and caches it across scopes', async () => {
    const t = tenancyWith(['a', 'b'])
    const c = counting()
    t.defineResource('db', c.def)
    const a1 = await t.withTenant('a', () => t.getResource('db'))
    const a2 = await t.withTenant('a', () => t.getResource('db'))
    const b1 = await t.withTenant('b', () => t.getResource('db'))
    expect(a1).toBe(a2)
    expect(b1).not.toBe(a1)
    expect(c.created).toEqual(['a', 'b'])
    expect(c.disposed).toEqual([])
  })

  it('creates one instance under concurrent first access of an async factory', async () => {
    const t = tenancyWith(['a'])
    const gate = deferred()
    let calls = 0
    t.defineResource('db', {
      eager: true,
      create: async (tenant) => {
        calls++
        await gate.promise
        return { tenant }
      },
    })
    const all = Promise.all(
      Array.from({ length: 20 }, () => t.withTenant('a', () => t.getResource('db'))),
    )
    gate.resolve()
    const instances = await all
    expect(calls).toBe(1)
    expect(new Set(instances).size).toBe(1)
  })

  it('does not cache a failed creation, and the next scope retries', async () => {
    const t = tenancyWith(['a'])
    let attempt = 0
    t.defineResource('db', {
      eager: true,
      create: async () => {
        attempt++
        if (attempt === 1) throw new Error('disk on fire')
        return { attempt }
      },
    })
    await expect(t.withTenant('a', () => 1)).rejects.toThrow('disk on fire')
    expect(t.cachedCount('db')).toBe(0)
    await expect(t.withTenant('a', () => t.getResource('db'))).resolves.toEqual({ attempt: 2 })
  })

  it('rejects a lazy async factory with ResourceNotReadyError telling to make it eager', async () => {
    const t = tenancyWith(['a'])
    const disposed: unknown[] = []
    t.defineResource('db', { create: async () => ({}), dispose: (i) => void disposed.push(i) })
    await expect(t.withTenant('a', () => t.getResource('db'))).rejects.toBeInstanceOf(
      ResourceNotReadyError,
    )
    // Every time, not only until the first creation settles; the stray instances are disposed.
    await expect(t.withTenant('a', () => t.getResource('db'))).rejects.toThrow(/eager: true/)
    await t.close()
    expect(disposed).toHaveLength(2)
    expect(t.cachedCount('db')).toBe(0)
  })

  it('lets a factory use the getters of resources defined before it', async () => {
    const t = tenancyWith(['a'])
    t.defineResource('settings', {
      eager: true,
      create: async (tenant) => ({ title: `T-${tenant}` }),
    })
    t.defineResource('renderer', {
      create: () => ({ title: (t.getResource('settings') as { title: string }).title }),
    })
    await expect(t.withTenant('a', () => t.getResource('renderer'))).resolves.toEqual({
      title: 'T-a',
    })
  })
})

describe('LRU cap and eviction', () => {
  it('evicts the least recently used idle instance above the cap and disposes it', async () => {
    const t = tenancyWith(tenantNames(10))
    const c = counting()
    t.defineResource('db', { ...c.def, cap: 3 })
    for (const name of ['t000', 't001', 't002']) await t.withTenant(name, () => t.getResource('db'))
    await t.withTenant('t000', () => t.getResource('db')) // t000 is now the most recent
    await t.withTenant('t003', () => t.getResource('db'))
    expect(c.disposed).toEqual(['t001'])
    expect(t.cachedCount('db')).toBe(3)
  })

  it('never disposes an instance held by an active scope, even under pressure', async () => {
    const t = tenancyWith(tenantNames(50))
    const c = counting()
    t.defineResource('db', { ...c.def, cap: 2 })
    const hold = deferred()
    const held = deferred<{ open: boolean }>()
    const holder = t.withTenant('t000', async () => {
      held.resolve(t.getResource('db') as { open: boolean })
      await hold.promise
      return (t.getResource('db') as { open: boolean }).open
    })
    const instance = await held.promise
    for (const name of tenantNames(50).slice(1)) await t.withTenant(name, () => t.getResource('db'))
    expect(instance.open).toBe(true)
    expect(c.disposed).not.toContain('t000')
    hold.resolve()
    expect(await holder).toBe(true)
    // Released and over the cap: now it may go.
    expect(t.cachedCount('db')).toBeLessThanOrEqual(2)
    expect(c.disposed.filter((x) => x === 't000').length).toBeLessThanOrEqual(1)
  })

  it('disposes every instance exactly once under random interleaving', async () => {
    const names = tenantNames(30)
    const t = tenancyWith(names)
    const c = counting()
    t.defineResource('db', { ...c.def, cap: 5 })
    await Promise.all(
      Array.from({ length: 600 }, async (_, i) => {
        const name = names[Math.floor(Math.random() * names.length)]!
        await randomTurns(3)
        await t.withTenant(name, async () => {
          const db = t.getResource('db') as { tenant: string; open: boolean }
          await randomTurns(3)
          expect(db.open).toBe(true)
          expect(db.tenant).toBe(name)
          if (i % 50 === 0) await t.refreshTenant(name)
          expect((t.getResource('db') as { open: boolean }).open).toBe(true)
        })
      }),
    )
    await t.close()
    const counts = new Map<string, number>()
    for (const n of c.created) counts.set(n, (counts.get(n) ?? 0) + 1)
    for (const n of c.disposed) counts.set(n, (counts.get(n) ?? 0) - 1)
    expect([...counts.values()].every((v) => v === 0)).toBe(true)
    expect(c.disposed.length).toBe(c.created.length)
  })

  it('reaps instances idle past idleTimeoutMs', async () => {
    const t = tenancyWith(['a', 'b'])
    const c = counting()
    t.defineResource('db', { ...c.def, idleTimeoutMs: 60_000 })
    await t.withTenant('a', () => t.getResource('db'))
    await t.withTenant('b', () => t.getResource('db'))
    // Drive the reaper directly with a clock 61 s later: no waiting in tests.
    const cache = (
      t as unknown as {
        registry: { caches: Map<string, { reap(i: number, now: number): void }> }
      }
    ).registry.caches.get('db')!
    cache.reap(60_000, Date.now() + 61_000)
    expect(c.disposed.sort()).toEqual(['a', 'b'])
    expect(t.cachedCount('db')).toBe(0)
  })
})

describe('refresh and release', () => {
  it('refreshTenant disposes idle instances now and in-use ones when their scope ends', async () => {
    const t = tenancyWith(['a', 'b'])
    const c = counting()
    t.defineResource('db', c.def)
    const first = await t.withTenant('a', () => t.getResource('db'))
    await t.withTenant('b', () => t.getResource('db'))
    await t.refreshTenant('a')
    expect(c.disposed).toEqual(['a'])
    const second = await t.withTenant('a', async () => {
      const inUse = t.getResource('db')
      await t.refreshTenant('a')
      // Code already running keeps its instance, and it is still open.
      expect(t.getResource('db')).toBe(inUse)
      expect((inUse as { open: boolean }).open).toBe(true)
      return inUse
    })
    expect(second).not.toBe(first)
    expect(c.disposed).toEqual(['a', 'a'])
    expect(c.created).toEqual(['a', 'b', 'a'])
  })

  it('a scope older than a refresh builds uncached instances (no stale renderer is cached)', async () => {
    const t = tenancyWith(['a'])
    let version = 1
    const built: number[] = []
    const disposed: number[] = []
    t.defineResource('settings', { eager: true, create: async () => ({ version }) })
    t.defineResource('renderer', {
      create: () => {
        const v = (t.getResource('settings') as { version: number }).version
        built.push(v)
        return { version: v }
      },
      dispose: (r) => void disposed.push((r as { version: number }).version),
    })
    const oldEntered = deferred()
    const refreshed = deferred()
    const old = t.withTenant('a', async () => {
      oldEntered.resolve()
      await refreshed.promise
      // First use of the renderer in an old scope, after the settings changed.
      return (t.getResource('renderer') as { version: number }).version
    })
    await oldEntered.promise
    version = 2
    await t.refreshTenant('a')
    refreshed.resolve()
    expect(await old).toBe(1) // the old request stays consistent with its own settings...
    expect(disposed).toEqual([1]) // ...but what it built was not cached,
    const fresh = await t.withTenant('a', () => t.getResource('renderer'))
    expect(fresh).toEqual({ version: 2 }) // so the next request builds from the new settings.
    expect(built).toEqual([1, 2])
  })

  it('refreshTenant can target some resources only', async () => {
    const t = tenancyWith(['a'])
    const db = counting()
    const renderer = counting()
    t.defineResource('db', db.def)
    t.defineResource('renderer', renderer.def)
    await t.withTenant('a', () => [t.getResource('db'), t.getResource('renderer')])
    await t.refreshTenant('a', ['renderer'])
    expect(renderer.disposed).toEqual(['a'])
    expect(db.disposed).toEqual([])
  })

  it('releaseTenant waits for scopes in flight, and times out with TenantInUseError', async () => {
    const t = tenancyWith(['a'])
    const c = counting()
    t.defineResource('db', c.def)
    const hold = deferred()
    const entered = deferred()
    const scope = t.withTenant('a', async () => {
      t.getResource('db')
      entered.resolve()
      await hold.promise
    })
    await entered.promise
    await expect(t.releaseTenant('a', { timeoutMs: 20 })).rejects.toBeInstanceOf(TenantInUseError)
    const released = t.releaseTenant('a', { timeoutMs: 5_000 })
    hold.resolve()
    await released
    await scope
    expect(c.disposed).toEqual(['a'])
  })

  it('releaseTenant from inside the same tenant fails at once instead of deadlocking', async () => {
    const t = tenancyWith(['a'])
    t.defineResource('db', counting().def)
    await expect(
      t.withTenant('a', () => {
        t.getResource('db')
        return t.releaseTenant('a')
      }),
    ).rejects.toBeInstanceOf(TenantInUseError)
  })

  it('hands out instances after the scope ended without pinning them', async () => {
    const t = tenancyWith(['a'])
    const c = counting()
    t.defineResource('db', c.def)
    let late: (() => unknown) | undefined
    await t.withTenant('a', () => {
      late = () => t.getResource('db')
    })
    // A callback stored in the scope and run after it: still the tenant's instance.
    const run = await t.withTenant('a', () => t.snapshot())
    const instance = run(() => late!())
    expect(instance).toMatchObject({ tenant: 'a', open: true })
    await t.releaseTenant('a', { timeoutMs: 100 })
    expect(c.disposed).toEqual(['a'])
  })

  it('redefining a resource disposes the old instances; close disposes fallbacks too', async () => {
    const t = tenancyWith(['a'])
    const first = counting()
    t.defineResource('db', first.def)
    await t.withTenant('a', () => t.getResource('db'))
    t.defineResource('db', counting().def)
    expect(first.disposed).toEqual(['a'])
    const fallbackDisposed: unknown[] = []
    t.defineResource('mail', {
      fallback: () => 'global',
      dispose: (v, tenant) => {
        fallbackDisposed.push([v, tenant])
      },
    })
    t.getResource('mail')
    await t.close()
    expect(fallbackDisposed).toEqual([['global', undefined]])
  })

  it('reports dispose errors to onError and still disposes the rest', async () => {
    const errors: unknown[] = []
    const t = tenancyWith(['a', 'b'], { onError: (e) => errors.push(e) })
    const disposed: string[] = []
    t.defineResource('db', {
      create: (tenant) => tenant,
      dispose: async (tenant) => {
        disposed.push(tenant as string)
        if (tenant === 'a') throw new Error('close failed')
      },
    })
    await t.withTenant('a', () => t.getResource('db'))
    await t.withTenant('b', () => t.getResource('db'))
    await t.close()
    expect(disposed.sort()).toEqual(['a', 'b'])
    expect(errors).toHaveLength(1)
    expect(String(errors[0])).toMatch(/close failed/)
  })
})

describe('enterScope: a scope closed by an event', () => {
  it('opens synchronously when warm, runs code in the tenant, and holds until close()', async () => {
    const t = tenancyWith(['a'])
    const c = counting()
    t.defineResource('db', { ...c.def, eager: true })
    const scope = t.enterScope('a')
    if (scope instanceof Promise) throw new Error('expected a synchronous scope')
    expect(scope.tenant).toBe('a')
    expect(t.currentTenant()).toBeUndefined() // nothing entered by opening it
    const db = scope.run(() => t.getResource('db')) as { open: boolean }
    expect(await scope.run(async () => t.currentTenant())).toBe('a')
    await expect(t.releaseTenant('a', { timeoutMs: 20 })).rejects.toBeInstanceOf(TenantInUseError)
    expect(db.open).toBe(true)
    scope.close()
    scope.close() // idempotent: released once
    await t.releaseTenant('a', { timeoutMs: 100 })
    expect(c.disposed).toEqual(['a'])
  })

  it('keeps withTenant checks: unknown tenants, bad names, the switch guard', async () => {
    const t = tenancyWith(['a', 'b'])
    expect(() => t.enterScope('ghost')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_UNKNOWN_TENANT' }),
    )
    expect(() => t.enterScope('../x')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_INVALID_TENANT_NAME' }),
    )
    await t.withTenant('a', () => {
      expect(() => t.enterScope('b')).toThrow(
        expect.objectContaining({ code: 'TENANTRY_TENANT_SWITCH' }),
      )
      const same = t.enterScope('a') as { run<R>(fn: () => R): R; close(): void }
      expect(same.run(() => t.currentTenant())).toBe('a')
      same.close()
      const other = t.enterScope('b', { allowSwitch: true }) as {
        run<R>(fn: () => R): R
        close(): void
      }
      expect(other.run(() => t.currentTenant())).toBe('b')
      other.close()
    })
    t.configure({ tenants: { exists: async (n) => n === 'a' } })
    await expect(Promise.resolve(t.enterScope('a')).then((s) => s.tenant)).resolves.toBe('a')
    await expect(Promise.resolve().then(() => t.enterScope('b'))).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
  })

  it('opens a cold eager resource inside the tenant after warm ones taken before it', async () => {
    const t = tenancyWith(['a'])
    let dbs = 0
    t.defineResource('db', { eager: true, create: async () => ({ id: ++dbs }) })
    const seen: unknown[] = []
    t.defineResource('settings', {
      eager: true,
      create: async (tenant) => {
        // Its factory reads the db getter: the warm db must already be in the scope.
        seen.push([tenant, t.currentTenant(), t.getResource('db')])
        return { tenant }
      },
    })
    await t.withTenant('a', () => t.getResource('settings'))
    await t.refreshTenant('a', ['settings'])
    const result = await t.withTenant('a', () => [t.getResource('db'), t.getResource('settings')])
    expect(result).toEqual([{ id: 1 }, { tenant: 'a' }])
    expect(seen).toEqual([
      ['a', 'a', { id: 1 }],
      ['a', 'a', { id: 1 }],
    ])
    // Both holds were released when the scope ended: nothing is pinned.
    await t.releaseTenant('a', { timeoutMs: 100 })
    expect(t.cachedCount('db') + t.cachedCount('settings')).toBe(0)
  })

  it('waits for a cold eager resource, and releases what it took when opening fails', async () => {
    const t = tenancyWith(['a'])
    const gate = deferred()
    let fail = false
    t.defineResource('db', { eager: true, create: async () => ({ id: 1 }) })
    t.defineResource('settings', {
      eager: true,
      create: async () => {
        await gate.promise
        if (fail) throw new Error('settings table missing')
        return { title: 'x' }
      },
    })
    const opening = t.enterScope('a')
    expect(opening).toBeInstanceOf(Promise)
    gate.resolve()
    const scope = await opening
    expect(scope.run(() => t.getResource('settings'))).toEqual({ title: 'x' })
    scope.close()
    await t.refreshTenant('a')
    fail = true
    await expect(t.enterScope('a')).rejects.toThrow('settings table missing')
    // The db hold taken before the failure was released: nothing is pinned.
    await t.releaseTenant('a', { timeoutMs: 100 })
    expect(t.cachedCount('db')).toBe(0)
  })
})
