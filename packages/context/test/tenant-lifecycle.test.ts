import { describe, expect, it } from 'vitest'
import { LifecycleListenerError, TenantCleanupError, TenantLifecycle } from '../src/index.js'

describe('TenantLifecycle', () => {
  it('runs listeners in order, each awaited before the next', async () => {
    const lc = new TenantLifecycle()
    const seen: string[] = []
    lc.on('created', async ({ tenant }) => {
      await new Promise((r) => setImmediate(r))
      seen.push(`a:${tenant}`)
    })
    lc.on('created', ({ tenant }) => {
      seen.push(`b:${tenant}`)
    })
    await lc.emit('created', { tenant: 'acme' })
    expect(seen).toEqual(['a:acme', 'b:acme'])
  })

  it('creating and destroying stop at the first failure', async () => {
    for (const event of ['creating', 'destroying'] as const) {
      const lc = new TenantLifecycle()
      const seen: string[] = []
      lc.on(event, () => {
        throw new Error('disk full')
      })
      lc.on(event, () => {
        seen.push('second')
      })
      const error = await lc.emit(event, { tenant: 'acme' }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LifecycleListenerError)
      expect((error as LifecycleListenerError).tenant).toBe('acme')
      expect((error as Error).message).toContain('disk full')
      expect(seen).toEqual([])
    }
  })

  it('destroyed runs every listener, then throws one TenantCleanupError with all failures', async () => {
    const lc = new TenantLifecycle()
    const seen: string[] = []
    lc.on('destroyed', () => {
      throw new Error('files busy')
    })
    lc.on('destroyed', () => {
      seen.push('jobs removed')
    })
    lc.on('destroyed', async () => {
      throw new Error('redis down')
    })
    const error = (await lc
      .emit('destroyed', { tenant: 'acme' })
      .catch((e) => e)) as TenantCleanupError
    expect(error).toBeInstanceOf(TenantCleanupError)
    expect(error.code).toBe('TENANTRY_TENANT_CLEANUP')
    expect(error.errors.map((e) => (e as Error).message)).toEqual(['files busy', 'redis down'])
    expect(seen).toEqual(['jobs removed'])
  })

  it('on() returns a remover, and file sets are unique by name', async () => {
    const lc = new TenantLifecycle()
    let n = 0
    const off = lc.on('migrated', () => {
      n++
    })
    await lc.emit('migrated', { tenant: 't', applied: ['001'] })
    off()
    await lc.emit('migrated', { tenant: 't', applied: ['002'] })
    expect(n).toBe(1)
    const remove = lc.addFiles({ name: 'storage', dir: (t) => `/data/${t}` })
    expect(() => lc.addFiles({ name: 'storage', dir: (t) => t })).toThrow(/already registered/)
    expect(lc.files().map((s) => s.dir('acme'))).toEqual(['/data/acme'])
    remove()
    expect(lc.files()).toEqual([])
  })
})
